// Clear board: A clears (after confirming), B's canvas empties and B is told
// who cleared; A's Ctrl+Z brings everything back on both pages, pixel for pixel.
import {
  main, launch, freshBoard, openPage, setPen, waitSynced, waitSettled, waitUntil, mouseStroke, line, waitInk,
  canvasPixels, pixelDiff, inkPixels, poll,
} from "./lib.mjs";

const ALL = { x0: 0, y0: 0, x1: 2000, y1: 1000 };
const NAME = "Alice";

await main(async (base, onExit) => {
  const browser = await launch();
  onExit(browser);
  const url = freshBoard(base, "clear");
  const a = await openPage(browser, url);
  const b = await openPage(browser, url);
  await waitSynced(a, "page A");
  await waitSynced(b, "page B");
  await setPen(a, { name: NAME, color: "#be123c", width: 8 });
  await setPen(b, { name: "Bob", color: "#1d4ed8", width: 14 });

  await mouseStroke(a, line({ x: 200, y: 200 }, { x: 1000, y: 500 }, 8));
  await mouseStroke(b, line({ x: 1000, y: 800 }, { x: 1800, y: 300 }, 8));
  await waitInk(b, ALL, "both strokes on B", { color: "#be123c", min: 200 });
  await waitInk(a, ALL, "both strokes on A", { color: "#1d4ed8", min: 200 });
  await waitSettled(a, "page A");
  await waitSettled(b, "page B");
  const before = { a: await canvasPixels(a), b: await canvasPixels(b) };

  // A clears the board, accepting the confirmation.
  let dialog = null;
  a.once("dialog", async (d) => {
    dialog = { type: d.type(), message: d.message() };
    await d.accept();
  });
  const t0 = Date.now();
  await a.getByRole("button", { name: "Clear board" }).click();
  for (const [p, who] of [[a, "A"], [b, "B"]]) {
    await poll(`the canvas on ${who} to be empty`, async () => inkPixels(await canvasPixels(p)) === 0);
  }
  const clearMs = Date.now() - t0;
  const noticeOnB = await waitUntil(b, `B's notice naming ${NAME}`,
    () => document.querySelector("#notice").textContent.includes("cleared the board") &&
      document.querySelector("#notice").textContent);

  // A's Ctrl+Z undoes the clear.
  const t1 = Date.now();
  await a.keyboard.press("Control+z");
  for (const [p, who] of [[a, "A"], [b, "B"]]) {
    await poll(`the drawing back on ${who}`, async () => inkPixels(await canvasPixels(p)) > 0);
    await waitSettled(p, `page ${who}`);
  }
  const restoreMs = Date.now() - t1;
  return {
    dialog,
    clearMs,
    noticeOnB,
    restoreMs,
    inkBefore: { a: inkPixels(before.a), b: inkPixels(before.b) },
    restored: {
      diffA: pixelDiff(before.a, await canvasPixels(a)).differing,
      diffB: pixelDiff(before.b, await canvasPixels(b)).differing,
    },
    errors: [...a.errors, ...b.errors],
  };
});
