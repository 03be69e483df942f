// Shared pieces of the browser tests: launching Chromium, driving input at a
// human pace, reading canvas pixels in board coordinates, and reporting.
//
// Every script takes the server's base URL as its first argument, prints one
// JSON object on stdout and exits 0, or prints {"ok":false,"error":...} and
// exits 1. Waits are polls with a deadline, never fixed sleeps.
import { chromium } from "playwright-core";

export const BOARD_W = 2000;
export const BOARD_H = 1000;

// Wait budget for one condition; generous for a loaded 2-core machine.
export const WAIT_MS = 10000;
// Pause between input steps: longer than the pages' 50 ms throttle, so every
// step reaches the other side even from the original page (which drops moves).
export const STEP_MS = 60;

const CHROMIUM_ARGS = [
  "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
  "--disable-component-update", "--disable-sync", "--disable-quic", "--no-first-run",
];

export function baseURL() {
  const base = process.argv[2];
  if (!base || !/^https?:\/\//.test(base)) {
    fail(`usage: node ${process.argv[1]} http://127.0.0.1:PORT`);
  }
  return base.replace(/\/+$/, "");
}

export async function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: CHROMIUM_ARGS,
    timeout: 30000,
  });
}

// The URL of a board nobody else uses, so runs and scripts never meet.
export function freshBoard(base, prefix) {
  return `${base}/b/${prefix}-${Math.random().toString(36).slice(2, 10)}`;
}

// A fresh browser context (own storage, so own name/colour) with one page.
// Page errors are collected so a test can report them.
export async function openPage(browser, url, contextOptions = {}) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 720 }, ...contextOptions });
  const page = await context.newPage();
  page.errors = [];
  page.on("pageerror", (err) => page.errors.push(String(err)));
  page.on("console", (msg) => {
    // Failed loads are reported by URL below; the console only says "404".
    if (msg.type() === "error" && !msg.text().startsWith("Failed to load resource")) page.errors.push(msg.text());
  });
  page.on("response", (resp) => {
    const u = new URL(resp.url());
    if (resp.status() >= 400 && u.pathname !== "/favicon.ico") page.errors.push(`${resp.status()} ${u.pathname}`);
  });
  const resp = await page.goto(url, { waitUntil: "load" });
  if (!resp || !resp.ok()) throw new Error(`GET ${url}: ${resp ? resp.status() : "no response"}`);
  return page;
}

