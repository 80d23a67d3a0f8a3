// The answers: one per variable ticked, each its own request, drawn as it arrives, so one slow
// answer never hides the others. An answer's finite-difference check and its vec form are requests
// of their own as well: the derivative shows at once, and a check that runs out of time says so in
// its own line.

import {$, clear, drawMath, element, shapeWords, show} from "./dom.js";
import {post} from "./api.js";
import {setUpSections} from "./sections.js";

export const LAYOUT_WORDS = {
  numerator: "numerator layout", denominator: "denominator layout", gradient: "gradient layout",
  jacobian: "jacobian layout", vec: "vec layout (Magnus–Neudecker)",
};
const ID_ATTRIBUTES = ["for", "aria-controls", "aria-labelledby", "aria-describedby", "data-copy"];

// One block per request: the first is in the page, the others copies with their own ids (their suffix).
export function answerBlocks(count) {
  for (const old of [...$("answers").children].slice(1)) old.remove();
  return Array.from({length: count}, (_, k) => (k === 0 ? "" : copyOfFirst(`-${k}`)));
}

function copyOfFirst(suffix) {
  const copy = $("answer").cloneNode(true);
  for (const node of [copy, ...copy.querySelectorAll("*")]) {
    if (node.id) node.id += suffix;
    for (const attribute of ID_ATTRIBUTES) {
      if (node.hasAttribute(attribute)) node.setAttribute(attribute, node.getAttribute(attribute) + suffix);
    }
  }
  $("answers").appendChild(copy);
  return suffix;
}

function title(request, query) {
  const by = request.wrt;
  return query.order === 2
    ? `Second derivative by ${by.join(" and ")}` + (by[0] === by[1] ? " (Hessian)" : " (mixed)")
    : `Derivative with respect to ${by[0]}`;
}

// The block before its reply: its title and a line that says it is being computed.
export function drawPending(suffix, request, query) {
  const id = (name) => $(name + suffix);
  id("result-title").textContent = title(request, query);
  clear(id("math")).appendChild(element("p", "Working…", "hint"));
  showParts(id, false);
}

// A request that failed on its own (a time limit, say): its block says why; the others stand.
export function drawFailure(suffix, data, request, query) {
  const id = (name) => $(name + suffix);
  id("result-title").textContent = title(request, query);
  clear(id("math")).appendChild(element("p", data.error || "no answer", "problem"));
  showParts(id, false);
}

function showParts(id, on) {
  for (const part of ["text", "notes", "index-card", "claim-card", "explain-card", "entries-card", "code-card"]) {
    show(id(part).closest(".copyable") || id(part), on);
  }
  id("shape").closest(".facts").hidden = !on;
  show(id("check-card"), false);
  show(id("vec-card"), false);
}

export function drawAnswer(suffix, data, request, query, signal, capabilities) {
  const id = (name) => $(name + suffix);
  id("result-title").textContent = title(request, query);
  showParts(id, true);
  drawMath(id("math"), data.equation?.mathml || data.mathml, data.equation?.latex || data.latex);
  id("shape").textContent = shapeWords(data.shape);
  id("layout-name").textContent = LAYOUT_WORDS[data.layout] || data.layout;
  const notes = clear(id("notes"));
  for (const note of data.notes || []) notes.appendChild(element("li", note));
  id("text").textContent = data.text || "none in this layout: the result is a tensor (see the index notation)";
  id("text").classList.toggle("missing", !data.text);
  id("text").closest(".copyable").querySelector(".copy").hidden = !data.text;
  id("latex").textContent = data.latex || "";
  id("index").textContent = data.index || "";
  id("index-card").open = query.requests.length === 1;
  setUpSections(suffix, request, signal, capabilities);
  const open = query.requests.length === 1;
  drawCheck(id, {status: "running"});
  section("check", request, signal, (check) => drawCheck(id, check));
  section("vec", request, signal, (vec) => drawVec(id, vec, open));
}

// A section of the answer as its own job: drawn when it comes, an error in its own place.
async function section(name, request, signal, draw) {
  const {ok, data, cancelled} = await post(`/api/diff/${name}`, request, signal);
  if (!cancelled) draw(ok ? data[name] : {error: data.error || "not available"});
}

function drawVec(id, vec, open) {
  show(id("vec-card"), Boolean(vec));
  if (!vec) return;
  id("vec-card").open = open;
  if (vec.error) {
    clear(id("vec-math")).appendChild(element("p", vec.error, "problem"));
    id("vec-shape").textContent = "";
    id("vec-text").closest(".copyable").hidden = true;
    return;
  }
  drawMath(id("vec-math"), vec.mathml, vec.latex);
  id("vec-shape").textContent = shapeWords(vec.shape);
  id("vec-text").textContent = vec.text || "";
  id("vec-text").closest(".copyable").hidden = !vec.text;
}

function drawCheck(id, check) {
  show(id("check-card"), Boolean(check));
  if (!check) return;
  const line = id("check");
  line.className = "verdict " + (check.status || "skipped");
  if (check.status === "running") line.textContent = "Checking against finite differences…";
  else if (check.error) line.textContent = "Not checked: " + check.error;
  else if (check.status === "passed") {
    line.textContent = `✓ Matches central finite differences (largest relative error ${Number(check.max_error).toExponential(1)}).`;
  } else if (check.status === "failed") {
    line.textContent = "✗ Does not match finite differences: " + (check.reason || "");
  } else line.textContent = "Not checked: " + (check.reason || "");
  const values = check.values ? Object.entries(check.values).map(([n, v]) => `${n} = ${JSON.stringify(v)}`) : [];
  const sizes = check.sizes ? Object.entries(check.sizes).map(([d, n]) => `${d} = ${n}`) : [];
  id("check-values").textContent = (sizes.length ? `With the sizes ${sizes.join(", ")}. ` : "") +
    (values.length ? "At random values " + values.join(", ") : "");
}
