// The slower parts of an answer (step by step, entry by entry, code) are computed only when their
// card is opened, each in its own request: closing the card or starting a new query cancels it, so
// the main result never waits for them and a follow-up query never queues behind them.

import {$, caretAt, clear, copyText, drawReport, element, pageTerms, setText, watchOverflow} from "./dom.js";
import {post} from "./api.js";
import {chainDiagram} from "./diagram.js";

const TARGETS = ["numpy", "jax", "torch"];
const FEATURE = {explain: "explain", entries: "entries", code: "codegen"};

// `answer`: the answer's element ids end in `suffix`; `request` the /api/diff body it came from.
export function setUpSections(suffix, request, signal, capabilities) {
  const id = (name) => $(name + suffix);
  for (const section of ["explain", "entries", "code"]) {
    const card = id(`${section}-card`);
    card.open = false;
    card.hidden = !capabilities[FEATURE[section]];
    let controller = null;
    let loaded = false;
    card.ontoggle = async () => {
      if (!card.open) {   // closed while loading: stop that work
        if (controller) controller.abort();
        return;
      }
      if (loaded || controller) return;
      controller = new AbortController();
      signal.addEventListener("abort", () => controller?.abort(), {once: true});
      const done = await LOADERS[section](id, request, controller.signal);
      controller = null;
      loaded = done;
    };
  }
  const claim = id("claim-card");
  claim.hidden = !capabilities.check;
  claim.open = false;
  clear(id("verdict"));
  id("claim-form").onsubmit = (event) => { event.preventDefault(); checkAnswer(id, request, signal); };
}

function working(box) {
  clear(box).appendChild(element("p", "Working…", "hint"));
}

// Each loader draws its section and says whether it is complete (false: load again when reopened).
const LOADERS = {
  async explain(id, request, signal) {
    return report(id("explanation"), "/api/explain", request, signal, chainDiagram);
  },
  async entries(id, request, signal) { return report(id("entries"), "/api/entries", request, signal); },
  async code(id, request, signal) {
    const codes = {shown: null};   // target -> source; shown: the tab chosen last
    const tabs = codeTabs(id, (target) => showCode(id, request, signal, codes, target));
    id("download").onclick = () => download(id, request, signal, tabs.current());
    return showCode(id, request, signal, codes, tabs.current());
  },
};

async function report(box, path, request, signal, picture = null) {
  working(box);
  const {ok, data, cancelled} = await post(path, request, signal);
  if (cancelled) { clear(box); return false; }
  if (ok) {
    drawReport(box, data);
    const figure = picture && picture(data);
    if (figure) {
      box.prepend(figure);
      watchOverflow(figure, "diagram of the chain");   // wider than a phone: it scrolls, by keyboard too
    }
  }
  else clear(box).appendChild(element("p", pageTerms(data.error || "not available"), "problem"));
  return ok;
}

// WAI-ARIA tabs: one tab stop; the arrow keys, Home and End move between tabs and select them.
function codeTabs(id, select) {
  const list = clear(id("code-tabs"));
  const panel = id("code-panel");
  const tabs = TARGETS.map((target, i) => {
    const tab = element("button", target, "tab");
    tab.type = "button";
    tab.id = `${list.id}-${target}`;
    tab.setAttribute("role", "tab");
    tab.setAttribute("aria-controls", panel.id);
    tab.addEventListener("click", () => choose(i));
    return list.appendChild(tab);
  });
  let current = 0;
  function choose(i, focus = false) {
    current = i;
    tabs.forEach((tab, k) => {
      tab.setAttribute("aria-selected", String(k === i));
      tab.tabIndex = k === i ? 0 : -1;
    });
    panel.setAttribute("aria-labelledby", tabs[i].id);
    if (focus) tabs[i].focus();
    select(TARGETS[i]);
  }
  list.onkeydown = (event) => {
    const moves = {ArrowRight: current + 1, ArrowLeft: current - 1, Home: 0, End: tabs.length - 1};
    if (!(event.key in moves)) return;
    event.preventDefault();
    choose((moves[event.key] + tabs.length) % tabs.length, true);
  };
  tabs.forEach((tab, k) => { tab.setAttribute("aria-selected", String(k === 0)); tab.tabIndex = k === 0 ? 0 : -1; });
  panel.setAttribute("aria-labelledby", tabs[0].id);
  return {current: () => TARGETS[current]};
}

async function showCode(id, request, signal, codes, target) {
  codes.shown = target;
  if (!(target in codes)) {
    watchOverflow(id("code"), "code");
    setText(id("code"), "Working…");
    const {ok, data, cancelled} = await post("/api/codegen", {...request, target}, signal);
    if (cancelled) return false;
    codes[target] = ok ? data.code : `# ${data.error || "not available"}`;
  }
  if (codes.shown === target) setText(id("code"), codes[target]);
  return true;
}

async function download(id, request, signal, target) {
  const button = id("download");
  button.disabled = true;
  const {ok, data} = await post("/api/codegen", {...request, target, check: true}, signal);
  button.disabled = false;
  if (!ok) {
    id("code").textContent = `# ${data.error || "not available"}`;
    return;
  }
  const link = element("a");
  link.href = URL.createObjectURL(new Blob([data.code], {type: "text/x-python"}));
  link.download = `matdiff_${request.wrt.join("_")}_${target}.py`;
  document.body.appendChild(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
}

async function checkAnswer(id, request, signal) {
  const claim = id("claim").value.trim();
  const verdict = clear(id("verdict"));
  if (!claim) return;
  verdict.appendChild(element("p", "Checking…", "hint"));
  const {ok, data, cancelled} = await post("/api/check", {...request, claim}, signal);
  clear(verdict);
  if (cancelled) return;
  if (!ok) {
    verdict.appendChild(element("p", pageTerms(data.error || "the check failed"), "problem"));
    const caret = data.caret || (Number.isInteger(data.position) ? caretAt(claim, data.position) : "");
    if (caret) verdict.appendChild(element("pre", caret));
    return;
  }
  drawReport(verdict, data);
}

export function copyButtons(root) {
  for (const button of root.querySelectorAll("button.copy")) {
    button.onclick = () => {
      const source = $(button.dataset.copy);
      copyText(button, source.tagName === "A" ? source.href : source.textContent);
    };
  }
}
