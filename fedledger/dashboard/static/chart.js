// A small line chart in plain SVG: accuracy (percent) per finalized round.
// Shipped with the package, so the page needs nothing from the internet.
"use strict";

const SVG_NS = "http://www.w3.org/2000/svg";

function svgElement(name, attributes, text) {
  const element = document.createElementNS(SVG_NS, name);
  for (const [key, value] of Object.entries(attributes)) {
    element.setAttribute(key, String(value));
  }
  if (text !== undefined) element.textContent = text;
  return element;
}

// The y range: the data's, padded and rounded out to whole percents, inside 0..100.
function accuracyRange(values) {
  let low = Math.min(...values);
  let high = Math.max(...values);
  const pad = Math.max((high - low) * 0.15, 1);
  low = Math.max(0, Math.floor(low - pad));
  high = Math.min(100, Math.ceil(high + pad));
  if (high - low < 2) { low = Math.max(0, high - 2); }
  return [low, high];
}

// points: [{round, percent, label}], one per finalized round, in round order.
function drawAccuracyChart(container, points) {
  const width = 720, height = 280;
  const left = 52, right = 40, top = 22, bottom = 40;
  const svg = svgElement("svg", {
    id: "accuracy-chart",
    viewBox: `0 0 ${width} ${height}`,
    role: "img",
    "aria-label": "accuracy of the global model per finalized round",
  });
  const plotWidth = width - left - right, plotHeight = height - top - bottom;
  if (points.length === 0) {
    container.replaceChildren(svg);
    return;
  }
  const [low, high] = accuracyRange(points.map((p) => p.percent));
  const first = points[0].round, last = points[points.length - 1].round;
  const x = (round) => left + (last === first ? plotWidth / 2
    : (round - first) / (last - first) * plotWidth);
  const y = (percent) => top + (high - percent) / (high - low) * plotHeight;

  const ticks = 5;
  for (let i = 0; i <= ticks; i++) {
    const value = low + (high - low) * i / ticks;
    svg.append(svgElement("line", {class: "grid", x1: left, x2: width - right, y1: y(value), y2: y(value)}));
    svg.append(svgElement("text", {x: left - 6, y: y(value) + 4, "text-anchor": "end"},
      `${value.toFixed(high - low < 5 ? 1 : 0)} %`));
  }
  svg.append(svgElement("line", {class: "axis", x1: left, x2: left, y1: top, y2: top + plotHeight}));
  svg.append(svgElement("line", {class: "axis", x1: left, x2: width - right,
    y1: top + plotHeight, y2: top + plotHeight}));
  const labelEvery = Math.max(1, Math.ceil(points.length / 12));
  points.forEach((p, index) => {
    if (index % labelEvery === 0 || index === points.length - 1) {
      svg.append(svgElement("text", {x: x(p.round), y: top + plotHeight + 16, "text-anchor": "middle"},
        String(p.round)));
    }
  });
  svg.append(svgElement("text", {x: left + plotWidth / 2, y: height - 4, "text-anchor": "middle"},
    "round"));

  svg.append(svgElement("polyline", {
    class: "line",
    points: points.map((p) => `${x(p.round)},${y(p.percent)}`).join(" "),
  }));
  for (const p of points) {
    const dot = svgElement("circle", {class: "point", cx: x(p.round), cy: y(p.percent), r: 4,
      "data-round": p.round});
    dot.append(svgElement("title", {}, `round ${p.round}: ${p.label}`));
    svg.append(dot);
    if (points.length <= 12) {
      svg.append(svgElement("text", {class: "value", x: x(p.round), y: y(p.percent) - 9,
        "text-anchor": "middle"}, p.label));
    }
  }
  container.replaceChildren(svg);
}
