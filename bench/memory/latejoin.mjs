// Late join in Chromium: how long from navigating to /b/<board> until the
// canvas shows the whole board. Run by bench/run.sh:
//
//   node bench/memory/latejoin.mjs BASE_URL BOARD HEAD VISIBLE_PIECES RUNS
//
// Each run is a fresh browser context (no cache, no storage) and a page of
// 1280×720. "Complete" is the page's own word when it has one: its read-only
// hook window.__draw says settled() (synced, caught up, nothing pending, no
// redraw due) and have() ≥ HEAD. Without the hook the canvas is sampled
// every animation frame and complete is the last change before it stayed
// still for 1.5 s. Times are performance.now() in the page, i.e. from the
// start of the navigation; with the hook each run also says when the socket
// first connected, when the log was applied up to HEAD (have() ≥ HEAD) and,
// from the resource timing, when the history fetch started and ended.
// Prints one JSON object; exits 1 on failure.
import { chromium } from "playwright-core";

const [base, board, headArg, visibleArg, runsArg] = process.argv.slice(2);
if (!/^http:\/\/(127\.|localhost)/.test(base || "") || !board) {
  process.stderr.write("usage: node latejoin.mjs http://127.0.0.1:PORT BOARD HEAD VISIBLE_PIECES RUNS\n");
  process.exit(2);
}
const head = Number(headArg) || 0;
const visibleWanted = Number(visibleArg) || 0;
const runs = Math.min(Math.max(Number(runsArg) || 3, 1), 10);
const RUN_TIMEOUT = 30000;

const ARGS = [
  "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
  "--disable-component-update", "--disable-sync", "--disable-quic", "--no-first-run",
];

function fail(message) {
  process.stdout.write(JSON.stringify({ ok: false, error: message }) + "\n");
  process.exit(1);
}

// In the page: wait for the hook to say the board is complete. Resolves
// {at, how} with at = performance.now() of the first frame it was.
function waitHook({ headSeq, timeout }) {
  return new Promise((resolve) => {
    const t0 = performance.now();
    // When the socket was first connected and when the log was first
    // applied up to the head, to split the time into its parts.
    const marks = { connected: null, applied: null };
    const check = () => {
      const d = window.__draw;
      const now = performance.now();
      if (d && marks.connected === null && d.socket && d.socket.connected) marks.connected = now;
      if (d && marks.applied === null && typeof d.have === "function" && d.have() >= headSeq) marks.applied = now;
      if (d && typeof d.settled === "function" && typeof d.have === "function" && d.settled() && d.have() >= headSeq) {
        resolve({ at: now, how: "hook", connected_at: marks.connected, applied_at: marks.applied });
        return;
      }
      // No hook once the page has loaded and had a moment: let the caller fall back.
      if (!d && document.readyState === "complete" && performance.now() - t0 > 3000) {
        resolve({ at: 0, how: "no-hook" });
        return;
      }
      if (performance.now() - t0 > timeout) {
        resolve({ at: 0, how: "timeout", have: d && d.have ? d.have() : null, settled: d && d.settled ? d.settled() : null });
        return;
      }
      requestAnimationFrame(check);
    };
    check();
  });
}

// In the page: sample the canvas each frame; done when it has not changed
// for stillMs. Returns the time of the last change.
function waitStill({ stillMs, timeout }) {
  return new Promise((resolve) => {
    const c = document.querySelector("canvas");
    const t0 = performance.now();
    let last = null, changedAt = performance.now();
    const sample = () => {
      const w = c.width, h = c.height;
      const d = c.getContext("2d").getImageData(0, 0, w, h).data;
      let s = 0;
      for (let i = 3; i < d.length; i += 4 * 7) s = (s * 31 + d[i] + d[i - 1] + d[i - 2]) | 0;
      return s;
    };
    const tick = () => {
      const now = performance.now();
      const s = sample();
      if (s !== last) { last = s; changedAt = now; }
      if (now - changedAt >= stillMs || now - t0 > timeout) {
        resolve({ at: changedAt, how: now - t0 > timeout ? "timeout" : "still" });
        return;
      }
      requestAnimationFrame(tick);
    };
    tick();
  });
}

