// Requests: the live tail of recent requests (every worker's and instance's, as the stream delivers them),
// with filters and a detail view. Records come with the dashboard's one stream, never a fetch per row.

import { api } from "./api.js";
import { cells, format, h, pretty, replaceKeepingFocus, statusBadge } from "./dom.js";

const SHOWN = 300;
const COLUMNS = [
  ["Time"],
  ["Status"],
  ["Endpoint"],
  ["Model"],
  ["Target"],
  ["Key"],
  ["Attempts", "num"],
  ["Duration", "num"],
  ["Tokens in / out", "num"],
  ["Tool calls", "num"],
  ["Tool rounds", "num"],
  ["Stream"],
  ["Request id"],
];
const STATUS = {
  all: () => true,
  ok: (status) => status < 400,
  "4xx": (status) => status >= 400 && status < 500,
  "5xx": (status) => status >= 500,
};

export default {
  title: "Requests",
  mount(root, { live }) {
    let paused = false;
    const search = h("input", { id: "request-search", type: "search", placeholder: "id, model, target, key, endpoint", oninput: () => render() });
    const status = h(
      "select",
      { id: "request-status", onchange: () => render() },
      h("option", { value: "all" }, "any status"),
      h("option", { value: "ok" }, "succeeded"),
      h("option", { value: "4xx" }, "4xx"),
      h("option", { value: "5xx" }, "5xx"),
    );
    const stream = h(
      "select",
      { id: "request-stream", onchange: () => render() },
      h("option", { value: "any" }, "streamed or not"),
      h("option", { value: "yes" }, "streamed"),
      h("option", { value: "no" }, "not streamed"),
    );
    const pause = h("button", { type: "button", class: "quiet", "aria-pressed": "false", onclick: togglePause }, "Pause");
    const summary = h("p", { class: "muted small", id: "request-summary" });
    const body = h("tbody", { id: "request-rows" });
    const detail = h("dialog", { id: "request-detail", "aria-labelledby": "request-detail-title" });

    root.append(
      h("h1", { tabindex: -1 }, "Requests"),
      h(
        "div",
        { class: "panel row" },
        h("label", { for: "request-search" }, "Filter"),
        search,
        h("label", { for: "request-status", class: "sr" }, "Status"),
        status,
        h("label", { for: "request-stream", class: "sr" }, "Stream"),
        stream,
        h("span", { class: "spacer" }),
        pause,
      ),
      summary,
      h(
        "div",
        { class: "panel table-wrap" },
        h(
          "table",
          {},
          h("thead", {}, h("tr", {}, COLUMNS.map(([heading, cls]) => h("th", { class: cls, scope: "col" }, heading)))),
          body,
        ),
      ),
      detail,
    );

    function togglePause() {
      paused = !paused;
      pause.textContent = paused ? "Resume" : "Pause";
      pause.setAttribute("aria-pressed", String(paused));
      if (!paused) render();
    }

    function matches(record, text, statusWanted, streamWanted) {
      if (!STATUS[statusWanted](record.status)) return false;
      if (streamWanted !== "any" && Boolean(record.stream) !== (streamWanted === "yes")) return false;
      if (!text) return true;
      return [record.id, record.model, record.target, record.key, record.path]
        .filter(Boolean)
        .some((value) => value.toLowerCase().includes(text));
    }

    function render() {
      const text = search.value.trim().toLowerCase();
      const found = live.records.filter((record) => matches(record, text, status.value, stream.value));
      const skipped = live.skipped ? `; ${live.skipped} more came too fast to show (GET /admin/requests lists them)` : "";
      summary.textContent = `${found.length} of the ${live.records.length} latest requests${paused ? " (paused)" : ""}${skipped}`;
      replaceKeepingFocus(body, ...found.slice(0, SHOWN).map(row));
    }

    function row(record) {
      const open = () => showDetail(record);
      return h(
        "tr",
        {
          class: "clickable",
          tabindex: 0,
          "data-key": `${record.id}@${record.at}`,
          "data-request-id": record.id,
          "aria-label": `Request ${record.id}, ${record.status}, ${record.model || record.path}`,
          onclick: open,
          onkeydown: (event) => {
            if (event.key === "Enter" || event.key === " ") {
              event.preventDefault();
              open();
            }
          },
        },
        cells(COLUMNS, [
          format.clock(record.at),
          statusBadge(record.status),
          h("span", { class: "mono", title: record.method }, record.path),
          record.model || "–",
          record.target || "–",
          record.key || "–",
          record.attempts ?? 0,
          format.ms(record.duration_ms),
          format.tokens(record),
          record.tool_calls ?? 0,
          record.tool_rounds ?? "–",
          record.stream ? "yes" : "no",
          h("span", { class: "mono" }, record.id.slice(0, 12)),
        ]),
      );
    }

    async function showDetail(record) {
      const facts = [
        ["Request id", record.id],
        ["Ended", `${new Date(record.at * 1000).toLocaleString("en-GB")} (${format.ago(record.at)})`],
        ["Endpoint", `${record.method} ${record.path}`],
        ["Status", String(record.status)],
        ["Model asked for", record.model || "–"],
        ["Served by", record.target || "–"],
        ["Client key", record.key || "– (no key)"],
        ["Upstream attempts", String(record.attempts ?? 0)],
        ["Duration", format.ms(record.duration_ms)],
        ["Tokens in / out", format.tokens(record)],
        ["Tool calls", String(record.tool_calls ?? 0)],
        ["Tool rounds", record.tool_rounds == null ? "–" : String(record.tool_rounds)],
        ["Streamed", record.stream ? "yes" : "no"],
        ["Served on", record.instance || "–"],
      ];
      const content = h("div", {}, h("p", { class: "muted small" }, "Bodies are kept only with [dashboard] log_content = true."));
      detail.replaceChildren(
        h("h2", { id: "request-detail-title" }, "Request"),
        h("dl", { class: "facts" }, facts.map(([name, value]) => [h("dt", {}, name), h("dd", {}, value)])),
        record.error ? h("div", {}, h("h3", {}, "Error"), h("pre", { class: "error" }, record.error)) : null,
        content,
        h("form", { method: "dialog", class: "row" }, h("span", { class: "spacer" }), h("button", { type: "submit" }, "Close")),
      );
      detail.showModal();
      if (live.hello && live.hello.log_content) {
        try {
          const full = await api(`/admin/requests/${encodeURIComponent(record.id)}`);
          content.replaceChildren(
            h("h3", {}, "Request body"),
            h("pre", {}, readable(full.request_body)),
            h("h3", {}, "Answer"),
            h("pre", {}, readable(full.response_body)),
          );
        } catch (error) {
          content.replaceChildren(h("p", { class: "muted" }, `The bodies are gone: ${error.message}`));
        }
      }
    }

    const onRequests = () => {
      if (!paused) render();
    };
    live.addEventListener("requests", onRequests);
    render();
    return () => live.removeEventListener("requests", onRequests);
  },
};

function readable(text) {
  if (text == null) return "(not kept)";
  try {
    return pretty(JSON.parse(text));
  } catch {
    return text;
  }
}
