// Overview: requests per second, error rate, latency and tokens over the last minutes, and each alias's
// targets with their health, updated with every update of the dashboard's stream.

import { api } from "./api.js";
import { lineChart } from "./charts.js";
import { cells, format, h, stateBadge, table } from "./dom.js";
import { groupTargets, why } from "./health.js";

const HEALTH_COLUMNS = [
  ["Target"],
  ["State"],
  ["In flight", "num"],
  ["Latency", "num"],
  ["Success", "num"],
  ["Last error", "why"],
];

export default {
  title: "Overview",
  mount(root, { live }) {
    let aliases = null;
    const figures = h("div", { class: "cards" });
    const charts = h("div", { class: "grid" });
    const health = h("div");
    root.append(
      h("h1", { tabindex: -1 }, "Overview"),
      h("p", { class: "muted small", id: "overview-note" }, "Waiting for the first update…"),
      figures,
      charts,
      h("section", { class: "panel", "aria-labelledby": "health-title" }, h("h2", { id: "health-title" }, "Aliases and targets"), health),
    );

    const render = () => {
      const overview = live.overview;
      if (!overview) return;
      root.querySelector("#overview-note").textContent =
        `Last ${overview.last_seconds} s, every worker${overview.redis ? " and instance" : ""}; charts cover ten minutes in ${overview.bucket_seconds} s steps.`;
      figures.replaceChildren(
        card("Requests per second", format.decimal(overview.requests_per_second, 2), "rps"),
        card("Error rate (5xx)", format.percent(overview.error_rate), "error-rate"),
        card("p50 latency", format.ms(overview.p50_ms), "p50"),
        card("p95 latency", format.ms(overview.p95_ms), "p95"),
        card("Tokens per minute", format.decimal(overview.tokens_per_minute, 0), "tokens"),
        card("Requests, last minute", format.number(overview.requests), "requests"),
        card("Upstream attempts in flight", format.number(overview.in_flight), "in-flight"),
      );
      const series = overview.series;
      const perSecond = (values) => values.map((value) => value / overview.bucket_seconds);
      const span = "−10 min";
      charts.replaceChildren(
        h(
          "section",
          { class: "panel" },
          lineChart({
            title: "Requests per second",
            span,
            format: (value) => format.decimal(value, 2),
            series: [
              { label: "all", values: perSecond(series.requests) },
              { label: "5xx", values: perSecond(series.server_errors) },
              { label: "4xx", values: perSecond(series.client_errors) },
            ],
          }),
        ),
        h(
          "section",
          { class: "panel" },
          lineChart({
            title: "Latency",
            span,
            format: format.ms,
            series: [
              { label: "p50", values: series.p50_ms },
              { label: "p95", values: series.p95_ms, cls: "series-3" },
            ],
          }),
        ),
        h(
          "section",
          { class: "panel" },
          lineChart({
            title: "Tokens per minute",
            span,
            format: (value) => format.decimal(value, 0),
            series: [{ label: "prompt + completion", values: series.tokens.map((value) => (value * 60) / overview.bucket_seconds) }],
          }),
        ),
      );
      const rows = [];
      for (const group of groupTargets(aliases, overview.targets)) {
        if (!group.targets.length) continue;
        const label = group.alias ? `${group.name} · ${group.alias.strategy}` : group.name;
        rows.push(h("tr", { class: "group" }, h("td", { colspan: HEALTH_COLUMNS.length }, label)));
        for (const target of group.targets) {
          const status = target.health;
          rows.push(
            h(
              "tr",
              { "data-target": target.model },
              cells(HEALTH_COLUMNS, [
                h("span", { class: "mono" }, target.model),
                stateBadge(status ? status.state : "closed"),
                status ? format.number(status.in_flight) : "0",
                status ? format.ms(status.latency_ms) : "–",
                status ? format.percent(status.success_rate) : "–",
                why(status, format),
              ]),
            ),
          );
        }
      }
      health.replaceChildren(
        rows.length ? table(HEALTH_COLUMNS, rows) : h("p", { class: "muted" }, "No aliases are configured and no target has been tried yet."),
      );
    };

    api("/admin/aliases")
      .then((found) => {
        aliases = found;
        render();
      })
      .catch(() => {});
    live.addEventListener("overview", render);
    render();
    return () => live.removeEventListener("overview", render);
  },
};

function card(label, value, name) {
  return h("div", { class: "card", "data-figure": name }, h("div", { class: "label" }, label), h("div", { class: "value" }, value));
}
