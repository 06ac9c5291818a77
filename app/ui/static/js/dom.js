// Small helpers for building the pages: elements from data (never from HTML strings), and formatting.

/** `h("button", {class: "quiet", onclick: go}, "Reset")`: an element with properties, listeners, children. */
export function h(tag, props = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "class") element.className = value;
    else if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else if (name in element && !name.includes("-") && name !== "list" && name !== "form") element[name] = value;
    else element.setAttribute(name, value === true ? "" : String(value));
  }
  append(element, children);
  return element;
}

function append(element, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : String(child));
  }
}

export function clear(element) {
  element.replaceChildren();
  return element;
}

/** A table: `columns` are `[heading, className?]`, rows are arrays of cells (text or elements). */
export function table(columns, rows, { caption } = {}) {
  return h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      {},
      caption ? h("caption", { class: "muted small" }, caption) : null,
      h("thead", {}, h("tr", {}, columns.map(([heading, cls]) => h("th", { class: cls, scope: "col" }, heading)))),
      h("tbody", {}, rows),
    ),
  );
}

export function cells(columns, values) {
  return values.map((value, index) => h("td", { class: columns[index] && columns[index][1] }, value));
}

const STATES = { closed: "good", "half-open": "warn", open: "bad" };

export function stateBadge(state) {
  return h("span", { class: `badge ${STATES[state] || "plain"}` }, state || "unknown");
}

export function statusBadge(status) {
  const kind = status >= 500 ? "bad" : status >= 400 ? "warn" : "good";
  return h("span", { class: `badge ${kind}` }, String(status));
}

export const format = {
  number(value) {
    return value === null || value === undefined ? "–" : Number(value).toLocaleString("en");
  },
  decimal(value, digits = 2) {
    if (value === null || value === undefined) return "–";
    return Number(value).toLocaleString("en", { maximumFractionDigits: digits, minimumFractionDigits: 0 });
  },
  ms(value) {
    if (value === null || value === undefined) return "–";
    return value >= 1000 ? `${(value / 1000).toFixed(value >= 10000 ? 0 : 1)} s` : `${Math.round(value * 10) / 10} ms`;
  },
  percent(value) {
    return value === null || value === undefined ? "–" : `${(value * 100).toFixed(value > 0 && value < 0.01 ? 2 : 1)}%`;
  },
  clock(at) {
    return new Date(at * 1000).toLocaleTimeString("en-GB", { hour12: false });
  },
  ago(at) {
    const seconds = Math.max(0, Date.now() / 1000 - at);
    if (seconds < 60) return `${Math.round(seconds)} s ago`;
    if (seconds < 3600) return `${Math.round(seconds / 60)} min ago`;
    return `${Math.round(seconds / 3600)} h ago`;
  },
  tokens(record) {
    if (record.prompt_tokens == null && record.completion_tokens == null) return "–";
    return `${record.prompt_tokens ?? 0} / ${record.completion_tokens ?? 0}`;
  },
};

/** Pretty JSON for a <pre>. */
export function pretty(value) {
  return JSON.stringify(value, null, 2);
}

/**
 * Replace `container`'s children with `children`, keeping the keyboard focus where it was: on the new
 * element with the same `data-key` as the one that had it. Live pages re-render every second.
 */
export function replaceKeepingFocus(container, ...children) {
  const focused = document.activeElement;
  const key = focused && container.contains(focused) ? focused.getAttribute("data-key") : null;
  container.replaceChildren(...children);
  if (key !== null) {
    const again = [...container.querySelectorAll("[data-key]")].find((each) => each.getAttribute("data-key") === key);
    if (again) again.focus();
  }
}
