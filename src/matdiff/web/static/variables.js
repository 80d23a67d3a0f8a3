// The Variables table: for each name, whether to differentiate by it, its shape and its type.
//
// A shape or type belongs to the expression it was given for. What the user typed in the table is
// kept while its name is still in the expression; what came with an example or a link is kept only
// while the expression is still that one, edited (see isAnEditOf); an inferred shape is shown in
// grey and never sent back as a declaration.

import {$, clear, element, shapeSpec} from "./dom.js";
import {post} from "./api.js";

// One menu for what matrixcalculus.org users pick: the kind (it fills in the shape, which stays
// editable) and, for a structure, the assumption sent with the query.
export const TYPES = [
  ["scalar", "scalar"], ["vector", "vector"], ["matrix", "matrix"],
  ["symmetric", "symmetric matrix"], ["spd", "SPD matrix (positive definite)"], ["diagonal", "diagonal matrix"],
  ["positive", "positive entries"], ["onehot", "one-hot columns"],
];
const KINDS = new Set(["scalar", "vector", "matrix"]);            // a shape, no assumption
const MATRIX_ONLY = new Set(["symmetric", "spd", "diagonal"]);   // square matrices only
const NOT_SCALAR = new Set([...MATRIX_ONLY, "onehot"]);
const ORIGIN_WORDS = {typed: "yours", example: "from the example", link: "from the link"};
const ASSIGNMENT = /(?:^|[;\n])\s*([A-Za-z_][A-Za-z0-9_]*)\s*=(?!=)/g;

export const table = {
  shapes: new Map(),   // name -> {spec, origin}: the declared shapes
  types: new Map(),    // name -> {type, origin}: the declared types (general is not stored)
  wrt: [],             // the ticked names, in the order ticked
  wanted: [],          // every name the user ticked: a name deleted and typed again is ticked again
  loaded: null,        // the expression an example or link gave shapes for
  inputs: [],          // the server's last rows: {name, shape, given, could_be}
};

