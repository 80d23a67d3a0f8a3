// matdiff's page: a form, one /api/diff per variable ticked, and the answers drawn with DOM calls.
//
// The state lives in the URL (?expr=&wrt=&order=&layout=&shapes=&assume=), so a result is a link.
// Every query owns an AbortController: a new query, Cancel, or going back stops what the last one
// still had running, and a result on screen is marked stale from the moment the URL moves on.

import {$, caretAt, clear, drawMath, element, setText, shapeWords, show, watchOverflow} from "./dom.js";
import {clientTimeoutSeconds, getJSON, post, setServerTimeout} from "./api.js";
import {EXAMPLES} from "./examples.js";
import {copyButtons, setUpSections} from "./sections.js";
import * as variables from "./variables.js";

const LAYOUT_WORDS = {
  numerator: "numerator layout", denominator: "denominator layout", gradient: "gradient layout",
  jacobian: "jacobian layout", vec: "vec layout (Magnus–Neudecker)",
};
const ID_ATTRIBUTES = ["for", "aria-controls", "aria-labelledby", "aria-describedby", "data-copy"];

const state = {
  capabilities: {},
  shown: null,        // the link of the answer on screen: the form differs from it, the answer is stale
  query: null,        // {controller, generation} of the query in flight or on screen
  generation: 0,
};

// ----- the URL: the state to share ----------------------------------------------------------------------

function readQuery() {
  // Decoded by hand so that a '+' typed into a link stays a plus (URLSearchParams makes it a space).
  const query = {};
  for (const part of location.search.replace(/^\?/, "").split("&")) {
    if (!part) continue;
    const at = part.indexOf("=");
    const key = at < 0 ? part : part.slice(0, at);
    try { query[decodeURIComponent(key)] = decodeURIComponent(at < 0 ? "" : part.slice(at + 1)); } catch (_) { /* bad escape */ }
  }
  return query;
}

function parsePairs(text) {   // "W2:1x2;W1:2x2;h:2" -> {W2: "1x2", ...}
  const pairs = {};
  for (const item of (text || "").split(";")) {
    const at = item.indexOf(":");
    if (at > 0) pairs[item.slice(0, at).trim()] = item.slice(at + 1).trim();
  }
  return pairs;
}

function formatPairs(pairs) {
  return Object.entries(pairs).map(([name, value]) => `${name}:${value.replace(/\s+/g, "")}`).join(";");
}

function permalink(query) {
  const escape = (s) => encodeURIComponent(s).replace(/%3A/gi, ":").replace(/%3B/gi, ";").replace(/%2C/gi, ",");
  const parts = [["expr", query.expression], ["wrt", query.wrt.join(",")]];
  if (query.order === 2) parts.push(["order", "2"]);
  parts.push(["layout", query.layout]);
  if (Object.keys(query.shapes).length) parts.push(["shapes", formatPairs(query.shapes)]);
  if (Object.keys(query.assume).length) parts.push(["assume", formatPairs(query.assume)]);
  return "/?" + parts.map(([k, v]) => `${k}=${escape(v)}`).join("&");
}

function fromURL() {
  const query = readQuery();
  if (!query.expr) return false;
  let wrt = (query.wrt || "").split(/[\s,]+/).filter(Boolean);
  let order = query.order === "2" ? 2 : 1;
  if (order === 1 && wrt.length > 1 && new Set(wrt).size === 1) { order = 2; wrt = [wrt[0]]; }  // older links: wrt=x,x
  fill({expr: query.expr, wrt, order, layout: query.layout, shapes: parsePairs(query.shapes),
        assume: parsePairs(query.assume)}, "link");
  return true;
}

// ----- the form -----------------------------------------------------------------------------------------

function fitEditor() {   // as many rows as the program has lines, within reason
  const lines = $("expression").value.split("\n").length;
  $("expression").rows = Math.max(3, Math.min(lines + 1, 14));
}

function fill(example, origin) {
  $("expression").value = example.expr || "";
  fitEditor();
  if (example.layout && LAYOUT_WORDS[example.layout]) $("layout").value = example.layout;
  $("order").value = String(example.order === 2 ? 2 : 1);
  variables.load(example, origin);
  $("variables").dataset.names = "";   // redraw every row: ticks, shapes and types all change
  variables.refresh();
}

