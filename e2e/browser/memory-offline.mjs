// Offline: A loses the network (Playwright's context.setOffline, i.e. CDP
// network emulation), draws a stroke that stays on its canvas, faded as "not
// saved yet"; back online, A reconnects, syncs, resends, and the stroke
// appears on B exactly once, and no longer faded on A.
//
// Websockets: in Debian's Chromium, going offline closes the open websocket
// within about half a second (the page shows "reconnecting"). Should a
// browser keep it open, the script cuts the transport itself.
import {
  main, launch, freshBoard, openPage, setPen, waitSynced, waitSettled, waitUntil, mouseStroke, line, inkIn, pieces,
  poll, pause, canvasPixels, CONNECTION_NOISE,
} from "./lib.mjs";

// The canvas is transparent (the stage behind it is white): faded ink is
// translucent there, saved ink opaque. Counts pixels of each kind.
async function opacity(page) {
  const px = await canvasPixels(page);
  let opaque = 0, translucent = 0;
  for (let i = 3; i < px.data.length; i += 4) {
    if (px.data[i] >= 250) opaque++;
    else if (px.data[i] > 0) translucent++;
  }
  return { opaque, translucent };
}

const COLOR = "#9333ea";
const ALL = { x0: 0, y0: 0, x1: 2000, y1: 1000 };

await main(async (base, onExit) => {
  const browser = await launch();
  onExit(browser);
  const url = freshBoard(base, "offline");
  const a = await openPage(browser, url);
  const b = await openPage(browser, url);
  await waitSynced(a, "page A");
  await waitSynced(b, "page B");
  await setPen(a, { color: COLOR, width: 12 });

  await a.context().setOffline(true);
  const offlineAt = Date.now();
  let socketDropped = true;
  try {
    await waitUntil(a, "A's socket to drop", () => !window.__draw.socket.connected, null, 3000);
  } catch {
    socketDropped = false; // the browser kept the websocket: cut it, as a dead network would
    await a.evaluate(() => window.__draw.socket.io.engine.close());
    await waitUntil(a, "A's socket to drop after cutting it", () => !window.__draw.socket.connected);
  }
  const dropMs = Date.now() - offlineAt;
  const stateOffline = await a.evaluate(() => document.querySelector("#connection").dataset.state);

  await mouseStroke(a, line({ x: 300, y: 500 }, { x: 1700, y: 500 }, 12));
  const pending = await a.evaluate(() => window.__draw.pending());
  const stroke = pending[0]?.stroke;
  const pieceCount = new Set(pending.map((p) => p.i)).size;
  await waitUntil(a, "A's unsaved pieces to be drawn faded",
    () => window.__draw.pending().length > 0 && window.__draw.pending().every((p) => p.faded));
  const fadedOnA = await opacity(a);
  const onBWhileOffline = (await pieces(b)).filter((p) => p.stroke === stroke).length;
  await pause(500); // still offline: nothing may leak out
  const onBStillOffline = (await pieces(b)).filter((p) => p.stroke === stroke).length;

  await a.context().setOffline(false);
  const onlineAt = Date.now();
  await waitSynced(a, "A after coming back online", 15000);
  const reconnectMs = Date.now() - onlineAt;
  const onB = await poll("A's offline stroke on B", async () => {
    const got = (await pieces(b)).filter((p) => p.stroke === stroke);
    return new Set(got.map((p) => p.i)).size === pieceCount && got;
  }, 15000);
  const arrivedMs = Date.now() - onlineAt;
  await waitSettled(a, "page A", 15000);
  await waitSettled(b, "page B");
  const savedOnA = { ...(await opacity(a)), matching: (await inkIn(a, ALL, COLOR)).matching };
  const onBNow = (await pieces(b)).filter((p) => p.stroke === stroke);
  const onBPixels = await inkIn(b, ALL, COLOR);

  // The server's own record: each piece once.
  const history = await (await fetch(`${url}/history.ndjson`)).text();
  const stored = history.split("\n").filter(Boolean).map((l) => JSON.parse(l)).filter((op) => op.stroke === stroke);

  return {
    socketDropped,
    dropMs,
    stateOffline,
    stroke,
    pieceCount,
    fadedOnA,
    onBWhileOffline,
    onBStillOffline,
    reconnectMs,
    arrivedMs,
    onB: onB.length,
    onBNow: onBNow.length,
    onBKeys: new Set(onBNow.map((p) => p.i)).size,
    onBMatching: onBPixels.matching,
    stored: stored.length,
    storedKeys: new Set(stored.map((op) => op.i)).size,
    savedOnA,
    pendingAfter: await a.evaluate(() => window.__draw.pending().length),
    errors: [...a.errors, ...b.errors].filter((e) => !CONNECTION_NOISE.test(e)),
  };
});