export function pause(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// waitUntil polls fn (in the page) until it returns a truthy value, which it
// returns; on timeout it throws an error naming what it waited for.
export async function waitUntil(page, what, fn, arg, timeout = WAIT_MS) {
  try {
    const handle = await page.waitForFunction(fn, arg, { timeout, polling: 50 });
    return await handle.jsonValue();
  } catch (err) {
    throw new Error(`timed out after ${timeout} ms waiting for ${what}` +
      (/Timeout/i.test(String(err)) ? "" : `: ${err}`));
  }
}

// The new page's connection indicator.
export function waitConnected(page, who) {
  return waitUntil(page, `${who} to show "connected"`,
    () => document.querySelector("#connection")?.dataset.state === "connected");
}

export function pointerCount(page) {
  return page.evaluate(() => document.querySelectorAll("#pointers .pointer").length);
}

// Client (viewport) coordinates of a board point on a page whose canvas is #canvas.
export async function boardToClient(page, bx, by) {
  const r = await page.evaluate(() => {
    const b = document.querySelector("#canvas").getBoundingClientRect();
    return { left: b.left, top: b.top, width: b.width, height: b.height };
  });
  return { x: r.left + bx * r.width / BOARD_W, y: r.top + by * r.height / BOARD_H };
}

// hoverUntilSeen moves sender's mouse over the board near (bx, by) until the
// receiver shows a remote pointer: proof that both are connected to the same
// board and the relay works, before anything is drawn.
export async function hoverUntilSeen(sender, receiver, bx, by, what, timeout = WAIT_MS) {
  const deadline = Date.now() + timeout;
  for (let i = 0; Date.now() < deadline; i++) {
    const p = await boardToClient(sender, bx + (i % 2) * 4, by);
    await sender.mouse.move(p.x, p.y);
    if (await pointerCount(receiver) > 0) return;
    await pause(STEP_MS);
  }
  throw new Error(`timed out after ${timeout} ms waiting for ${what}`);
}

// points along a straight line from a to b (board coordinates), ends included.
export function line(a, b, steps) {
  const out = [];
  for (let i = 0; i <= steps; i++) {
    out.push({ x: a.x + (b.x - a.x) * i / steps, y: a.y + (b.y - a.y) * i / steps });
  }
  return out;
}

// mouseStroke draws through board points with the mouse, one step per pace ms.
export async function mouseStroke(page, points, pace = STEP_MS) {
  const first = await boardToClient(page, points[0].x, points[0].y);
  await page.mouse.move(first.x, first.y);
  await page.mouse.down();
  for (const pt of points.slice(1)) {
    await pause(pace);
    const p = await boardToClient(page, pt.x, pt.y);
    await page.mouse.move(p.x, p.y);
  }
  await page.mouse.up();
}

// touchStroke draws through board points with one finger, using CDP touch
// events (what a touch screen produces: pointerType "touch").
export async function touchStroke(page, points) {
  const cdp = await page.context().newCDPSession(page);
  const at = async (pt) => {
    const p = await boardToClient(page, pt.x, pt.y);
    return [{ x: p.x, y: p.y, id: 1, radiusX: 4, radiusY: 4, force: 1 }];
  };
  await cdp.send("Input.dispatchTouchEvent", { type: "touchStart", touchPoints: await at(points[0]) });
  for (const pt of points.slice(1)) {
    await pause(STEP_MS);
    await cdp.send("Input.dispatchTouchEvent", { type: "touchMove", touchPoints: await at(pt) });
  }
  await cdp.send("Input.dispatchTouchEvent", { type: "touchEnd", touchPoints: [] });
  await cdp.detach();
}

// inkIn reports, for the board rectangle r on page's #canvas, how many pixels
// carry ink (not transparent, not white), how many match color (if given),
// and the ink's bounding box and centroid in board coordinates.
export function inkIn(page, r, color) {
  return page.evaluate(({ r, color, W, H }) => {
    const c = document.querySelector("#canvas");
    if (!c) throw new Error(`no #canvas on ${location.href}`);
    const sx = c.width / W;
    const sy = c.height / H;
    const x0 = Math.max(0, Math.floor(r.x0 * sx));
    const y0 = Math.max(0, Math.floor(r.y0 * sy));
    const x1 = Math.min(c.width, Math.ceil(r.x1 * sx));
    const y1 = Math.min(c.height, Math.ceil(r.y1 * sy));
    const data = c.getContext("2d").getImageData(x0, y0, x1 - x0, y1 - y0).data;
    let want = null;
    if (color) {
      const n = parseInt(color.slice(1), 16);
      want = [(n >> 16) & 255, (n >> 8) & 255, n & 255];
    }
    let ink = 0, matching = 0, sumX = 0, sumY = 0;
    let minX = Infinity, minY = Infinity, maxX = -Infinity, maxY = -Infinity;
    const w = x1 - x0;
    for (let i = 0; i < data.length; i += 4) {
      const [R, G, B, A] = [data[i], data[i + 1], data[i + 2], data[i + 3]];
      if (A < 128 || (R > 235 && G > 235 && B > 235)) continue;
      ink++;
      const px = x0 + (i / 4) % w;
      const py = y0 + Math.floor(i / 4 / w);
      sumX += px; sumY += py;
      minX = Math.min(minX, px); maxX = Math.max(maxX, px);
      minY = Math.min(minY, py); maxY = Math.max(maxY, py);
      if (want && A > 240 && Math.abs(R - want[0]) <= 8 && Math.abs(G - want[1]) <= 8 && Math.abs(B - want[2]) <= 8) {
        matching++;
      }
    }
    const round = (v) => Math.round(v * 10) / 10;
    return {
      ink,
      matching,
      backing: { width: c.width, height: c.height },
      box: ink ? { x0: round(minX / sx), y0: round(minY / sy), x1: round((maxX + 1) / sx), y1: round((maxY + 1) / sy) } : null,
      centroid: ink ? { x: round((sumX / ink + 0.5) / sx), y: round((sumY / ink + 0.5) / sy) } : null,
    };
  }, { r, color, W: BOARD_W, H: BOARD_H });
}

// poll calls fn (in Node) until it returns a truthy value, which it returns.
export async function poll(what, fn, timeout = WAIT_MS) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() >= deadline) throw new Error(`timed out after ${timeout} ms waiting for ${what}`);
    await pause(50);
  }
}

// waitInk polls until the board rectangle on page has at least min ink
// pixels (matching color, if given) and returns the last inkIn result.
export async function waitInk(page, r, what, { color, min = 20, timeout = WAIT_MS } = {}) {
  const deadline = Date.now() + timeout;
  let got;
  for (;;) {
    got = await inkIn(page, r, color);
    if ((color ? got.matching : got.ink) >= min) return got;
    if (Date.now() >= deadline) break;
    await pause(50);
  }
  throw new Error(`timed out after ${timeout} ms waiting for ${what} (saw ${JSON.stringify(got)})`);
}