// What the form asks for, as the /api/diff requests to make; or a problem to show.
function readForm() {
  const expression = $("expression").value;
  const order = Number($("order").value) === 2 ? 2 : 1;
  const layout = $("layout").value;
  const wrt = [...variables.table.wrt];
  const query = {expression, order, layout, wrt, shapes: variables.declaredShapes(expression),
                 assume: variables.assumptions(expression)};
  if (!expression.trim()) return {problem: "type an expression first"};
  if (!wrt.length) return {problem: "tick the variable(s) to differentiate by, in the Variables table"};
  if (order === 2 && wrt.length > 2) {
    return {problem: `a second derivative takes one ticked variable (∂²/∂x²) or two (∂²/∂x∂y); ${wrt.length} are ticked`};
  }
  const by = order === 1 ? wrt.map((name) => [name]) : [wrt.length === 1 ? [wrt[0], wrt[0]] : wrt];
  query.requests = by.map((names) => {
    const request = {expression, wrt: names, layout, shapes: query.shapes};
    if (Object.keys(query.assume).length) request.assume = query.assume;
    return request;
  });
  return query;
}

// ----- differentiate --------------------------------------------------------------------------------------

async function differentiate({push = true, reveal = false} = {}) {
  const query = readForm();
  if (query.problem) { stop(); showError({error: query.problem}, undefined, reveal); return; }
  const link = permalink(query);
  if (push && link !== location.pathname + location.search) history.pushState(null, "", link);
  stop();
  const controller = new AbortController();
  const mine = state.query = {controller, generation: ++state.generation};
  markStale(true);
  busy(true);
  const backward = backwardPass(query, controller.signal);
  const replies = await Promise.all(query.requests.map(
    (request) => post("/api/diff", {...request, include: ["check", "vec"]}, controller.signal)));
  const pass = await backward;
  if (state.query !== mine) return;
  busy(false);
  const failed = replies.find((reply) => !reply.ok);
  if (failed && failed.cancelled) { stopped(); return; }
  if (failed) { showError(failed.data, query.expression, reveal); return; }
  drawResult(query, replies.map((reply) => reply.data), link, controller.signal);
  drawBackwardPass(pass);
  if (reveal) revealAndFocus($("result-title"));
}

function stop() {   // abandon the query in flight and every section request of the one on screen
  if (state.query) state.query.controller.abort();
  state.query = null;
  busy(false);
}

let ticking = 0;

function busy(on) {
  $("go").disabled = on;
  $("go").textContent = on ? "Working…" : "Differentiate";
  show($("cancel"), on);
  document.body.classList.toggle("busy", on);
  clearInterval(ticking);
  const progress = clear($("progress"));
  if (!on) return;
  progress.append("Working… ");
  const seconds = progress.appendChild(element("span", "0 s"));
  seconds.setAttribute("aria-hidden", "true");
  const started = Date.now();
  ticking = setInterval(() => {
    seconds.textContent = `${Math.round((Date.now() - started) / 1000)} s of at most ${clientTimeoutSeconds()} s`;
  }, 1000);
}

const STALE_WORDS = {
  computing: "This result is for the previous query; the new one is being computed.",
  edited: "This result is for the inputs you had before: press Differentiate (or Ctrl+Enter) for these.",
};

function markStale(stale, why = "computing") {
  const shown = !$("result").hidden;
  $("stale").textContent = STALE_WORDS[why];
  show($("stale"), stale && shown);
  $("result").classList.toggle("stale", stale && shown);
  $("result").setAttribute("aria-busy", String(stale && shown));
}

// Any edit of the form: the answer on screen belongs to other inputs from that moment (and to these
// again when the edit is undone). The query in flight, if any, is for the old inputs too.
function formChanged() {
  if ($("result").hidden || state.shown === null || document.body.classList.contains("busy")) return;
  const query = readForm();
  markStale(query.problem !== undefined || permalink(query) !== state.shown, "edited");
}

function stopped() {
  hideResult();
  show($("error"), false);
  $("progress").textContent = "Stopped. The link above is for the query you stopped; Differentiate runs it again.";
}

function hideResult() {
  markStale(false);
  show($("result"), false);
}

