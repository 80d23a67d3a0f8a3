// Small DOM helpers and the one kind of markup the page shows: MathML from the server.
//
// Two rules keep the page safe: text always goes in through textContent, never as markup; and
// MathML is rebuilt element by element from an allow-list (see mathFrom), on top of the server's
// own check.

const MATHML_NS = "http://www.w3.org/1998/Math/MathML";
const MATHML_TAGS = new Set([
  "math", "mrow", "mi", "mn", "mo", "ms", "mtext", "mspace", "msub", "msup", "msubsup", "mfrac",
  "msqrt", "mroot", "mover", "munder", "munderover", "mtable", "mtr", "mtd", "mstyle", "mpadded",
  "mphantom", "menclose", "merror", "mmultiscripts", "mprescripts", "none",
]);
const MATHML_ATTRIBUTES = new Set([
  "display", "mathvariant", "stretchy", "fence", "form", "width", "height", "depth", "lspace", "rspace",
  "accent", "accentunder", "columnalign", "rowalign", "columnlines", "rowlines", "columnspacing",
  "rowspacing", "frame", "linethickness", "displaystyle", "scriptlevel", "separator", "movablelimits",
  "largeop", "symmetric", "minsize", "maxsize", "notation", "align",
]);

export const $ = (id) => document.getElementById(id);

export function element(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (className) node.className = className;
  return node;
}

export function show(node, visible) { node.hidden = !visible; }

export function clear(node) { node.replaceChildren(); return node; }

// MathML from the server, rebuilt from allowed elements and attributes only; null if anything is off.
export function mathFrom(markup) {
  if (typeof markup !== "string" || !markup) return null;
  const parsed = new DOMParser().parseFromString(markup, "application/xml");
  if (parsed.getElementsByTagName("parsererror").length) return null;
  try { return copyMath(parsed.documentElement); } catch (_) { return null; }
}

function copyMath(source) {
  if (source.namespaceURI !== MATHML_NS || !MATHML_TAGS.has(source.localName)) throw new Error("not MathML");
  const copy = document.createElementNS(MATHML_NS, source.localName);
  for (const attribute of source.attributes) {
    if (MATHML_ATTRIBUTES.has(attribute.name)) copy.setAttribute(attribute.name, attribute.value);
  }
  for (const child of source.childNodes) {
    if (child.nodeType === Node.TEXT_NODE) copy.appendChild(document.createTextNode(child.data));
    else if (child.nodeType === Node.ELEMENT_NODE) copy.appendChild(copyMath(child));
  }
  return copy;
}

// Rendered math when there is MathML, else the LaTeX source as text.
export function drawMath(container, mathml, latex) {
  clear(container);
  const math = mathFrom(mathml);
  if (math) container.appendChild(math);
  else if (latex) {
    container.appendChild(element("p", "This formula has no rendering; its LaTeX:", "hint"));
    container.appendChild(element("pre", latex, "latex"));
  }
  watchOverflow(container);
}

// A box wider than the screen scrolls sideways, and says so: a shadow at the edge and a caption (for
// formulas), and a tab stop with a name so that the keyboard can scroll it too.
const overflowWatcher = new ResizeObserver((entries) => { for (const entry of entries) markOverflow(entry.target); });

export function watchOverflow(box, what = "formula") {
  box.dataset.scrollLabel = what;
  overflowWatcher.observe(box);
  markOverflow(box);
}

export function setText(box, text) {   // new text in a watched box may make it scroll, or stop
  box.textContent = text;
  markOverflow(box);
}

function markOverflow(box) {
  if (!box.dataset.scrollLabel) return;
  const overflows = box.scrollWidth > box.clientWidth + 1;
  box.classList.toggle("scrolls", overflows);
  if (overflows) {
    box.tabIndex = 0;
    box.setAttribute("role", "region");
    box.setAttribute("aria-label", `${box.dataset.scrollLabel}, wider than the screen: scroll sideways`);
  } else {
    box.removeAttribute("tabindex");
    box.removeAttribute("role");
    box.removeAttribute("aria-label");
  }
}

export function shapeWords(shape) {
  if (!Array.isArray(shape)) return "unknown";
  if (shape.length === 0) return "scalar";
  return shape.join(" × ");
}

