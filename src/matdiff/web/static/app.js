// matdiff's page: a form, a call to /api/diff, and the result drawn with DOM calls.
//
// Two rules keep it safe: text always goes in through textContent, never as
// markup; and MathML, the one kind of markup shown, is rebuilt element by element
// from an allow-list (see mathFrom), on top of the server's own check.
// The state lives in the URL (?expr=&wrt=&layout=&shapes=), so a result is a link.
"use strict";

const EXAMPLES = [
  {
    title: "y = W2·W1·h: ∂y/∂W1 in numerator layout (not W2·hᵀ)",
    expr: "W2*W1*h", wrt: "W1", layout: "numerator", shapes: {W2: "1x2", W1: "2x2", h: "2"},
  },
  {
    title: "C = A·B: is ∂C/∂B a 2×6 matrix or Aᵀ?",
    expr: "A*B", wrt: "B", layout: "numerator", shapes: {A: "1x3", B: "3x2"},
  },
  {
    title: "2-3-2 sigmoid network, MSE loss: ∂L/∂W2",
    expr: "z2 = W2*x\na2 = sigmoid(z2)\nz3 = W3*a2\na3 = sigmoid(z3)\n0.5*sum((a3 - y).^2)",
    wrt: "W2", layout: "denominator", shapes: {x: "2", W2: "3x2", W3: "2x3", y: "2"},
  },
  {
    title: "Quadratic form x'·A·x: the gradient",
    expr: "x'*A*x", wrt: "x", layout: "gradient", shapes: {},
  },
  {
    title: "Least squares ‖A·x − y‖²: the Hessian",
    expr: "norm2(A*x - y)^2", wrt: "x, x", layout: "gradient", shapes: {},
  },
];
const TARGETS = ["numpy", "jax", "torch"];
const LAYOUT_WORDS = {
  numerator: "numerator layout", denominator: "denominator layout", gradient: "gradient layout",
  jacobian: "jacobian layout", vec: "vec layout (Magnus–Neudecker)",
};
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

const $ = (id) => document.getElementById(id);
const state = {
  shapes: {},        // name -> shape text the user typed: the shapes that are "given"
  current: null,     // the request behind the result on screen (for "check my answer")
  capabilities: {},
  generation: 0,     // answers to superseded requests are dropped
  codes: {},
  target: "numpy",
};

// ----- small DOM helpers ---------------------------------------------------------------------------

function element(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (className) node.className = className;
  return node;
}

function show(id, visible) { $(id).hidden = !visible; }

function clear(node) { node.replaceChildren(); return node; }

