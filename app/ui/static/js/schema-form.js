// A form for a tool's arguments, made from its JSON Schema: a field per property, by its type.
//
//   string (with enum: a choice; with format date, date-time, email or uri: that kind of input)
//   integer, number          a number input, with the schema's bounds
//   boolean                  a checkbox
//   object with properties   a group of fields, nested
//   array of strings or numbers   one value per line
//   anything else (anyOf, arrays of objects, no type)   JSON, checked when the form is sent
//
// `value()` gives the arguments object, or throws an Error naming the field that is wrong.

import { h } from "./dom.js";

const FORMATS = { date: "date", "date-time": "datetime-local", email: "email", uri: "url" };

export function schemaForm(schema, idPrefix) {
  const root = objectFields(schema || {}, [], idPrefix);
  return { element: root.element, value: () => root.read() };
}

function typeOf(schema) {
  const type = schema.type;
  if (Array.isArray(type)) return type.find((each) => each !== "null") || "null";
  if (type) return type;
  if (schema.properties) return "object";
  if (schema.enum) return "enum";
  return null;
}

function objectFields(schema, path, idPrefix) {
  const required = new Set(schema.required || []);
  const fields = Object.entries(schema.properties || {}).map(([name, property]) =>
    field(property || {}, [...path, name], required.has(name), idPrefix),
  );
  const element = h(
    "div",
    {},
    fields.map((each) => each.element),
    fields.length ? null : h("p", { class: "muted small" }, "This tool takes no arguments."),
  );
  return {
    element,
    read() {
      const value = {};
      for (const each of fields) {
        const read = each.read();
        if (read !== undefined) value[each.name] = read;
      }
      return value;
    },
  };
}

function field(schema, path, required, idPrefix) {
  const name = path[path.length - 1];
  const id = `${idPrefix}-${path.join("-")}`.replace(/[^A-Za-z0-9_-]/g, "_");
  const hintId = `${id}-hint`;
  const hint = schema.description ? h("span", { class: "hint", id: hintId }, schema.description) : null;
  const label = h("label", { for: id }, name, required ? h("span", { class: "required", "aria-hidden": "true" }, "*") : null);
  const common = { id, name: path.join("."), required, "aria-describedby": hint ? hintId : undefined };
  const type = schema.enum ? "enum" : typeOf(schema);

  if (type === "object" && schema.properties) {
    const inner = objectFields(schema, path, idPrefix);
    return {
      name,
      element: h("fieldset", {}, h("legend", {}, name), hint, inner.element),
      read: () => {
        const value = inner.read();
        return Object.keys(value).length || required ? value : undefined;
      },
    };
  }
  if (type === "enum") {
    const select = h(
      "select",
      common,
      required ? null : h("option", { value: "" }, "(none)"),
      schema.enum.map((option, index) => h("option", { value: String(index) }, JSON.stringify(option).replace(/^"|"$/g, ""))),
    );
    return {
      name,
      element: h("div", { class: "field" }, label, hint, select),
      read: () => (select.value === "" ? undefined : schema.enum[Number(select.value)]),
    };
  }
  if (type === "boolean") {
    const box = h("input", { ...common, type: "checkbox", required: false, checked: schema.default === true });
    return {
      name,
      element: h("div", { class: "field inline" }, box, label, hint),
      read: () => box.checked,
    };
  }
  if (type === "integer" || type === "number") {
    const input = h("input", {
      ...common,
      type: "number",
      step: type === "integer" ? "1" : "any",
      min: schema.minimum,
      max: schema.maximum,
      value: schema.default ?? "",
    });
    return {
      name,
      element: h("div", { class: "field" }, label, hint, input),
      read: () => {
        if (input.value === "") return undefined;
        const number = Number(input.value);
        if (!Number.isFinite(number)) throw new Error(`${path.join(".")} must be a number.`);
        return number;
      },
    };
  }
  if (type === "string") {
    const input = h("input", {
      ...common,
      type: FORMATS[schema.format] || "text",
      value: schema.default ?? "",
      maxlength: schema.maxLength,
      placeholder: schema.examples && schema.examples.length ? String(schema.examples[0]) : undefined,
    });
    return {
      name,
      element: h("div", { class: "field" }, label, hint, input),
      read: () => (input.value === "" && !required ? undefined : input.value),
    };
  }
  const items = schema.items || {};
  if (type === "array" && ["string", "number", "integer"].includes(typeOf(items))) {
    const area = h("textarea", { ...common, rows: 3, placeholder: "one value per line" });
    return {
      name,
      element: h("div", { class: "field" }, label, hint, area),
      read: () => {
        const lines = area.value.split("\n").map((line) => line.trim()).filter(Boolean);
        if (!lines.length && !required) return undefined;
        if (typeOf(items) === "string") return lines;
        return lines.map((line) => {
          const number = Number(line);
          if (!Number.isFinite(number)) throw new Error(`${path.join(".")}: '${line}' is not a number.`);
          return number;
        });
      },
    };
  }
  const area = h("textarea", { ...common, rows: 3, placeholder: "JSON" });
  return {
    name,
    element: h("div", { class: "field" }, label, hint, area),
    read: () => {
      if (area.value.trim() === "") return undefined;
      try {
        return JSON.parse(area.value);
      } catch {
        throw new Error(`${path.join(".")} must be JSON.`);
      }
    },
  };
}
