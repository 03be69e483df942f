// The new page, two people on one named board: a mouse stroke arrives in the
// sender's colour, the remote pointer is labelled with the sender's name, and
// closing the sender's page removes its pointer and updates presence.
import {
  main, launch, freshBoard, openPage, waitConnected, waitUntil, hoverUntilSeen, mouseStroke, line, waitInk, pointerCount,
} from "./lib.mjs";

const COLOR = "#0b6e4f"; // not in the palette, not the default
const NAME = "Alice";

await main(async (base, onExit) => {
  const browser = await launch();
  onExit(browser);
  const url = freshBoard(base, "t");
  const board = url.split("/b/")[1];
  const a = await openPage(browser, url);
  const b = await openPage(browser, url);
  await waitConnected(a, "the first page");
  await waitConnected(b, "the second page");

  await a.fill("#name", NAME);
  await a.press("#name", "Enter");
  await a.fill("#color", COLOR);
  await a.fill("#width", "12");
  const shownBoard = await a.textContent("#board-name");

  await waitUntil(b, "the second page to count two people",
    () => document.querySelector("#people-count")?.dataset.count === "2");
  const peopleListed = await waitUntil(b, `"${NAME}" in the second page's people list`,
    (name) => {
      const names = [...document.querySelectorAll("#people li")].map((li) => li.textContent);
      return names.some((n) => n === name) && names;
    }, NAME);

  await hoverUntilSeen(a, b, 300, 300, "the second page to show the first page's pointer");
  await mouseStroke(a, line({ x: 400, y: 400 }, { x: 1200, y: 600 }, 10));
  const seen = await waitInk(b, { x0: 380, y0: 380, x1: 1220, y1: 620 },
    `the stroke in ${COLOR} on the second page`, { color: COLOR, min: 200 });
  const label = await waitUntil(b, `the remote pointer labelled "${NAME}"`,
    (name) => {
      const l = document.querySelector("#pointers .pointer .pointer-label");
      return l && l.textContent === name && l.textContent;
    }, NAME);
  const pointersBeforeClose = await pointerCount(b);

  await a.context().close();
  await waitUntil(b, "the pointer to disappear after the first page closed",
    () => document.querySelectorAll("#pointers .pointer").length === 0);
  await waitUntil(b, "presence to drop back to one person",
    () => document.querySelector("#people-count")?.dataset.count === "1");

  return {
    board,
    shownBoard,
    peopleListed,
    ink: seen.ink,
    matching: seen.matching,
    label,
    pointersBeforeClose,
    pointersAfterClose: await pointerCount(b),
    peopleAfterClose: await b.evaluate(() => Number(document.querySelector("#people-count").dataset.count)),
    errors: [...a.errors, ...b.errors],
  };
});
