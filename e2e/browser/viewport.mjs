// Two windows of different sizes and pixel densities: a stroke lands at the
// same board coordinates on the receiver as where it was drawn.
import {
  main, launch, freshBoard, openPage, waitConnected, waitUntil, hoverUntilSeen, mouseStroke, line, waitInk, inkIn, poll,
} from "./lib.mjs";

const COLOR = "#1d4ed8";
const WIDTH = 8;

await main(async (base, onExit) => {
  const browser = await launch();
  onExit(browser);
  const url = freshBoard(base, "sizes");
  const wide = await openPage(browser, url, { viewport: { width: 1600, height: 900 } });
  const small = await openPage(browser, url, { viewport: { width: 700, height: 900 }, deviceScaleFactor: 2 });
  await waitConnected(wide, "the wide page");
  await waitConnected(small, "the small page");
  await wide.fill("#color", COLOR);
  await wide.fill("#width", String(WIDTH));
  await waitUntil(small, "the small page to count two people",
    () => document.querySelector("#people-count")?.dataset.count === "2");
  await hoverUntilSeen(wide, small, 100, 100, "the small page to show the wide page's pointer");

  // A horizontal stroke at y=250 from x=600 to x=1400 (board units).
  const from = { x: 600, y: 250 };
  const to = { x: 1400, y: 250 };
  await mouseStroke(wide, line(from, to, 8));
  const area = { x0: 0, y0: 0, x1: 2000, y1: 1000 };
  await waitInk(small, area, "the stroke on the small page", { color: COLOR, min: 50 });
  // The last point travels with pointerup; wait until the stroke has its full length.
  const onSmall = await poll("the stroke to reach its end on the small page", async () => {
    const got = await inkIn(small, area, COLOR);
    return got.box && got.box.x1 >= to.x && got;
  });
  const onWide = await inkIn(wide, area, COLOR);
  const canvasCSS = async (page) => page.evaluate(() => {
    const c = document.querySelector("#canvas");
    const r = c.getBoundingClientRect();
    return { cssWidth: r.width, cssHeight: r.height, backingWidth: c.width, backingHeight: c.height, dpr: devicePixelRatio };
  });
  return {
    drawn: { from, to, width: WIDTH },
    sender: { ...(await canvasCSS(wide)), box: onWide.box, centroid: onWide.centroid },
    receiver: { ...(await canvasCSS(small)), box: onSmall.box, centroid: onSmall.centroid, matching: onSmall.matching },
    errors: [...wide.errors, ...small.errors],
  };
});