// MathML from the server, rebuilt from allowed elements and attributes only; null if anything is off.
function mathFrom(markup) {
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
function drawMath(container, mathml, latex) {
  clear(container);
  const math = mathFrom(mathml);
  if (math) container.appendChild(math);
  else if (latex) {
    container.appendChild(element("p", "This formula has no rendering; its LaTeX:", "hint"));
    container.appendChild(element("pre", latex, "latex"));
  }
}

function shapeWords(shape) {
  if (!Array.isArray(shape)) return "unknown";
  if (shape.length === 0) return "scalar";
  return shape.join(" × ");
}

function shapeSpec(shape) {   // what the user would type: 2x3, n, scalar
  if (!Array.isArray(shape)) return "";
  if (shape.length === 0) return "scalar";
  return shape.join(shape.some((d) => typeof d === "string") ? " x " : "x");
}

// ----- the URL: state to share -----------------------------------------------------------------------

function readQuery() {
  // Decoded by hand so that a '+' typed into a link stays a plus (URLSearchParams makes it a space).
  const query = {};
  for (const part of location.search.replace(/^\?/, "").split("&")) {
    if (!part) continue;
    const at = part.indexOf("=");
    const key = at < 0 ? part : part.slice(0, at);
    try { query[decodeURIComponent(key)] = decodeURIComponent(at < 0 ? "" : part.slice(at + 1)); } catch (_) { /* bad escape: ignore */ }
  }
  return query;
}

function parseShapes(text) {   // "W2:1x2;W1:2x2;h:2" -> {W2: "1x2", ...}
  const shapes = {};
  for (const item of (text || "").split(";")) {
    const at = item.indexOf(":");
    if (at > 0) shapes[item.slice(0, at).trim()] = item.slice(at + 1).trim();
  }
  return shapes;
}

function formatShapes(shapes) {
  return Object.entries(shapes).map(([name, spec]) => `${name}:${spec.replace(/\s+/g, "")}`).join(";");
}

function permalink(request) {
  const escape = (s) => encodeURIComponent(s).replace(/%3A/gi, ":").replace(/%3B/gi, ";").replace(/%2C/gi, ",");
  const parts = [["expr", request.expression], ["wrt", request.wrt.join(",")], ["layout", request.layout]];
  const shapes = formatShapes(request.shapeTexts);
  if (shapes) parts.push(["shapes", shapes]);
  return "/?" + parts.map(([k, v]) => `${k}=${escape(v)}`).join("&");
}

// ----- talking to the server --------------------------------------------------------------------------

async function post(path, body) {
  let response;
  try {
    response = await fetch(path, {
      method: "POST", headers: {"content-type": "application/json"}, body: JSON.stringify(body),
    });
  } catch (_) {
    return {ok: false, data: {error: "the server cannot be reached"}};
  }
  let data;
  try { data = await response.json(); } catch (_) { data = {error: `the server answered ${response.status}`}; }
  return {ok: response.ok, status: response.status, data};
}

function namesIn(expression) {
  return new Set(expression.match(/[A-Za-z_][A-Za-z0-9_]*/g) || []);
}

function currentRequest() {
  const expression = $("expression").value;
  const used = namesIn(expression);
  const shapeTexts = {};
  for (const [name, spec] of Object.entries(state.shapes)) {
    if (spec.trim() && used.has(name)) shapeTexts[name] = spec.trim();
  }
  return {
    expression,
    wrt: $("wrt").value.split(/[\s,]+/).filter(Boolean),
    layout: $("layout").value,
    shapeTexts,
  };
}

function body(request) {
  return {expression: request.expression, wrt: request.wrt, layout: request.layout, shapes: request.shapeTexts};
}

// ----- the variable table -------------------------------------------------------------------------------

let variablesTimer = 0;
let variablesGeneration = 0;

function refreshVariablesSoon() {
  clearTimeout(variablesTimer);
  variablesTimer = setTimeout(refreshVariables, 250);
}

async function refreshVariables() {
  const request = currentRequest();
  if (!request.expression.trim()) { drawVariables([], null); return; }
  const generation = ++variablesGeneration;
  const {ok, data} = await post("/api/variables", {expression: request.expression, shapes: request.shapeTexts});
  if (generation !== variablesGeneration) return;
  if (ok) drawVariables(data.variables, data.problem);
  else drawVariables(null, data);
}

function drawVariables(rows, problem) {
  const problemBox = $("variables-problem");
  problemBox.textContent = problem ? problem.error : "";
  problemBox.hidden = !problem;
  if (!rows) return;  // keep the table while the expression is mid-edit
  const table = $("variables");
  const shown = [...table.querySelectorAll("input")].map((input) => input.dataset.name);
  if (shown.join(",") === rows.map((row) => row.name).join(",")) {
    // Same variables: refresh the inferred shapes in place, so typing in a cell never loses focus.
    rows.forEach((row, i) => { table.querySelectorAll("input")[i].placeholder = placeholder(row); });
    return;
  }
  clear(table);
  const names = clear($("variable-names"));
  for (const row of rows) {
    const input = element("input");
    input.value = state.shapes[row.name] || "";
    input.placeholder = placeholder(row);
    input.setAttribute("aria-label", `shape of ${row.name}`);
    input.spellcheck = false;
    input.dataset.name = row.name;
    input.addEventListener("input", () => {
      state.shapes[row.name] = input.value;
      refreshVariablesSoon();
    });
    const tr = element("tr");
    tr.appendChild(element("td")).appendChild(element("code", row.name));
    tr.appendChild(element("td")).appendChild(input);
    table.appendChild(tr);
    const option = element("option");
    option.value = row.name;
    names.appendChild(option);
  }
}

function placeholder(row) {
  return row.shape ? shapeSpec(row.shape) : "inferred";
}

// ----- differentiate ----------------------------------------------------------------------------------

async function differentiate({push = true} = {}) {
  const request = currentRequest();
  if (!request.expression.trim() || !request.wrt.length) {
    showError({error: !request.expression.trim() ? "type an expression first" : "name the variable to differentiate by"});
    return;
  }
  const link = permalink(request);
  if (push && link !== location.pathname + location.search) history.pushState(null, "", link);
  const generation = ++state.generation;
  $("go").disabled = true;
  $("go").textContent = "Working…";
  document.body.classList.add("busy");
  const {ok, data} = await post("/api/diff", {...body(request), include: ["check", "vec"]});
  if (generation !== state.generation) return;
  $("go").disabled = false;
  $("go").textContent = "Differentiate";
  document.body.classList.remove("busy");
  if (!ok) { showError(data, request.expression); return; }
  state.current = request;
  drawResult(data, request, link);
  drawExtras(request, generation);
}

function showError(data, expression) {
  show("result", false);
  show("error", true);
  $("error-message").textContent = data.error || "something went wrong";
  let caret = data.caret;
  if (!caret && Number.isInteger(data.position) && expression !== undefined) caret = caretAt(expression, data.position);
  $("error-caret").textContent = caret || "";
  show("error-caret", Boolean(caret));
}

function caretAt(source, position) {
  position = Math.max(0, Math.min(position, source.length));
  const start = source.lastIndexOf("\n", position - 1) + 1;
  let end = source.indexOf("\n", position);
  if (end < 0) end = source.length;
  return source.slice(start, end) + "\n" + " ".repeat(position - start) + "^";
}

function drawResult(data, request, link) {
  show("error", false);
  show("result", true);
  $("result-title").textContent = `Derivative with respect to ${request.wrt.join(", ")}`;
  drawMath($("math"), data.mathml, data.latex);
  $("shape").textContent = shapeWords(data.shape);
  $("layout-name").textContent = LAYOUT_WORDS[data.layout] || data.layout;
  const notes = clear($("notes"));
  for (const note of data.notes || []) notes.appendChild(element("li", note));
  $("text").textContent = data.text || "none in this layout: the result is a tensor (see the index notation)";
  $("text").classList.toggle("missing", !data.text);
  $("text").closest(".copyable").querySelector(".copy").hidden = !data.text;
  $("latex").textContent = data.latex || "";
  $("index").textContent = data.index || "";
  drawVec(data.vec);
  drawCheck(data.check);
  show("claim-card", Boolean(state.capabilities.check));
  clear($("verdict"));
  $("permalink").href = link;
  $("permalink").textContent = location.origin + link;
}

function drawVec(vec) {
  show("vec-card", Boolean(vec));
  if (!vec) return;
  if (vec.error) {
    clear($("vec-math")).appendChild(element("p", vec.error, "problem"));
    $("vec-shape").textContent = "";
    $("vec-text").closest(".copyable").hidden = true;
    return;
  }
  drawMath($("vec-math"), vec.mathml, vec.latex);
  $("vec-shape").textContent = shapeWords(vec.shape);
  $("vec-text").textContent = vec.text || "";
  $("vec-text").closest(".copyable").hidden = !vec.text;
}

function drawCheck(check) {
  show("check-card", Boolean(check));
  if (!check) return;
  const line = $("check");
  line.className = "verdict " + (check.status || "skipped");
  if (check.error) line.textContent = "Not checked: " + check.error;
  else if (check.status === "passed") {
    line.textContent = `✓ Matches central finite differences (largest relative error ${check.max_error.toExponential(1)}).`;
  } else if (check.status === "failed") {
    line.textContent = "✗ Does not match finite differences: " + (check.reason || "");
  } else line.textContent = "Not checked: " + (check.reason || "");
  const values = check.values ? Object.entries(check.values).map(([n, v]) => `${n} = ${JSON.stringify(v)}`) : [];
  $("check-values").textContent = values.length ? "At random values " + values.join(", ") : "";
}

// The engine's explanation, entries and verdicts arrive as styled lines (as the terminal
// shows them), or failing that as plain JSON of no fixed shape, drawn generically.
function drawAny(cardId, boxId, value) {
  show(cardId, value !== undefined && value !== null);
  if (value === undefined || value === null) return;
  clear($(boxId)).appendChild(Array.isArray(value.lines) ? report(value) : anything(value, 0));
}

function report(value) {
  const box = element("div", null, "report");
  if (value.error) box.appendChild(element("p", value.error, "problem"));
  const math = mathFrom(value.mathml);
  if (math) box.appendChild(element("div", null, "math")).appendChild(math);
  for (const line of value.lines) {
    const row = element("div", line.text, `line ${String(line.style || "plain").replace(/[^a-z]/g, "")}`);
    row.style.setProperty("--indent", String(Math.min(Number(line.indent) || 0, 24)));  // CSSOM: the CSP allows it
    box.appendChild(row);
  }
  return box;
}

function anything(value, depth) {
  if (value === null || value === undefined) return element("span", "");
  if (typeof value !== "object") return element(depth ? "span" : "p", value);
  if (Array.isArray(value)) {
    const list = element("ol", null, "steps");
    for (const item of value) list.appendChild(element("li")).appendChild(anything(item, depth + 1));
    return list;
  }
  const box = element("div", null, "any");
  if (value.error) box.appendChild(element("p", value.error, "problem"));
  if (value.skipped) box.appendChild(element("p", value.skipped, "hint"));
  const math = mathFrom(value.mathml);
  if (math) box.appendChild(element("div", null, "math")).appendChild(math);
  for (const [key, item] of Object.entries(value)) {
    if (["mathml", "latex", "error", "skipped"].includes(key) || item === null || item === "") continue;
    if (typeof item === "object") {
      box.appendChild(element("h3", key.replace(/_/g, " ")));
      box.appendChild(anything(item, depth + 1));
    } else if (key === "text" || key === "message" || key === "summary") {
      box.appendChild(element("p", item));
    } else {
      const p = element("p", null, "field");
      p.append(element("span", key.replace(/_/g, " ") + ": ", "label"), element("code", item));
      box.appendChild(p);
    }
  }
  if (!math && value.latex) box.appendChild(element("code", value.latex, "latex"));
  return box;
}

// ----- the slower parts, each its own request: one that runs out of time spoils nothing else ------------

function drawExtras(request, generation) {
  const base = body(request);
  for (const [feature, card, box] of [["explain", "explain-card", "explanation"], ["entries", "entries-card", "entries"]]) {
    show(card, Boolean(state.capabilities[feature]));
    if (!state.capabilities[feature]) continue;
    clear($(box)).appendChild(element("p", "Working…", "hint"));
    post(`/api/${feature}`, base).then(({ok, data}) => {
      if (generation !== state.generation) return;
      if (ok) drawAny(card, box, data);
      else clear($(box)).appendChild(element("p", data.error || "not available", "problem"));
    });
  }
  state.codes = {};
  show("code-card", Boolean(state.capabilities.codegen));
  if (state.capabilities.codegen) showCode(state.target, generation);
}

async function showCode(target, generation) {
  state.target = target;
  const tabs = clear($("code-tabs"));
  for (const name of TARGETS) {
    const tab = element("button", name, "tab");
    tab.type = "button";
    tab.setAttribute("role", "tab");
    tab.setAttribute("aria-selected", String(name === target));
    tab.addEventListener("click", () => showCode(name, state.generation));
    tabs.appendChild(tab);
  }
  if (!(target in state.codes)) {
    $("code").textContent = "Working…";
    const {ok, data} = await post("/api/codegen", {...body(state.current), target});
    if (generation !== state.generation) return;
    state.codes[target] = ok ? data.code : `# ${data.error || "not available"}`;
  }
  if (state.target === target) $("code").textContent = state.codes[target];
}

// ----- check my answer ----------------------------------------------------------------------------------

async function checkAnswer(event) {
  event.preventDefault();
  const claim = $("claim").value.trim();
  const verdict = clear($("verdict"));
  if (!claim || !state.current) return;
  verdict.appendChild(element("p", "Checking…", "hint"));
  const {ok, data} = await post("/api/check", {...body(state.current), claim});
  clear(verdict);
  if (!ok) {
    verdict.appendChild(element("p", data.error || "the check failed", "problem"));
    const caret = data.caret || (Number.isInteger(data.position) ? caretAt(claim, data.position) : "");
    if (caret) verdict.appendChild(element("pre", caret));
    return;
  }
  verdict.appendChild(Array.isArray(data.lines) ? report(data) : anything(data, 0));
}

// ----- copy buttons ------------------------------------------------------------------------------------

async function copy(button) {
  const source = $(button.dataset.copy);
  const text = source.href && source.tagName === "A" ? source.href : source.textContent;
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

// ----- start ------------------------------------------------------------------------------------------

function fitEditor() {   // as many rows as the program has lines, within reason
  const lines = $("expression").value.split("\n").length;
  $("expression").rows = Math.max(3, Math.min(lines + 1, 14));
}

function fill({expr, wrt, layout, shapes}) {
  $("expression").value = expr || "";
  fitEditor();
  $("wrt").value = wrt || "";
  if (layout && LAYOUT_WORDS[layout]) $("layout").value = layout;
  state.shapes = {...(shapes || {})};
  refreshVariables();
}

function fromURL() {
  const query = readQuery();
  if (!query.expr) return false;
  fill({expr: query.expr, wrt: query.wrt, layout: query.layout, shapes: parseShapes(query.shapes)});
  return true;
}

async function start() {
  for (const [i, example] of EXAMPLES.entries()) {
    const option = element("option", example.title);
    option.value = String(i);
    $("examples").appendChild(option);
  }
  $("examples").addEventListener("change", (event) => {
    const example = EXAMPLES[Number(event.target.value)];
    event.target.value = "";
    if (!example) return;
    fill(example);
    differentiate();
  });
  $("form").addEventListener("submit", (event) => { event.preventDefault(); differentiate(); });
  $("expression").addEventListener("input", () => { fitEditor(); refreshVariablesSoon(); });
  $("expression").addEventListener("keydown", (event) => {   // Ctrl/Cmd+Enter differentiates
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) { event.preventDefault(); differentiate(); }
  });
  $("claim-form").addEventListener("submit", checkAnswer);
  for (const button of document.querySelectorAll("button.copy")) button.addEventListener("click", () => copy(button));
  window.addEventListener("popstate", () => { if (fromURL()) differentiate({push: false}); });

  const capabilities = await fetch("/api/capabilities").then((r) => r.json()).catch(() => ({}));
  state.capabilities = capabilities || {};
  if (fromURL()) differentiate({push: false});
  else { fill(EXAMPLES[0]); differentiate({push: false}); }
}

start();
