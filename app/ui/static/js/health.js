// Targets grouped by the aliases that use them, with what the health board knows of each.

/**
 * `aliases` from GET /admin/aliases, `targets` from the Overview: [{name, description, targets: [{model,
 * settings, health}]}], the aliases first, then "Other targets" (named directly, or by the free alias).
 */
export function groupTargets(aliases, targets) {
  const health = new Map((targets || []).map((status) => [status.target, status]));
  const used = new Set();
  const groups = (aliases ? aliases.data : []).map((alias) => ({
    name: alias.name,
    alias,
    targets: alias.targets.map((settings) => {
      used.add(settings.model);
      return { model: settings.model, settings, health: health.get(settings.model) || null };
    }),
  }));
  const others = [...health.values()].filter((status) => !used.has(status.target));
  if (others.length) {
    groups.push({
      name: "Other targets",
      alias: null,
      targets: others.map((status) => ({ model: status.target, settings: null, health: status })),
    });
  }
  return groups;
}

/** Why a target is in its state, in words: its last error, and when it may be tried again. */
export function why(health, format) {
  if (!health) return "no requests yet";
  const parts = [];
  if (health.available_in_s > 0) parts.push(`may be tried in ${format.decimal(health.available_in_s, 1)} s`);
  if (health.last_error) parts.push(`${health.last_error.message} (${format.ago(health.last_error.at)})`);
  return parts.join(" · ") || "";
}
