// Targets: every alias with its strategy, policy and targets, each target's state and why (its last
// error), with a button to reset what the router knows of it; and the agents.

import { api } from "./api.js";
import { cells, format, h, replaceKeepingFocus, stateBadge, table } from "./dom.js";
import { groupTargets, why } from "./health.js";

const COLUMNS = [
  ["Target"],
  ["Weight", "num"],
  ["Max concurrent", "num"],
  ["State"],
  ["Why", "why"],
  ["In flight", "num"],
  ["Latency", "num"],
  ["Success", "num"],
  ["Attempts / failures", "num"],
  [""],
];

export default {
  title: "Targets",
  mount(root, { live }) {
    let aliases = null;
    const status = h("p", { class: "muted small", role: "status" });
    const groups = h("div");
    const agents = h("div");
    root.append(
      h(
        "div",
        { class: "row" },
        h("h1", { tabindex: -1 }, "Targets"),
        h("span", { class: "spacer" }),
        h("button", { type: "button", class: "quiet", onclick: () => reset(null) }, "Reset all targets"),
      ),
      status,
      groups,
      agents,
    );

    async function reset(target) {
      try {
        await api("/admin/targets/reset", { method: "POST", body: target ? { target } : {} });
        status.textContent = target ? `Reset ${target}.` : "Reset every target.";
        // Show the result now rather than at the next update.
        live.setOverview(await api("/admin/overview"));
      } catch (error) {
        status.textContent = `Could not reset: ${error.message}`;
      }
    }

    const render = () => {
      const overview = live.overview;
      const found = groupTargets(aliases, overview ? overview.targets : []);
      replaceKeepingFocus(
        groups,
        ...found.map((group) => {
          const alias = group.alias;
          const rows = group.targets.map((target) => {
            const health = target.health;
            const settings = target.settings || {};
            return h(
              "tr",
              { "data-target": target.model },
              cells(COLUMNS, [
                h("span", { class: "mono" }, target.model),
                settings.weight ?? "–",
                settings.max_concurrent ?? "–",
                stateBadge(health ? health.state : "closed"),
                why(health, format),
                health ? format.number(health.in_flight) : "0",
                health ? format.ms(health.latency_ms) : "–",
                health ? format.percent(health.success_rate) : "–",
                health ? `${health.attempts} / ${health.failures}` : "0 / 0",
                h(
                  "button",
                  {
                    type: "button",
                    class: "small quiet",
                    "aria-label": `Reset ${target.model}`,
                    "data-key": `reset ${target.model}`,
                    onclick: () => reset(target.model),
                  },
                  "Reset",
                ),
              ]),
            );
          });
          const policy = alias
            ? `strategy ${alias.strategy} · ${alias.max_attempts} attempts per target · ${alias.timeout} s deadline · tool-call guard ${alias.tool_call_guard}`
            : "Targets named directly, or reached through the free-models alias.";
          return h(
            "section",
            { class: "panel", "data-alias": group.name },
            h("h2", {}, group.name),
            h("p", { class: "muted small" }, policy),
            alias && alias.description ? h("p", { class: "muted small" }, alias.description) : null,
            rows.length ? table(COLUMNS, rows) : h("p", { class: "muted" }, "No targets."),
          );
        }),
      );
      if (!found.length) groups.replaceChildren(h("p", { class: "muted panel" }, "No aliases are configured and no target has been tried yet."));
    };

    api("/admin/aliases")
      .then((found) => {
        aliases = found;
        render();
        if (found.agents.length) {
          const columns = [["Agent"], ["Model"], ["Tools"], ["Max rounds", "num"], ["Parallel calls", "num"]];
          agents.replaceChildren(
            h(
              "section",
              { class: "panel" },
              h("h2", {}, "Agents"),
              table(
                columns,
                found.agents.map((agent) =>
                  h(
                    "tr",
                    {},
                    cells(columns, [
                      h("span", { class: "mono" }, agent.name),
                      h("span", { class: "mono" }, agent.model),
                      agent.tools.join(", ") || "–",
                      agent.max_rounds,
                      agent.parallel_tool_calls,
                    ]),
                  ),
                ),
              ),
            ),
          );
        }
      })
      .catch((error) => {
        status.textContent = `Could not read the aliases: ${error.message}`;
      });
    live.addEventListener("overview", render);
    render();
    return () => live.removeEventListener("overview", render);
  },
};
