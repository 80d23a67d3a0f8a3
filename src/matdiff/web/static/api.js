// Talking to the server: every request can be cancelled and gives up after a deadline, so the page
// never says "Working…" for ever, and a new query never waits behind an old one's slow sections.

let timeoutMs = 25_000;   // until /api/capabilities says how long the server itself may take

export function setServerTimeout(seconds) {
  // The server stops a job after timeout_s, and a request may first wait as long for a worker.
  if (Number.isFinite(seconds) && seconds > 0) timeoutMs = Math.round((2 * seconds + 2) * 1000);
}

export function clientTimeoutSeconds() { return timeoutMs / 1000; }

// {ok, status, data, cancelled, timedOut}; data.error always says what went wrong.
export async function post(path, body, signal) {
  const controller = new AbortController();
  const cancel = () => controller.abort("cancelled");
  if (signal) {
    if (signal.aborted) cancel();
    else signal.addEventListener("abort", cancel, {once: true});
  }
  const timer = setTimeout(() => controller.abort("timeout"), timeoutMs);
  try {
    const response = await fetch(path, {
      method: "POST", headers: {"content-type": "application/json"}, body: JSON.stringify(body),
      signal: controller.signal,
    });
    let data;
    try { data = await response.json(); } catch (_) { data = {error: `the server answered ${response.status}`}; }
    if (!data || typeof data !== "object") data = {error: `the server answered ${response.status}`};
    return {ok: response.ok, status: response.status, data};
  } catch (_) {
    if (controller.signal.reason === "timeout") {
      return {ok: false, timedOut: true, data: {error: `no answer within ${timeoutMs / 1000} s: the server is busy ` +
        "or the computation is too large; try again, or simplify the expression"}};
    }
    if (controller.signal.aborted) return {ok: false, cancelled: true, data: {error: "cancelled"}};
    return {ok: false, data: {error: "the server cannot be reached"}};
  } finally {
    clearTimeout(timer);
    if (signal) signal.removeEventListener("abort", cancel);
  }
}

export async function getJSON(path) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort("timeout"), timeoutMs);
  try {
    const response = await fetch(path, {signal: controller.signal});
    if (!response.ok) return {ok: false, error: `the server answered ${response.status}`};
    return {ok: true, data: await response.json()};
  } catch (_) {
    return {ok: false, error: controller.signal.aborted ? "no answer in time" : "the server cannot be reached"};
  } finally {
    clearTimeout(timer);
  }
}
