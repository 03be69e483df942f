// A finger drag on a touch screen draws on another page, and the touched
// page neither scrolls nor zooms.
import { main, launch, freshBoard, openPage, waitConnected, waitUntil, touchStroke, line, waitInk } from "./lib.mjs";

const COLOR = "#7c2d12";

await main(async (base, onExit) => {
  const browser = await launch();
  onExit(browser);
  const url = freshBoard(base, "touch");
  const phone = await openPage(browser, url, {
    viewport: { width: 844, height: 390 }, hasTouch: true, isMobile: true, deviceScaleFactor: 2,
  });
  const desk = await openPage(browser, url);
  await waitConnected(phone, "the touch page");
  await waitConnected(desk, "the desktop page");
  await phone.fill("#color", COLOR);
  await phone.fill("#width", "10");
  await waitUntil(desk, "the desktop page to count two people",
    () => document.querySelector("#people-count")?.dataset.count === "2");

  // Record what the page sees, to prove these are touch pointer events.
  await phone.evaluate(() => {
    window.__seen = [];
    document.querySelector("#canvas").addEventListener("pointerdown", (e) => window.__seen.push(e.pointerType));
  });
  const scrollBefore = await phone.evaluate(() => [window.scrollX, window.scrollY, window.visualViewport.scale]);
  const touchAction = await phone.evaluate(() => getComputedStyle(document.querySelector("#canvas")).touchAction);

  await touchStroke(phone, line({ x: 500, y: 300 }, { x: 1500, y: 700 }, 12));
  if (phone.url() !== url) {
    throw new Error(`the drag was taken as a gesture: the touch page went to ${phone.url()}`);
  }
  const seen = await waitInk(desk, { x0: 480, y0: 280, x1: 1520, y1: 720 },
    `the touch stroke in ${COLOR} on the desktop page`, { color: COLOR, min: 200 });
  const local = await waitInk(phone, { x0: 480, y0: 280, x1: 1520, y1: 720 },
    "the touch stroke on the touch page itself", { color: COLOR, min: 200 });

  return {
    pointerTypes: await phone.evaluate(() => window.__seen),
    touchAction,
    scrollBefore,
    scrollAfter: await phone.evaluate(() => [window.scrollX, window.scrollY, window.visualViewport.scale]),
    ink: seen.ink,
    matching: seen.matching,
    localMatching: local.matching,
    errors: [...phone.errors, ...desk.errors],
  };
});
