// Undo only your own: two pages each draw a stroke; the first presses Ctrl+Z
// (on the keyboard, without clicking the canvas first) and only its stroke
// goes, on both pages; Ctrl+Shift+Z brings it back on both. An undo of the
// other page's stroke, crafted on the socket, is refused and changes nothing.
import {
  main, launch, freshBoard, openPage, waitConnected, setPen, waitSynced, waitSettled, waitUntil, mouseStroke, line,
  waitInk, inkIn, ownStrokes, poll, canvasPixels, pixelDiff,
} from "./lib.mjs";

const A_COLOR = "#0b6e4f";
const B_COLOR = "#b45309";
const ALL = { x0: 0, y0: 0, x1: 2000, y1: 1000 };

await main(async (base, onExit) => {
  const browser = await launch();
  onExit(browser);
  const url = freshBoard(base, "undo");
  const a = await openPage(browser, url);
  const b = await openPage(browser, url);
  await waitSynced(a, "page A");
  await waitSynced(b, "page B");
  await setPen(a, { name: "Alice", color: A_COLOR, width: 10 });
  await setPen(b, { name: "Bob", color: B_COLOR, width: 10 });

  const undoButton = a.getByRole("button", { name: "Undo" });
  const redoButton = a.getByRole("button", { name: "Redo" });
  const buttonsBefore = { undo: await undoButton.isEnabled(), redo: await redoButton.isEnabled() };

  await mouseStroke(a, line({ x: 300, y: 300 }, { x: 900, y: 400 }, 8));
  await mouseStroke(b, line({ x: 1100, y: 600 }, { x: 1700, y: 700 }, 8));
  for (const [p, who] of [[a, "A"], [b, "B"]]) {
    await waitInk(p, ALL, `A's stroke on ${who}`, { color: A_COLOR, min: 200 });
    await waitInk(p, ALL, `B's stroke on ${who}`, { color: B_COLOR, min: 200 });
    await waitSettled(p, `page ${who}`);
  }
  const [aStroke] = await ownStrokes(a);
  const [bStroke] = await ownStrokes(b);
  const before = { a: await canvasPixels(a), b: await canvasPixels(b) };
  const focusedWhenUndoing = await a.evaluate(() => document.activeElement?.id || document.activeElement?.tagName);
  const buttonsAfterDrawing = { undo: await undoButton.isEnabled(), redo: await redoButton.isEnabled() };

  // Ctrl+Z: A's stroke goes on both pages, B's stays.
  const t0 = Date.now();
  await a.keyboard.press("Control+z");
  for (const [p, who] of [[a, "A"], [b, "B"]]) {
    await poll(`A's stroke to disappear from ${who}`, async () => (await inkIn(p, ALL, A_COLOR)).matching === 0);
  }
  const undoMs = Date.now() - t0;
  const afterUndo = {
    aOnA: (await inkIn(a, ALL, A_COLOR)).matching, bOnA: (await inkIn(a, ALL, B_COLOR)).matching,
    aOnB: (await inkIn(b, ALL, A_COLOR)).matching, bOnB: (await inkIn(b, ALL, B_COLOR)).matching,
  };
  await waitUntil(a, "Redo to be enabled after the undo", () => !document.querySelector("#redo").disabled);
  const buttonsAfterUndo = { undo: await undoButton.isEnabled(), redo: await redoButton.isEnabled() };

  // Ctrl+Shift+Z: back on both, pixel for pixel as before.
  const t1 = Date.now();
  await a.keyboard.press("Control+Shift+Z");
  for (const [p, who] of [[a, "A"], [b, "B"]]) {
    await waitInk(p, ALL, `A's stroke back on ${who}`, { color: A_COLOR, min: 200 });
    await waitSettled(p, `page ${who}`);
  }
  const redoMs = Date.now() - t1;
  const afterRedo = {
    diffA: pixelDiff(before.a, await canvasPixels(a)).differing,
    diffB: pixelDiff(before.b, await canvasPixels(b)).differing,
  };

  // A crafted undo of B's stroke from A's page is refused.
  const headBefore = await a.evaluate(() => window.__draw.have());
  await a.evaluate((id) => window.__draw.socket.emit("undo", { stroke: id }), bStroke);
  const rejection = await waitUntil(a, "the server to refuse A's undo of B's stroke",
    () => window.__draw.rejections().find((r) => r.event === "undo"));
  const headAfter = await a.evaluate(() => window.__draw.have());
  const bStillOnA = (await inkIn(a, ALL, B_COLOR)).matching;
  const bStillOnB = (await inkIn(b, ALL, B_COLOR)).matching;
  const undoneOnB = await b.evaluate(() => window.__draw.undone());

  return {
    aStroke, bStroke, focusedWhenUndoing,
    buttonsBefore, buttonsAfterDrawing, buttonsAfterUndo,
    afterUndo, undoMs, afterRedo, redoMs,
    rejection, headBefore, headAfter, bStillOnA, bStillOnB, undoneOnB,
    errors: [...a.errors, ...b.errors],
  };
});