// ---- the board's memory (the new page's log; see docs/PROTOCOL.md) ----

// setPen sets a new page's name, colour and width the way a person would.
export async function setPen(page, { name, color, width }) {
  if (name) {
    await page.fill("#name", name);
    await page.press("#name", "Enter");
  }
  if (color) await page.fill("#color", color);
  if (width) await page.fill("#width", String(width));
}

// waitSynced waits until the page has caught up with the board's log.
export function waitSynced(page, who, timeout = WAIT_MS) {
  return waitUntil(page, `${who} to sync with the board's log`, () => window.__draw?.synced(), null, timeout);
}

// waitSettled waits until the page's canvas is exactly the log's picture:
// synced, nothing pending or unsaved, no stroke under way, no redraw due.
export function waitSettled(page, who, timeout = WAIT_MS) {
  return waitUntil(page, `${who} to settle (canvas = the log's picture)`, () => window.__draw?.settled(), null, timeout);
}

// waitHave waits until the page has applied the log up to seq.
export function waitHave(page, who, seq, timeout = WAIT_MS) {
  return waitUntil(page, `${who} to reach seq ${seq}`, (n) => window.__draw?.have() >= n, seq, timeout);
}

// pieces lists a page's committed pieces (from its debug hook).
export function pieces(page) {
  return page.evaluate(() => window.__draw.pieces());
}

// ownStrokes returns the ids of the strokes the page's own author drew, oldest first.
export async function ownStrokes(page) {
  return page.evaluate(() => {
    const me = window.__draw.author();
    return [...new Set(window.__draw.pieces().filter((p) => p.author === me).map((p) => p.stroke))];
  });
}

// canvasPixels reads the whole #canvas backing store: {width, height, data (RGBA Buffer)}.
export async function canvasPixels(page) {
  const got = await page.evaluate(() => {
    const c = document.querySelector("#canvas");
    const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
    let s = "";
    for (let i = 0; i < d.length; i += 0x8000) s += String.fromCharCode.apply(null, d.subarray(i, i + 0x8000));
    return { width: c.width, height: c.height, data: btoa(s) };
  });
  return { width: got.width, height: got.height, data: Buffer.from(got.data, "base64") };
}

// pixelDiff compares two canvasPixels results: how many pixels differ at all,
// and the largest difference in any channel.
export function pixelDiff(a, b) {
  if (a.width !== b.width || a.height !== b.height) {
    return { sameSize: false, size: [a.width, a.height, b.width, b.height], differing: a.width * a.height, maxDelta: 255 };
  }
  let differing = 0;
  let maxDelta = 0;
  for (let i = 0; i < a.data.length; i += 4) {
    let d = 0;
    for (let k = 0; k < 4; k++) d = Math.max(d, Math.abs(a.data[i + k] - b.data[i + k]));
    if (d) {
      differing++;
      maxDelta = Math.max(maxDelta, d);
    }
  }
  return { sameSize: true, size: [a.width, a.height], differing, maxDelta };
}

// inkPixels counts the pixels of a canvasPixels result that carry ink.
export function inkPixels(px) {
  let n = 0;
  for (let i = 3; i < px.data.length; i += 4) if (px.data[i]) n++;
  return n;
}

// noticeText is what the page's status notice says right now.
export function noticeText(page) {
  return page.evaluate(() => document.querySelector("#notice").textContent);
}

// Console noise of a page that loses its connection on purpose.
export const CONNECTION_NOISE = /WebSocket|ERR_CONNECTION_REFUSED|ERR_INTERNET_DISCONNECTED|socket\.io/;

// main runs body(base) and reports its result as JSON; any error fails the
// script with its message.
export async function main(body) {
  const base = baseURL();
  const closers = [];
  try {
    const out = await body(base, (b) => closers.push(b));
    process.stdout.write(JSON.stringify({ ok: true, ...out }) + "\n");
    await Promise.all(closers.map((b) => b.close().catch(() => {})));
    process.exit(0);
  } catch (err) {
    await Promise.all(closers.map((b) => b.close().catch(() => {})));
    fail(err && err.message ? err.message : String(err));
  }
}

export function fail(message) {
  process.stdout.write(JSON.stringify({ ok: false, error: message }) + "\n");
  process.stderr.write(`FAIL: ${message}\n`);
  process.exit(1);
}