// On a phone the answer appears below the fold: bring it up and put the focus on its heading.
function revealAndFocus(heading) {
  heading.focus({preventScroll: true});
  const smooth = !matchMedia("(prefers-reduced-motion: reduce)").matches;
  heading.closest(".card, section").scrollIntoView({block: "start", behavior: smooth ? "smooth" : "auto"});
}

function showError(data, expression, reveal = false) {
  hideResult();
  show($("error"), true);
  $("progress").textContent = "";
  $("error-message").textContent = data.error || "something went wrong";
  let caret = data.caret;
  if (!caret && Number.isInteger(data.position) && expression !== undefined) caret = caretAt(expression, data.position);
  setText($("error-caret"), caret || "");
  show($("error-caret"), Boolean(caret));
  $("variables-problem").hidden ||= $("variables-problem").textContent === $("error-message").textContent;
  if (reveal) revealAndFocus($("error-title"));
}

// ----- the answers: one per variable ticked ---------------------------------------------------------------

function answerBlock(k) {   // the first answer is in the page; the others are copies with their own ids
  if (k === 0) return "";
  const copy = $("answer").cloneNode(true);
  const suffix = `-${k}`;
  for (const node of [copy, ...copy.querySelectorAll("*")]) {
    if (node.id) node.id += suffix;
    for (const attribute of ID_ATTRIBUTES) {
      if (node.hasAttribute(attribute)) node.setAttribute(attribute, node.getAttribute(attribute) + suffix);
    }
  }
  $("answers").appendChild(copy);
  return suffix;
}

function drawResult(query, answers, link, signal) {
  show($("error"), false);
  $("progress").textContent = "";
  for (const old of [...$("answers").children].slice(1)) old.remove();
  answers.forEach((data, k) => drawAnswer(answerBlock(k), data, query.requests[k], query, signal));
  markStale(false);
  state.shown = link;
  show($("result"), true);
  drawMath($("question-math"), answers[0].question?.mathml, answers[0].question?.latex);
  show($("question"), Boolean(answers[0].question));
  for (const box of $("result").querySelectorAll(".math")) watchOverflow(box);
  formChanged();   // edited while it was computed: it is already the old answer
  $("permalink").href = link;
  $("permalink").textContent = location.origin + link;
  copyButtons($("result"));
}

