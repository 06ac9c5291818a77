// Small line charts drawn as inline SVG: one line per series, gaps where a value is unknown.

import { h } from "./dom.js";

const SVG = "http://www.w3.org/2000/svg";
const WIDTH = 600;
const HEIGHT = 130;

function svg(tag, attributes = {}) {
  const element = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, String(value));
  return element;
}

/**
 * `series`: [{label, values, cls}] with one value per bucket (null where unknown); `format` writes the top
 * of the scale; `span` names the time the chart covers.
 */
export function lineChart({ title, series, format, span }) {
  const values = series.flatMap((each) => each.values).filter((value) => value !== null && value !== undefined);
  const top = niceTop(Math.max(0, ...values));
  const count = Math.max(1, ...series.map((each) => each.values.length));
  const x = (index) => (count === 1 ? WIDTH : Math.min(WIDTH, Math.max(0, (index / (count - 1)) * WIDTH)));
  const y = (value) => HEIGHT - 4 - (top ? (value / top) * (HEIGHT - 8) : 0);

  const drawing = svg("svg", { viewBox: `0 0 ${WIDTH} ${HEIGHT}`, preserveAspectRatio: "none", role: "img" });
  drawing.setAttribute("aria-label", `${title}: ${series.map((each) => describe(each, format)).join("; ")}`);
  for (const fraction of [0.25, 0.5, 0.75]) {
    const level = HEIGHT - 4 - fraction * (HEIGHT - 8);
    drawing.append(svg("line", { x1: 0, x2: WIDTH, y1: level, y2: level, class: "grid-line" }));
  }
  series.forEach((each, position) => {
    for (const run of runs(each.values)) {
      const points = run.map(([index, value]) => `${x(index).toFixed(1)},${y(value).toFixed(1)}`).join(" ");
      drawing.append(svg("polyline", { points, class: each.cls || `series-${position + 1}` }));
    }
  });

  return h(
    "figure",
    { class: "chart" },
    h("h3", {}, title),
    h(
      "div",
      { class: "legend" },
      series.map((each, position) =>
        h("span", {}, h("span", { class: `swatch ${each.cls || `series-${position + 1}`}` }), each.label),
      ),
      h("span", { class: "spacer" }),
      h("span", {}, `max ${format(top)}`),
    ),
    drawing,
    h("div", { class: "axis" }, h("span", {}, span), h("span", {}, "now")),
  );
}

/** Unbroken stretches of known values, as [index, value] pairs. */
function runs(values) {
  const found = [];
  let current = [];
  values.forEach((value, index) => {
    if (value === null || value === undefined) {
      if (current.length) found.push(current);
      current = [];
    } else {
      current.push([index, value]);
    }
  });
  if (current.length) found.push(current);
  // A single point is drawn as a flat line a bucket wide, so it shows.
  return found.map((run) => (run.length === 1 ? [[run[0][0] - 0.5, run[0][1]], [run[0][0] + 0.5, run[0][1]]] : run));
}

function niceTop(value) {
  if (value <= 0) return 1;
  const magnitude = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) {
    if (value <= step * magnitude) return step * magnitude;
  }
  return 10 * magnitude;
}

function describe(each, format) {
  const known = each.values.filter((value) => value !== null && value !== undefined);
  if (!known.length) return `${each.label}: no data`;
  return `${each.label}: latest ${format(known[known.length - 1])}, highest ${format(Math.max(...known))}`;
}
