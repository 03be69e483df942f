// Issue 2 on the original page (served at /classic/): a mouse drag on one page
// draws on the other's canvas and shows a pointer there; closing the first
// page removes that pointer.
import { main, launch, openPage, hoverUntilSeen, mouseStroke, line, waitInk, waitUntil, pointerCount } from "./lib.mjs";

await main(async (base, onExit) => {
  const browser = await launch();
  onExit(browser);
  const url = `${base}/classic/`;
  const a = await openPage(browser, url);
  const b = await openPage(browser, url);
  const blankBefore = (await waitInk(b, { x0: 0, y0: 0, x1: 2000, y1: 1000 }, "nothing", { min: 0 })).ink;

  await hoverUntilSeen(a, b, 200, 200, "the second page to show the first page's pointer");
  const from = { x: 300, y: 300 };
  const to = { x: 700, y: 450 };
  await mouseStroke(a, line(from, to, 10));
  const seen = await waitInk(b, { x0: 280, y0: 280, x1: 720, y1: 470 }, "the stroke on the second page's canvas", { min: 100 });
  const pointersBeforeClose = await pointerCount(b);

  await a.context().close();
  await waitUntil(b, "the pointer to disappear after the first page closed",
    () => document.querySelectorAll("#pointers .pointer").length === 0);

  return {
    blankBefore,
    ink: seen.ink,
    box: seen.box,
    pointersBeforeClose,
    pointersAfterClose: await pointerCount(b),
    errors: [...a.errors, ...b.errors],
  };
});
