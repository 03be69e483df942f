// Reload: A draws, reloads, sees its drawing again (from the log), and can
// still undo its own stroke (the author secret is kept in localStorage).
import {
  main, launch, freshBoard, openPage, setPen, waitSynced, waitSettled, waitUntil, mouseStroke, line, waitInk, inkIn,
  canvasPixels, pixelDiff, ownStrokes, poll,
} from "./lib.mjs";

const COLOR = "#0e7490";
const ALL = { x0: 0, y0: 0, x1: 2000, y1: 1000 };

await main(async (base, onExit) => {
  const browser = await launch();
  onExit(browser);
  const url = freshBoard(base, "reload");
  const a = await openPage(browser, url);
  await waitSynced(a, "the page");
  await setPen(a, { color: COLOR, width: 9 });
  await mouseStroke(a, line({ x: 400, y: 300 }, { x: 1600, y: 700 }, 10));
  await mouseStroke(a, line({ x: 400, y: 700 }, { x: 1600, y: 300 }, 10));
  await waitSettled(a, "the page");
  const strokes = await ownStrokes(a);
  const authorBefore = await a.evaluate(() => window.__draw.author());
  const before = await canvasPixels(a);

  const t0 = Date.now();
  await a.reload({ waitUntil: "load" });
  await waitSynced(a, "the reloaded page");
  await waitInk(a, ALL, "the drawing after the reload", { color: COLOR, min: 200 });
  await waitSettled(a, "the reloaded page");
  const reloadMs = Date.now() - t0;
  const authorAfter = await a.evaluate(() => window.__draw.author());
  const diffAfterReload = pixelDiff(before, await canvasPixels(a)).differing;
  const ownAfterReload = await ownStrokes(a);
  await waitUntil(a, "Undo to be enabled after the reload", () => !document.querySelector("#undo").disabled);

  // Undo the newest stroke with the button (what touch users have), then the other with Ctrl+Z.
  await a.getByRole("button", { name: "Undo" }).click();
  await waitUntil(a, "the newest stroke to be undone",
    (id) => window.__draw.undone().includes(id), strokes[strokes.length - 1]);
  await a.keyboard.press("Control+z");
  await poll("both strokes to disappear", async () => (await inkIn(a, ALL, COLOR)).ink === 0);
  const undone = await a.evaluate(() => window.__draw.undone());

  // Both can be redone; a new stroke leaves nothing to redo.
  const redoBeforeNewStroke = await a.getByRole("button", { name: "Redo" }).isEnabled();
  await mouseStroke(a, line({ x: 800, y: 200 }, { x: 1200, y: 200 }, 4));
  await waitSettled(a, "the page after a new stroke");
  const redoAfterNewStroke = await a.getByRole("button", { name: "Redo" }).isEnabled();
  return {
    redoBeforeNewStroke,
    redoAfterNewStroke,
    strokes,
    authorBefore,
    authorAfter,
    ownAfterReload,
    diffAfterReload,
    reloadMs,
    undone,
    errors: a.errors,
  };
});
