// The chain rule drawn: every factor of step by step's chain as a box whose sides are its dimensions
// (to scale for small sizes), joined by "·"; where two neighbours do not chain (the left one's
// columns are not the right one's rows) the join is marked; a diagonal Jacobian is drawn with its
// diagonal (it acts as a Hadamard product); a tensor of order 3 or more as a stack of slices.
// SVG built with DOM calls; colours come from the page's (dark mode, print), the caption says it
// all in words for a screen reader.

const SVG = "http://www.w3.org/2000/svg";
const MAX_SIDE = 96;     // px: a side longer than this is drawn at this length
const CELL = 16;         // px per entry for small sizes
const SYMBOLIC = 3;      // cells a symbolic dimension (n) is drawn with
const GAP = 30;          // px between boxes, where the "·" goes

function node(name, attributes = {}, text = null) {
  const element = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) element.setAttribute(key, String(value));
  if (text !== null) element.textContent = text;
  return element;
}

function size(d) {
  return typeof d === "number" ? Math.min(MAX_SIDE, Math.max(4, d * CELL)) : SYMBOLIC * CELL;
}

function words(shape) {
  return shape.length ? shape.join("×") : "scalar";
}

// rows × columns of the matrix a factor is drawn as (a vector is a column); slices for a tensor.
function geometry(factor) {
  const shape = factor.shape || [];
  if (shape.length === 0) return {rows: 1, columns: 1, slices: 0};
  if (shape.length === 1) return {rows: shape[0], columns: 1, slices: 0};
  if (shape.length === 2) return {rows: shape[0], columns: shape[1], slices: 0};
  const [first, ...rest] = shape;
  return {rows: rest[rest.length - 2], columns: rest[rest.length - 1], slices: typeof first === "number" ? first : 3};
}

// Whether a·b is a matrix product: a's columns are b's rows (a scalar chains with anything).
function chains(a, b) {
  if (a.slices || b.slices) return false;
  if ((a.rows === 1 && a.columns === 1) || (b.rows === 1 && b.columns === 1)) return true;
  return String(a.columns) === String(b.rows);
}

export function chainDiagram(explanation) {
  const factors = explanation?.chain;
  if (!Array.isArray(factors) || !factors.length || factors.length > 12) return null;
  const shapes = factors.map(geometry);
  const figure = document.createElement("figure");
  figure.className = "chain-diagram";
  const labels = factors.map((factor) => [`∂${factor.of}/∂${factor.by}`, words(factor.shape || [])]);
  // each factor's column: its box, or its labels where they are wider (7.5 px a character)
  const columns = shapes.map((g, k) => Math.max(size(g.columns) + Math.min(g.slices, 4) * 4,
                                                7.5 * Math.max(...labels[k].map((t) => t.length))));
  const width = columns.reduce((sum, c) => sum + c + GAP, 0) + 10;
  const height = Math.max(...shapes.map((g) => size(g.rows) + g.slices * 4)) + 46;
  const svg = figure.appendChild(node("svg", {viewBox: `0 0 ${width} ${height}`, width, height, role: "img"}));
  const said = [];
  let x = 5;
  factors.forEach((factor, k) => {
    const g = shapes[k];
    const w = size(g.columns);
    const h = size(g.rows);
    const left = x;
    x += (columns[k] - w - Math.min(g.slices, 4) * 4) / 2;   // the box centred in its column
    const group = svg.appendChild(node("g", {class: "factor" + (factor.diagonal ? " diagonal" : ""),
                                             "data-shape": words(factor.shape || [])}));
    for (let s = Math.min(g.slices, 4) - 1; s >= 0; s--) {   // the slices behind, offset up and right
      group.appendChild(node("rect", {x: x + 4 * (s + 1), y: 5 + 4 * (Math.min(g.slices, 4) - 1 - s), width: w,
                                      height: h, class: "slice"}));
    }
    const top = 5 + 4 * Math.min(g.slices, 4);
    group.appendChild(node("rect", {x, y: top, width: w, height: h, class: "box"}));
    if (factor.diagonal) group.appendChild(node("line", {x1: x, y1: top, x2: x + w, y2: top + h, class: "diag"}));
    const [label, dims] = labels[k];
    group.appendChild(node("text", {x: left + columns[k] / 2, y: height - 24, "text-anchor": "middle"}, label));
    group.appendChild(node("text", {x: left + columns[k] / 2, y: height - 8, "text-anchor": "middle",
                                    class: "dims"}, dims));
    said.push(`${label}, ${factor.order > 2 ? `a ${words(factor.shape || [])} tensor (order ${factor.order})` :
      words(factor.shape || [])}${factor.diagonal ? ", diagonal" : ""}`);
    x = left + columns[k];
    if (k < factors.length - 1) {
      const joined = chains(g, shapes[k + 1]);
      svg.appendChild(node("text", {x: x + GAP / 2, y: top + h / 2 + 5, "text-anchor": "middle",
                                    class: joined ? "join" : "join broken"}, joined ? "·" : "≠"));
      if (!joined) said.push("these two do not chain as a matrix product");
    }
    x += GAP;
  });
  const caption = `The chain as boxes, sides to scale: ${said.join("; ")}.`;
  svg.appendChild(node("title", {}, caption));
  figure.appendChild(document.createElement("figcaption")).textContent = caption;
  return figure;
}
