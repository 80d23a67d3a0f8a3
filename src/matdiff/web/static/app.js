// matdiff's page: a form, one /api/diff per variable ticked, and the answers drawn with DOM calls.
//
// The state lives in the URL (?expr=&wrt=&order=&layout=&shapes=&assume=), so a result is a link.
// Every query owns an AbortController: a new query, Cancel, or going back stops what the last one
// still had running, and a result on screen is marked stale from the moment the URL moves on.

import {$, caretAt, clear, drawMath, element, setText, show, watchOverflow} from "./dom.js";
import {clientTimeoutSeconds, getJSON, post, setServerTimeout} from "./api.js";
import {LAYOUT_WORDS, answerBlocks, drawAnswer, drawFailure, drawPending} from "./answers.js";
import {EXAMPLES} from "./examples.js";
import {copyButtons} from "./sections.js";
import * as variables from "./variables.js";

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
  const replies = query.requests.map((request) => post("/api/diff", request, controller.signal));
  const first = await replies[0];
  if (state.query !== mine) return;
  if (first.cancelled) { busy(false); stopped(); return; }
  if (!first.ok && (first.status === 400 || replies.length === 1)) {   // the input is wrong: every answer would say so
    busy(false);
    showError(first.data, query.expression, reveal);
    return;
  }
  const blocks = answerBlocks(query.requests.length);
  blocks.forEach((suffix, k) => drawPending(suffix, query.requests[k], query));
  drawResult(link);
  if (first.ok) drawQuestion(first.data.question);
  for (const [k, reply] of replies.entries()) {   // each answer as it comes, in the order asked
    const {ok, data, cancelled} = await reply;
    if (state.query !== mine) return;
    if (cancelled) { busy(false); stopped(); return; }
    if (ok) drawAnswer(blocks[k], data, query.requests[k], query, controller.signal, state.capabilities);
    else drawFailure(blocks[k], data, query.requests[k], query);
    if (ok && !$("question").dataset.drawn) drawQuestion(data.question);
    watchAll();
  }
  busy(false);
  const pass = await backward;
  if (state.query !== mine) return;
  drawBackwardPass(pass);
  formChanged();   // edited while it was computed: it is already the old answer
  if (reveal) revealAndFocus($("result-title"));   // once the blocks above the first answer are drawn
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

// ----- the result: the question, the answers (answers.js), the backward pass ----------------------------

function drawResult(link) {
  show($("error"), false);
  $("progress").textContent = "";
  markStale(false);
  state.shown = link;
  show($("result"), true);
  show($("question"), false);
  delete $("question").dataset.drawn;
  show($("backward-card"), false);
  $("permalink").href = link;
  $("permalink").textContent = location.origin + link;
  watchAll();
}

function drawQuestion(question) {
  if (!question) return;
  drawMath($("question-math"), question.mathml, question.latex);
  show($("question"), true);
  $("question").dataset.drawn = "yes";
}

function watchAll() {
  for (const box of $("result").querySelectorAll(".math")) watchOverflow(box);
  copyButtons($("result"));
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