function inkInPage() {
  const c = document.querySelector("#canvas") || document.querySelector("canvas");
  const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
  let n = 0;
  for (let i = 3; i < d.length; i += 4) if (d[i]) n++;
  return { ink: n, width: c.width, height: c.height };
}

const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || "/usr/bin/chromium", headless: true, args: ARGS, timeout: 30000 });
const killer = setTimeout(() => { browser.close().catch(() => {}); fail("gave up after " + (runs * RUN_TIMEOUT + 30000) + " ms"); }, runs * RUN_TIMEOUT + 30000);
const out = { ok: true, board, head, visible_wanted: visibleWanted, runs: [] };
try {
  const url = `${base.replace(/\/+$/, "")}/b/${encodeURIComponent(board)}`;
  for (let k = 0; k < runs; k++) {
    const context = await browser.newContext({ viewport: { width: 1280, height: 720 } });
    const page = await context.newPage();
    const errors = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    let historyBytes = 0;
    page.on("response", async (resp) => {
      if (resp.url().includes("history.ndjson")) {
        const h = await resp.allHeaders().catch(() => ({}));
        historyBytes += Number(h["content-length"] || 0);
      }
    });
    const wallStart = Date.now();
    await page.goto(url, { waitUntil: "commit", timeout: RUN_TIMEOUT });
    let done = await page.evaluate(waitHook, { headSeq: head, timeout: RUN_TIMEOUT });
    if (done.how === "no-hook") done = await page.evaluate(waitStill, { stillMs: 1500, timeout: RUN_TIMEOUT });
    const wallMs = Date.now() - wallStart;
    const nav = await page.evaluate(() => {
      const n = performance.getEntriesByType("navigation")[0];
      const r = performance.getEntriesByType("resource").filter((e) => e.name.includes("history.ndjson"));
      const h = r[0];
      return {
        response_end: n ? n.responseEnd : null,
        dom_content_loaded: n ? n.domContentLoadedEventEnd : null,
        load: n ? n.loadEventEnd : null,
        history_start: h ? h.startTime : null,
        history_response_start: h ? h.responseStart : null,
        history_end: h ? h.responseEnd : null,
        history_transfer_bytes: h ? h.transferSize : null,
        history_decoded_bytes: h ? h.decodedBodySize : null,
        history_fetches: r.length,
      };
    });
    const run = {
      complete_ms: done.at, how: done.how, wall_ms: wallMs,
      socket_connected_ms: done.connected_at ?? null, log_applied_ms: done.applied_at ?? null, ...nav, errors,
    };
    if (done.how === "hook") {
      const counts = await page.evaluate(() => {
        const p = window.__draw.pieces();
        return { pieces: p.length, visible: p.filter((x) => x.visible).length, have: window.__draw.have() };
      });
      Object.assign(run, counts);
      if (visibleWanted && counts.visible !== visibleWanted) {
        run.errors.push(`page shows ${counts.visible} visible pieces, the log has ${visibleWanted}`);
      }
    } else if (done.how === "timeout") {
      run.errors.push(`not complete within ${RUN_TIMEOUT} ms (${JSON.stringify(done)})`);
    }
    Object.assign(run, await page.evaluate(inkInPage));
    out.runs.push(run);
    process.stderr.write(`latejoin run ${k + 1}: complete at ${Math.round(run.complete_ms)} ms (${run.how}); socket ${Math.round(run.socket_connected_ms)}, history ${Math.round(nav.history_start)}–${Math.round(nav.history_end)}, applied ${Math.round(run.log_applied_ms)} ms\n`);
    await context.close();
  }
  const ok = out.runs.filter((r) => r.how === "hook" || r.how === "still").map((r) => r.complete_ms).sort((a, b) => a - b);
  out.complete_ms_median = ok.length ? ok[Math.floor(ok.length / 2)] : null;
  out.complete_ms_max = ok.length ? ok[ok.length - 1] : null;
  out.errors = out.runs.flatMap((r) => r.errors);
  out.ok = out.errors.length === 0;
} catch (err) {
  clearTimeout(killer);
  await browser.close().catch(() => {});
  fail(String(err && err.message ? err.message : err));
}
clearTimeout(killer);
await browser.close();
process.stdout.write(JSON.stringify(out) + "\n");
process.exit(out.ok ? 0 : 1);