function drawAnswer(suffix, data, request, query, signal) {
  const id = (name) => $(name + suffix);
  const by = request.wrt;
  id("result-title").textContent = query.order === 2
    ? `Second derivative by ${by.join(" and ")}` + (by[0] === by[1] ? " (Hessian)" : " (mixed)")
    : `Derivative with respect to ${by[0]}`;
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
  drawVec(id, data.vec, query.requests.length === 1);
  drawCheck(id, data.check);
  setUpSections(suffix, request, signal, state.capabilities);
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
  if (check.error) line.textContent = "Not checked: " + check.error;
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

// Several gradients of a scalar: also the one backward pass that gives them all (md.gradients).
// Optional: a server without /api/gradients, or a value that is not a scalar, just leaves it out.
async function backwardPass(query, signal) {
  const intermediates = new Set(variables.intermediatesIn(query.expression));
  if (query.order !== 1 || query.wrt.length < 2 || query.wrt.some((name) => intermediates.has(name))) return null;
  const body = {expression: query.expression, inputs: query.wrt, shapes: query.shapes};
  if (Object.keys(query.assume).length) body.assume = query.assume;
  const {ok, data} = await post("/api/gradients", body, signal);
  return ok && typeof data.text === "string" ? data : null;
}

function drawBackwardPass(pass) {
  show($("backward-card"), Boolean(pass));
  if (!pass) return;
  drawMath($("backward-math"), pass.mathml, pass.latex);
  setText($("backward-text"), pass.text);
}

// ----- what the server offers -------------------------------------------------------------------------

async function loadCapabilities() {
  const reply = await getJSON("/api/capabilities");
  const notice = $("notice");
  if (!reply.ok || !reply.data || typeof reply.data !== "object") {
    state.capabilities = {};
    clear(notice).append(`The server's list of features could not be loaded (${reply.error || "bad reply"}): ` +
      "step by step, entry by entry, code and the operator list are hidden. The derivative itself still works. ");
    const retry = notice.appendChild(element("button", "Try again", "secondary small"));
    retry.type = "button";
    retry.onclick = async () => { await loadCapabilities(); if (!$("result").hidden) differentiate({push: false}); };
    show(notice, true);
    drawReference(null);
    return;
  }
  show(notice, false);
  state.capabilities = reply.data;
  setServerTimeout(Number(reply.data.limits?.timeout_s));
  drawReference(reply.data);
}

// Rows {syntax, meaning, example} from the server's reference; failing that, its bare function names.
function drawReference(capabilities) {
  const box = clear($("reference-body"));
  const names = (capabilities?.functions || []).filter((name) => typeof name === "string")
    .map((name) => ({syntax: `${name}(…)`}));
  const reference = capabilities?.reference || {};
  const groups = [["Operators", reference.operators], ["Functions", reference.functions || names]];
  if (!groups.some(([, items]) => Array.isArray(items) && items.length)) {
    box.appendChild(element("p", "This server did not send its list of operators and functions.", "hint"));
    return;
  }
  for (const [title, items] of groups) {
    if (!Array.isArray(items) || !items.length) continue;
    box.appendChild(element("h3", title));
    const scroll = box.appendChild(element("div", null, "table-scroll"));
    watchOverflow(scroll, `table of ${title.toLowerCase()}`);
    const table = scroll.appendChild(element("table", null, "reference-table"));
    const head = table.appendChild(element("thead")).appendChild(element("tr"));
    for (const column of ["syntax", "meaning", "example"]) head.appendChild(element("th", column)).scope = "col";
    const body = table.appendChild(element("tbody"));
    for (const item of items) {
      const tr = body.appendChild(element("tr"));
      tr.appendChild(element("td")).appendChild(element("code", item.syntax || item.name));
      tr.appendChild(element("td", item.meaning || ""));
      tr.appendChild(element("td")).appendChild(element("code", item.example || ""));
    }
  }
}

// ----- start ------------------------------------------------------------------------------------------

function chooseExample(event) {
  const example = EXAMPLES[Number(event.target.value)];
  if (!example || event.target.value === "") return;
  fill(example, "example");   // the menu keeps showing the example chosen, so ArrowDown goes on to the next
  differentiate({reveal: false}).then(() => {
    if (matchMedia("(max-width: 40rem)").matches && !$("result").hidden) {
      $("result").scrollIntoView({block: "start"});
    }
  });
}

function expressionEdited() {
  fitEditor();
  const chosen = EXAMPLES[Number($("examples").value)];
  if ($("examples").value !== "" && chosen && chosen.expr !== $("expression").value) $("examples").value = "";
  if (variables.reconcile($("expression").value)) $("variables").dataset.names = "";
  variables.refreshSoon();
}

async function start() {
  for (const [i, example] of EXAMPLES.entries()) {
    const option = element("option", example.title);
    option.value = String(i);
    $("examples").appendChild(option);
  }
  $("examples").addEventListener("change", chooseExample);
  $("form").addEventListener("submit", (event) => { event.preventDefault(); differentiate({reveal: true}); });
  $("cancel").addEventListener("click", () => { stop(); stopped(); });
  $("expression").addEventListener("input", expressionEdited);
  for (const event of ["input", "change"]) $("form").addEventListener(event, () => setTimeout(formChanged));
  $("expression").addEventListener("keydown", (event) => {   // Ctrl/Cmd+Enter differentiates
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) { event.preventDefault(); differentiate({reveal: true}); }
  });
  window.addEventListener("popstate", () => { stop(); showURL(); });

  watchOverflow($("error-caret"), "the expression");
  watchOverflow($("backward-text"), "backward pass");
  watchOverflow(document.querySelector(".variables .table-scroll"), "table of variables");
  await loadCapabilities();
  showURL();
}

// The whole state the URL describes: the form, the example menu, the answer. "/" is the first example.
function showURL() {
  if (!fromURL()) fill(EXAMPLES[0], "example");
  $("examples").value = exampleShown();
  differentiate({push: false});
}

// The example the form now holds (its expression, variables and layout), or "" for none.
function exampleShown() {
  const index = EXAMPLES.findIndex((example) => example.expr === $("expression").value &&
    (example.layout || "numerator") === $("layout").value &&
    (example.wrt || []).join(",") === [...variables.table.wrt].join(","));
  return index < 0 ? "" : String(index);
}

start();