export function shapeSpec(shape) {   // what the user would type: 2x3, n, scalar
  if (!Array.isArray(shape)) return "";
  if (shape.length === 0) return "scalar";
  return shape.join(shape.some((d) => typeof d === "string") ? " x " : "x");
}

export function caretAt(source, position) {
  position = Math.max(0, Math.min(position, source.length));
  const start = source.lastIndexOf("\n", position - 1) + 1;
  let end = source.indexOf("\n", position);
  if (end < 0) end = source.length;
  return source.slice(start, end) + "\n" + " ".repeat(position - start) + "^";
}

// The engine speaks to terminal users ("`matdiff explain` shows…", "--assume S=symmetric"); the page
// says the same in its own terms.
const PAGE_TERMS = [
  [/`?matdiff explain`?/g, "“Step by step”"],
  [/`?matdiff entries`?/g, "“Entry by entry”"],
  [/`?matdiff check`?/g, "“Check my answer”"],
  [/--assume\s+([A-Za-z_]\w*)=(\w+)/g, "type $2 for $1 in the Variables table"],
  [/--shape\s+([A-Za-z_]\w*)=(\S+)/g, "shape $2 for $1 in the Variables table"],
  [/--layout[ =](\w+)/g, "the $1 layout"],
  [/--claim/g, "your answer"],
  [/--wrt[ =]([A-Za-z_]\w*)/g, "a tick for $1"],
];

export function pageTerms(text) {
  let out = String(text);
  for (const [pattern, words] of PAGE_TERMS) out = out.replace(pattern, words);
  return out;
}

// The engine's explanation, entries and verdicts arrive as styled lines (as the terminal shows
// them), or failing that as plain JSON of no fixed shape, drawn generically.
export function drawReport(box, value) {
  clear(box).appendChild(Array.isArray(value.lines) ? report(value) : anything(value, 0));
}

function report(value) {
  const box = element("div", null, "report");
  watchOverflow(box, "report");
  if (value.error) box.appendChild(element("p", pageTerms(value.error), "problem"));
  const math = mathFrom(value.mathml);
  if (math) {
    const holder = box.appendChild(element("div", null, "math"));
    holder.appendChild(math);
    watchOverflow(holder);
  }
  for (const line of value.lines) {
    const row = element("div", pageTerms(line.text), `line ${String(line.style || "plain").replace(/[^a-z]/g, "")}`);
    row.style.setProperty("--indent", String(Math.min(Number(line.indent) || 0, 24)));  // CSSOM: the CSP allows it
    box.appendChild(row);
  }
  return box;
}

function anything(value, depth) {
  if (value === null || value === undefined) return element("span", "");
  if (typeof value !== "object") return element(depth ? "span" : "p", pageTerms(value));
  if (Array.isArray(value)) {
    const list = element("ol", null, "steps");
    for (const item of value) list.appendChild(element("li")).appendChild(anything(item, depth + 1));
    return list;
  }
  const box = element("div", null, "any");
  if (value.error) box.appendChild(element("p", pageTerms(value.error), "problem"));
  if (value.skipped) box.appendChild(element("p", value.skipped, "hint"));
  const math = mathFrom(value.mathml);
  if (math) box.appendChild(element("div", null, "math")).appendChild(math);
  for (const [key, item] of Object.entries(value)) {
    if (["mathml", "latex", "error", "skipped"].includes(key) || item === null || item === "") continue;
    if (typeof item === "object") {
      box.appendChild(element("h4", key.replace(/_/g, " ")));
      box.appendChild(anything(item, depth + 1));
    } else if (key === "text" || key === "message" || key === "summary") {
      box.appendChild(element("p", pageTerms(item)));
    } else {
      const p = element("p", null, "field");
      p.append(element("span", key.replace(/_/g, " ") + ": ", "label"), element("code", item));
      box.appendChild(p);
    }
  }
  if (!math && value.latex) box.appendChild(element("code", value.latex, "latex"));
  return box;
}

export async function copyText(button, text) {
  try {
    await navigator.clipboard.writeText(text);
  } catch (_) {  // not a secure context: the old way
    const area = element("textarea");
    area.value = text;
    document.body.appendChild(area);
    area.select();
    document.execCommand("copy");
    area.remove();
  }
  const label = button.textContent;
  button.textContent = "Copied";
  setTimeout(() => { button.textContent = label; }, 1200);
}
