// Replay: the board's history plays back as a timelapse (strokes, an undo, a
// clear and its undo) without changing the board: while it plays the page
// says so, and when it ends the canvas is exactly as before and the log has
// not grown. Stopped half-way, the live board comes back at once, with what
// others drew meanwhile.
import {
  main, launch, freshBoard, openPage, setPen, waitSynced, waitSettled, waitUntil, mouseStroke, line,
  canvasPixels, pixelDiff, inkPixels, poll,
} from "./lib.mjs";

await main(async (base, onExit) => {
  const browser = await launch();
  onExit(browser);
  const url = freshBoard(base, "replay");
  const a = await openPage(browser, url);
  const b = await openPage(browser, url);
  await waitSynced(a, "the page");
  await waitSynced(b, "the other page");
  a.on("dialog", (d) => d.accept());

  await setPen(a, { color: "#dc2626", width: 10 });
  await mouseStroke(a, line({ x: 200, y: 200 }, { x: 1800, y: 300 }, 10));
  await setPen(a, { color: "#2563eb", width: 20 });
  await mouseStroke(a, line({ x: 200, y: 800 }, { x: 1800, y: 700 }, 10));
  await mouseStroke(a, line({ x: 1000, y: 100 }, { x: 1000, y: 900 }, 6));
  await waitSettled(a, "the page");
  await a.keyboard.press("Control+z"); // the vertical stroke goes
  await waitUntil(a, "the undo", () => window.__draw.undone().length === 1);
  await a.getByRole("button", { name: "Clear board" }).click();
  await poll("the clear", async () => inkPixels(await canvasPixels(a)) === 0);
  await a.keyboard.press("Control+z"); // the clear is undone
  await waitUntil(a, "the clear's undo", () => window.__draw.undone().length === 2);
  await waitSettled(a, "the page");
  const before = await canvasPixels(a);
  const headBefore = await a.evaluate(() => window.__draw.have());

  // Play at 60×.
  await a.selectOption("#replay-speed", "60");
  const t0 = Date.now();
  await a.getByRole("button", { name: "Replay" }).click();
  const shown = await waitUntil(a, "the page to show that it is replaying", () => {
    const badge = document.querySelector("#replay-badge");
    const btn = document.querySelector("#replay");
    return window.__draw.replaying() && !badge.hidden && btn.textContent.trim() === "Stop" &&
      { badge: badge.textContent, button: btn.textContent.trim() };
  });
  const stopButtonVisible = await a.getByRole("button", { name: "Stop" }).isVisible();
  // The timelapse starts from an empty board, so at some point it differs from the live one.
  let differedDuringReplay = false;
  await poll("the replay to end", async () => {
    if (!differedDuringReplay && await a.evaluate(() => window.__draw.replaying())) {
      differedDuringReplay = pixelDiff(before, await canvasPixels(a)).differing > 0;
    }
    return !(await a.evaluate(() => window.__draw.replaying()));
  }, 30000);
  const replayMs = Date.now() - t0;
  await waitSettled(a, "the page after the replay");
  const afterEnd = pixelDiff(before, await canvasPixels(a)).differing;
  const buttonAfter = await a.evaluate(() => document.querySelector("#replay").textContent.trim());

  // At 1×, while the other page draws; then stopped half-way: the live
  // board is back at once, with the other page's stroke, exactly as there.
  await a.selectOption("#replay-speed", "1");
  await a.getByRole("button", { name: "Replay" }).click();
  await waitUntil(a, "the slow replay to start", () => window.__draw.replaying());
  await poll("the slow replay to show something", async () => pixelDiff(before, await canvasPixels(a)).differing > 0);
  await setPen(b, { color: "#15803d", width: 16 });
  await mouseStroke(b, line({ x: 300, y: 500 }, { x: 1700, y: 500 }, 8));
  await waitSettled(b, "the other page");
  const headB = await b.evaluate(() => window.__draw.have());
  await waitUntil(a, "the replaying page to take the other page's stroke into its log",
    (n) => window.__draw.have() >= n, headB);
  const stillReplaying = await a.evaluate(() => window.__draw.replaying());
  await a.getByRole("button", { name: "Stop" }).click();
  await waitSettled(a, "the page after stopping the replay");
  const afterStopVsOther = pixelDiff(await canvasPixels(b), await canvasPixels(a)).differing;
  const afterStopVsBefore = pixelDiff(before, await canvasPixels(a)).differing;
  const headAfter = await a.evaluate(() => window.__draw.have());
  const history = await (await fetch(`${url}/history.ndjson`)).text();

  return {
    shown,
    stopButtonVisible,
    differedDuringReplay,
    replayMs,
    afterEnd,
    buttonAfter,
    stillReplaying,
    afterStopVsOther,
    afterStopVsBefore,
    headBefore,
    headB,
    headAfter,
    storedOps: history.split("\n").filter(Boolean).length,
    errors: [...a.errors, ...b.errors],
  };
});