export function namesIn(expression) {
  return new Set(expression.replace(/#[^\n]*/g, "").match(/[A-Za-z_][A-Za-z0-9_]*/g) || []);
}

// The names assigned, but not the last one when the program ends with it: that is the value itself.
export function intermediatesIn(expression) {
  const code = expression.replace(/#[^\n]*/g, "");
  const names = [...new Set([...code.matchAll(ASSIGNMENT)].map((m) => m[1]))];
  const last = code.split(/[;\n]/).map((s) => s.trim()).filter(Boolean).pop() || "";
  const value = last.match(/^([A-Za-z_][A-Za-z0-9_]*)\s*=(?!=)/);
  return value && names.at(-1) === value[1] ? names.slice(0, -1) : names;
}

// An example or a link: its shapes, types and ticks replace everything.
export function load({expr, shapes = {}, assume = {}, wrt = []}, origin) {
  table.shapes = new Map(Object.entries(shapes).map(([name, spec]) => [name, {spec: String(spec), origin}]));
  table.types = new Map(Object.entries(assume).filter(([, type]) => type !== "general")
    .map(([name, type]) => [name, {type, origin}]));
  table.wrt = [...wrt];
  table.wanted = [...wrt];
  table.loaded = Object.keys(shapes).length || Object.keys(assume).length ? expr : null;
  table.inputs = [];
}

// The expression was edited: drop what no longer belongs to it. True when something was dropped.
export function reconcile(expression) {
  const present = namesIn(expression);
  if (table.loaded !== null && !isAnEditOf(expression, table.loaded)) table.loaded = null;
  let dropped = false;
  for (const map of [table.shapes, table.types]) {
    for (const [name, entry] of map) {
      if (!present.has(name) || (entry.origin !== "typed" && table.loaded === null)) dropped = map.delete(name);
    }
  }
  const ticked = table.wanted.filter((name) => present.has(name));
  dropped ||= ticked.join(",") !== table.wrt.join(",");
  table.wrt = ticked;
  if (dropped) showDeclared();
  return dropped;
}

// The cells show what is declared now, at once: a shape dropped must not stay on screen (or be read
// back) while the server is still being asked about the new expression, or if it does not answer.
function showDeclared() {
  for (const input of document.querySelectorAll("#variables input.shape")) {
    if (input !== document.activeElement) input.value = table.shapes.get(input.dataset.name)?.spec || "";
  }
  for (const box of document.querySelectorAll("#variables input.wrt")) box.checked = table.wrt.includes(box.dataset.wrt);
}

// Still the loaded expression, edited: what comes before and after the edit is at least half of it.
// Typing a fresh expression over it leaves nothing of it; a change in one place keeps most of it.
function isAnEditOf(text, original) {
  let prefix = 0;
  while (prefix < Math.min(text.length, original.length) && text[prefix] === original[prefix]) prefix++;
  let suffix = 0;
  const room = Math.min(text.length, original.length) - prefix;
  while (suffix < room && text[text.length - 1 - suffix] === original[original.length - 1 - suffix]) suffix++;
  return 2 * (prefix + suffix) >= original.length;
}

export function declaredShapes(expression) {
  const present = namesIn(expression);
  const shapes = {};
  for (const [name, {spec}] of table.shapes) if (spec.trim() && present.has(name)) shapes[name] = spec.trim();
  return shapes;
}

export function assumptions(expression) {
  const present = namesIn(expression);
  const assume = {};
  for (const [name, {type}] of table.types) if (present.has(name)) assume[name] = type;
  return assume;
}

// ----- drawing ----------------------------------------------------------------------------------------

let timer = 0;
let generation = 0;

export function refreshSoon() {
  clearTimeout(timer);
  timer = setTimeout(refresh, 250);
}

export async function refresh() {
  clearTimeout(timer);
  const expression = $("expression").value;
  if (!expression.trim()) { table.inputs = []; draw(expression, [], null); return; }
  const mine = ++generation;
  const {ok, data} = await post("/api/variables", {expression, shapes: declaredShapes(expression)});
  if (mine !== generation) return;
  if (ok) {
    table.inputs = data.variables || [];
    draw(expression, table.inputs, data.problem);
  } else draw(expression, null, data);
}

function draw(expression, rows, problem) {
  const problemBox = $("variables-problem");
  const sameAsError = problem && !$("error").hidden && $("error-message").textContent === problem.error;
  problemBox.textContent = problem ? problem.error : "";
  problemBox.hidden = !problem || sameAsError;   // an error is shown once
  if (!rows) { showDeclared(); return; }  // keep the table while the expression is mid-edit
  if (!table.wrt.length && rows.length === 1) {   // one input: the choice is obvious, tick it
    table.wrt = [rows[0].name];
    table.wanted = [...table.wanted.filter((name) => name !== rows[0].name), rows[0].name];
    $("variables").dataset.names = "";
  }
  const names = [...rows.map((row) => row.name), ...intermediatesIn(expression).map((name) => "=" + name)];
  const body = $("variables");
  if (body.dataset.names === names.join(",")) {
    // The same variables: update in place, so that typing in a cell never loses focus.
    for (const row of rows) updateRow(body.querySelector(`tr[data-name="${row.name}"]`), row);
    return;
  }
  body.dataset.names = names.join(",");
  clear(body);
  for (const row of rows) {
    const tr = body.appendChild(inputRow(row));
    updateRow(tr, row);
  }
  for (const name of intermediatesIn(expression)) body.appendChild(intermediateRow(name));
}

function tick(name) {
  const box = element("input");
  box.type = "checkbox";
  box.className = "wrt";
  box.dataset.wrt = name;
  box.checked = table.wrt.includes(name);
  box.setAttribute("aria-label", `differentiate with respect to ${name}`);
  box.addEventListener("change", () => {
    table.wrt = box.checked ? [...table.wrt.filter((n) => n !== name), name] : table.wrt.filter((n) => n !== name);
    table.wanted = [...table.wanted.filter((n) => n !== name), ...(box.checked ? [name] : [])];
  });
  return box;
}

function inputRow(row) {
  const tr = element("tr");
  tr.dataset.name = row.name;
  tr.appendChild(element("td")).appendChild(tick(row.name));
  tr.appendChild(element("th")).appendChild(element("code", row.name));
  tr.lastChild.scope = "row";

  const shapeCell = tr.appendChild(element("td", null, "shape-cell"));
  const input = shapeCell.appendChild(element("input", null, "shape"));
  input.value = table.shapes.get(row.name)?.spec || "";
  input.spellcheck = false;
  input.dataset.name = row.name;
  input.setAttribute("aria-label", `shape of ${row.name}`);
  const origin = shapeCell.appendChild(element("span", "", "origin"));
  origin.id = `origin-${row.name}`;
  input.setAttribute("aria-describedby", origin.id);
  input.addEventListener("input", () => {
    if (input.value.trim()) table.shapes.set(row.name, {spec: input.value, origin: "typed"});
    else table.shapes.delete(row.name);
    refreshSoon();
  });

  const select = tr.appendChild(element("td")).appendChild(element("select", null, "type"));
  select.dataset.name = row.name;
  select.setAttribute("aria-label", `type of ${row.name}`);
  select.addEventListener("change", () => {
    const shown = table.inputs.find((r) => r.name === row.name)?.shape;
    const spec = shapeFor(select.value, table.shapes.get(row.name)?.spec, shown, row.name);
    if (KINDS.has(select.value)) table.types.delete(row.name);
    else table.types.set(row.name, {type: select.value, origin: "typed"});
    if (spec !== null) {
      table.shapes.set(row.name, {spec, origin: "typed"});
      input.value = spec;
      refreshSoon();
    }
  });
  return tr;
}

// The shape a choice in the type menu implies, keeping what fits of the one there (typed or
// inferred); null to leave the shape as it is.
function shapeFor(type, typed, inferred, name) {
  const current = typed ? parseSpec(typed) : inferred || null;
  const fresh = (count) => freshDimensions(count, name);
  if (type === "scalar") return "scalar";
  if (type === "vector") return current?.length === 1 ? null : fresh(1)[0];
  if (type === "matrix") return current?.length === 2 ? null : fresh(2).join(" x ");
  if (MATRIX_ONLY.has(type)) {
    if (current?.length === 2 && String(current[0]) === String(current[1])) return null;
    const side = current?.length === 2 ? current[0] : current?.length === 1 ? current[0] : fresh(1)[0];
    return typeof side === "number" ? `${side}x${side}` : `${side} x ${side}`;
  }
  return null;   // positive, one-hot: any shape
}

function parseSpec(spec) {   // "2x3" -> [2, 3], "n" -> ["n"], "scalar" -> []
  const text = spec.trim().toLowerCase();
  if (text === "scalar" || text === "") return [];
  return text.split(/\s*[x×,]\s*/).filter(Boolean).map((d) => (/^\d+$/.test(d) ? Number(d) : d));
}

// Dimension names no declared shape uses yet: n, then m, p, q, …
function freshDimensions(count, except) {
  const used = new Set([...table.shapes.entries()].filter(([name]) => name !== except)
    .flatMap(([, {spec}]) => parseSpec(spec).map(String)));
  const free = ["n", "m", "p", "q", "r", "k"].filter((d) => !used.has(d));
  return count === 2 ? [free[1] ?? "m", free[0] ?? "n"] : free.slice(0, count);
}

function updateRow(tr, row) {
  const input = tr.querySelector("input.shape");
  const given = table.shapes.get(row.name);
  input.placeholder = row.shape ? shapeSpec(row.shape) : "unknown";
  tr.querySelector(".origin").textContent = given ? ORIGIN_WORDS[given.origin] : (row.shape ? "inferred" : "");
  tr.classList.toggle("inferred", !given);

  const select = tr.querySelector("select.type");
  const shape = given ? parseSpec(given.spec) : row.shape;
  const [rows, columns] = shape || [];
  const square = !shape || (shape.length === 2 && (rows === columns || typeof rows === "string" || typeof columns === "string"));
  const kind = !shape ? "" : ["scalar", "vector", "matrix"][Math.min(shape.length, 2)];
  const chosen = table.types.get(row.name)?.type || kind;
  clear(select);
  if (!chosen) select.appendChild(element("option", "—")).value = "";   // no shape known yet
  for (const [value, words] of TYPES) {
    if (value !== chosen && ((!square && MATRIX_ONLY.has(value)) || (kind === "scalar" && NOT_SCALAR.has(value)))) continue;
    const option = select.appendChild(element("option", words));
    option.value = value;
  }
  select.value = chosen;

  let note = tr.nextElementSibling?.classList.contains("trap") ? tr.nextElementSibling : null;
  if (row.could_be && !given) {
    if (!note) tr.after(trapRow(row));
  } else if (note) note.remove();
}

// The bias trap: an undeclared b in W*x + b is a scalar by the naming rule, though a vector fits too.
function trapRow(row) {
  const tr = element("tr", null, "trap");
  const cell = tr.appendChild(element("td"));
  cell.colSpan = 4;
  const shape = shapeSpec(row.could_be);
  const vector = row.could_be.length === 1 ? `a vector of length ${row.could_be[0]}` : shapeSpec(row.could_be);
  cell.appendChild(element("span", `${row.name} is a scalar here only by the naming rule (undeclared a–g are ` +
    `scalars). It could also be ${vector}, and the answer would change. `));
  const button = cell.appendChild(element("button", `Make ${row.name} a vector`, "secondary small"));
  button.type = "button";
  button.addEventListener("click", () => {
    table.shapes.set(row.name, {spec: shape, origin: "typed"});
    const input = $("variables").querySelector(`input.shape[data-name="${row.name}"]`);
    if (input) { input.value = shape; input.focus(); }
    tr.remove();
    refresh();
  });
  return tr;
}

function intermediateRow(name) {
  const tr = element("tr", null, "intermediate");
  tr.dataset.name = name;
  tr.appendChild(element("td")).appendChild(tick(name));
  tr.appendChild(element("th")).appendChild(element("code", name));
  tr.lastChild.scope = "row";
  const cell = tr.appendChild(element("td", "intermediate: ∂ of the result by it (its delta)", "hint"));
  cell.colSpan = 2;
  return tr;
}
