// The original page (at /classic/, default board) and the new page (at /,
// default board) see each other's strokes and pointers.
import {
  main, launch, openPage, waitConnected, waitUntil, hoverUntilSeen, mouseStroke, line, waitInk, pointerCount,
} from "./lib.mjs";

const COLOR = "#c026d3";

await main(async (base, onExit) => {
  const browser = await launch();
  onExit(browser);
  const old = await openPage(browser, `${base}/classic/`);
  const neu = await openPage(browser, `${base}/`);
  await waitConnected(neu, "the new page");
  await neu.fill("#color", COLOR);
  await neu.fill("#width", "6");

  // Old → new: the original page sends page coordinates, which are board coordinates there.
  await hoverUntilSeen(old, neu, 150, 150, "the new page to show the original page's pointer");
  await mouseStroke(old, line({ x: 200, y: 500 }, { x: 600, y: 600 }, 10));
  const onNew = await waitInk(neu, { x0: 180, y0: 480, x1: 620, y1: 620 },
    "the original page's stroke on the new page", { min: 50 });
  const oldLabel = await neu.textContent("#pointers .pointer .pointer-label");

  // New → old.
  await hoverUntilSeen(neu, old, 900, 150, "the original page to show the new page's pointer");
  await mouseStroke(neu, line({ x: 800, y: 300 }, { x: 1200, y: 500 }, 10));
  // The original page draws everything in its default style: look for ink, not colour.
  const onOld = await waitInk(old, { x0: 780, y0: 280, x1: 1220, y1: 520 },
    "the new page's stroke on the original page", { min: 100 });

  // The original page leaves: the new page forgets it.
  await old.context().close();
  await waitUntil(neu, "the original page's pointer to disappear from the new page",
    () => document.querySelectorAll("#pointers .pointer").length === 0);

  return {
    onNew: { ink: onNew.ink, box: onNew.box },
    oldLabel,
    onOld: { ink: onOld.ink, box: onOld.box },
    pointersOnNewAfterClose: await pointerCount(neu),
    errors: [...old.errors, ...neu.errors],
  };
});
