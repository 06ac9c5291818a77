// Tools: the registry's toolsets and tools with their schemas, a form made from each tool's schema to
// invoke it, and the live log of invocations (from the dashboard's stream).

import { api } from "./api.js";
import { cells, format, h, pretty } from "./dom.js";
import { schemaForm } from "./schema-form.js";

const LOG_COLUMNS = [["Time"], ["Tool"], ["Outcome"], ["Duration", "num"], ["Source"], ["Key"], ["Request id"]];
const SHOWN = 100;

export default {
  title: "Tools",
  mount(root, { live }) {
    const toolsets = h("div", {}, h("p", { class: "muted" }, "Loading the registry…"));
    const log = h("tbody", { id: "invocation-rows" });
    root.append(
      h("h1", { tabindex: -1 }, "Tools"),
      toolsets,
      h(
        "section",
        { class: "panel", "aria-labelledby": "invocations-title" },
        h("h2", { id: "invocations-title" }, "Invocations"),
        h(
          "div",
          { class: "table-wrap" },
          h("table", {}, h("thead", {}, h("tr", {}, LOG_COLUMNS.map(([heading, cls]) => h("th", { class: cls, scope: "col" }, heading)))), log),
        ),
      ),
    );

    const renderLog = () => {
      log.replaceChildren(
        ...live.invocations.slice(0, SHOWN).map((invocation) =>
          h(
            "tr",
            { "data-invocation": invocation.id },
            cells(LOG_COLUMNS, [
              format.clock(invocation.created_at),
              h("span", { class: "mono" }, invocation.tool),
              h("span", { class: `badge ${invocation.is_error ? "bad" : "good"}` }, invocation.outcome),
              format.ms(invocation.duration_ms),
              invocation.source,
              invocation.key || "–",
              h("span", { class: "mono" }, (invocation.request_id || "").slice(0, 12)),
            ]),
          ),
        ),
      );
    };

    api("/admin/tools")
      .then((found) => {
        toolsets.replaceChildren(
          ...(found.data.length
            ? found.data.map(renderToolset)
            : [h("p", { class: "panel muted" }, "No toolsets are registered: see the README's Tools section.")]),
        );
      })
      .catch((error) => toolsets.replaceChildren(h("p", { class: "error" }, `Could not read the registry: ${error.message}`)));
    api("/admin/tools/invocations?limit=100")
      .then((found) => {
        // What the stream brought meanwhile is newer than this listing.
        const known = new Set(live.invocations.map((each) => each.id));
        live.invocations.push(...found.data.filter((each) => !known.has(each.id)));
        live.invocations.sort((a, b) => b.created_at - a.created_at);
        renderLog();
      })
      .catch(() => {});

    live.addEventListener("invocation", renderLog);
    renderLog();
    return () => live.removeEventListener("invocation", renderLog);
  },
};

function renderToolset(toolset) {
  return h(
    "section",
    { class: "panel", "data-toolset": toolset.name },
    h("h2", {}, toolset.name, " ", h("span", { class: "badge plain" }, toolset.kind), " ", h("span", { class: "badge plain" }, toolset.source)),
    toolset.description ? h("p", {}, toolset.description) : null,
    toolset.error ? h("p", { class: "error" }, `Its tools could not be found: ${toolset.error}`) : null,
    toolset.tools.map(renderTool),
    toolset.tools.length ? null : h("p", { class: "muted" }, "No tools."),
  );
}

function renderTool(tool) {
  const form = schemaForm(tool.parameters, `tool-${tool.name}`);
  const result = h("div", { "aria-live": "polite" });
  const send = h("button", { type: "submit" }, "Invoke");
  const invoke = async (event) => {
    event.preventDefault();
    let args;
    try {
      args = form.value();
    } catch (error) {
      result.replaceChildren(h("p", { class: "error" }, error.message));
      return;
    }
    send.disabled = true;
    result.replaceChildren(h("p", { class: "muted" }, "Invoking…"));
    try {
      const answer = await api(`/admin/tools/${encodeURIComponent(tool.name)}/invoke`, { method: "POST", body: { arguments: args } });
      result.replaceChildren(
        h(
          "p",
          {},
          h("span", { class: `badge ${answer.is_error ? "bad" : "good"}` }, answer.is_error ? "tool error" : "success"),
          ` in ${format.ms(answer.duration_ms)}${answer.truncated ? " (truncated)" : ""}`,
        ),
        h("pre", { class: "tool-result" }, answer.content.map((part) => (part.type === "text" ? part.text : `[${part.type} ${part.mime_type || ""}]`)).join("\n")),
      );
    } catch (error) {
      result.replaceChildren(h("p", { class: "error" }, `${error.message}${error.param ? ` (${error.param})` : ""}`));
    } finally {
      send.disabled = false;
    }
  };
  return h(
    "details",
    { class: "panel", "data-tool": tool.name },
    h("summary", {}, h("strong", { class: "mono" }, tool.name), tool.description ? ` — ${tool.description}` : ""),
    h("details", {}, h("summary", {}, "Schema"), h("pre", {}, pretty({ parameters: tool.parameters, returns: tool.returns }))),
    h("form", { onsubmit: invoke, "aria-label": `Invoke ${tool.name}` }, form.element, send),
    result,
  );
}
