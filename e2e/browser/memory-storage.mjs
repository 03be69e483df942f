// Saving fails: the server's store refuses to append (the test switches it),
// drawing goes on live. The drawing page says "Not saved" with the reason and
// keeps its pieces; the other page shows them at once, unsaved. When the store
// works again, the drawer's resends are stored, each piece once, and both
// pages end with the same pixels.
//
// Protocol with the test: the script prints {"phase":"fail"} and then
// {"phase":"recover"}; after switching the store each time the test writes
// one line to the script's stdin.
import readline from "node:readline";
import {
  main, launch, freshBoard, openPage, setPen, waitSynced, waitSettled, waitUntil, mouseStroke, line, waitInk, pieces,
  canvasPixels, pixelDiff,
} from "./lib.mjs";

const COLOR = "#c2410c";
const ALL = { x0: 0, y0: 0, x1: 2000, y1: 1000 };
const input = readline.createInterface({ input: process.stdin })[Symbol.asyncIterator]();

async function phase(name) {
  process.stdout.write(JSON.stringify({ phase: name }) + "\n");
  const { done } = await input.next();
  if (done) throw new Error(`stdin closed before the test answered phase ${name}`);
}

await main(async (base, onExit) => {
  const browser = await launch();
  onExit(browser);
  const url = freshBoard(base, "store");
  const a = await openPage(browser, url);
  const b = await openPage(browser, url);
  await waitSynced(a, "page A");
  await waitSynced(b, "page B");
  await setPen(a, { color: COLOR, width: 10 });
  await mouseStroke(a, line({ x: 200, y: 200 }, { x: 800, y: 200 }, 4)); // saved, before the failure
  await waitSettled(a, "page A");
  await waitSettled(b, "page B");

  await phase("fail");
  const t0 = Date.now();
  await mouseStroke(a, line({ x: 300, y: 600 }, { x: 1700, y: 600 }, 10));
  const status = await waitUntil(a, 'A to say "Not saved"', () => {
    const el = document.querySelector("#save-state");
    return !el.hidden && el.textContent;
  });
  const statusMs = Date.now() - t0;
  const stroke = await a.evaluate(() => window.__draw.pending()[0]?.stroke);
  const pendingOnA = await a.evaluate(() => window.__draw.pending().length);
  // B sees the live pieces at once, though nothing is stored.
  const liveOnB = await waitInk(b, { x0: 280, y0: 560, x1: 1720, y1: 640 }, "A's unsaved stroke on B", { color: COLOR, min: 200 });
  const committedOnB = (await pieces(b)).filter((p) => p.stroke === stroke).length;

  await phase("recover");
  const t1 = Date.now();
  await waitUntil(a, "A's pieces to be saved", () => window.__draw.pending().length === 0, null, 15000);
  await waitUntil(a, 'the "Not saved" status to go', () => document.querySelector("#save-state").hidden);
  const savedMs = Date.now() - t1;
  await waitSettled(a, "page A");
  await waitSettled(b, "page B");
  const onB = (await pieces(b)).filter((p) => p.stroke === stroke);
  const history = await (await fetch(`${url}/history.ndjson`)).text();
  const stored = history.split("\n").filter(Boolean).map((l) => JSON.parse(l)).filter((op) => op.stroke === stroke);

  return {
    status,
    statusMs,
    pendingOnA,
    liveOnB: liveOnB.matching,
    committedOnB,
    savedMs,
    pieceCount: pendingOnA,
    onB: onB.length,
    onBKeys: new Set(onB.map((p) => p.i)).size,
    stored: stored.length,
    storedKeys: new Set(stored.map((op) => op.i)).size,
    diff: pixelDiff(await canvasPixels(a), await canvasPixels(b)).differing,
    errors: [...a.errors, ...b.errors],
  };
});
