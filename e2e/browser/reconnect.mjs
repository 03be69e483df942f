// The server restarts under two open pages: both show that they lost the
// connection, come back by themselves, say hello again (so the new server
// knows their names), and drawing works again.
//
// Protocol with the test: when both pages are connected the script prints
// {"phase":"ready"}; the test then restarts the server on the same address.
import {
  main, launch, freshBoard, openPage, waitConnected, waitUntil, hoverUntilSeen, mouseStroke, line, waitInk,
} from "./lib.mjs";

const COLOR = "#be123c";
const NAME = "Rita";

await main(async (base, onExit) => {
  const browser = await launch();
  onExit(browser);
  const url = freshBoard(base, "again");
  const a = await openPage(browser, url);
  const b = await openPage(browser, url);
  await waitConnected(a, "the first page");
  await waitConnected(b, "the second page");
  await a.fill("#name", NAME);
  await a.press("#name", "Enter");
  await a.fill("#color", COLOR);
  await waitUntil(b, `"${NAME}" in the second page's people list`,
    (name) => [...document.querySelectorAll("#people li")].some((li) => li.textContent === name), NAME);

  // Record every state the indicator shows from now on.
  for (const page of [a, b]) {
    await page.evaluate(() => {
      const el = document.querySelector("#connection");
      window.__states = [];
      new MutationObserver(() => window.__states.push(el.dataset.state))
        .observe(el, { attributes: true, attributeFilter: ["data-state"] });
    });
  }
  process.stdout.write(JSON.stringify({ phase: "ready" }) + "\n");

  const backAgain = () => window.__states.some((s) => s !== "connected") &&
    document.querySelector("#connection").dataset.state === "connected";
  await waitUntil(a, "the first page to lose the connection and get it back", backAgain, null, 30000);
  await waitUntil(b, "the second page to lose the connection and get it back", backAgain, null, 30000);

  // The new server learns names only from the hellos sent after reconnecting.
  const people = await waitUntil(b, `"${NAME}" listed again on the second page`,
    (name) => {
      const names = [...document.querySelectorAll("#people li")].map((li) => li.textContent);
      return names.includes(name) && names;
    }, NAME);

  await hoverUntilSeen(a, b, 300, 300, "the second page to show the first page's pointer after the restart");
  await mouseStroke(a, line({ x: 400, y: 500 }, { x: 1000, y: 700 }, 8));
  const seen = await waitInk(b, { x0: 380, y0: 480, x1: 1020, y1: 720 },
    "a stroke drawn after the restart on the second page", { color: COLOR, min: 200 });

  return {
    statesA: await a.evaluate(() => window.__states),
    statesB: await b.evaluate(() => window.__states),
    people,
    matching: seen.matching,
    errors: [...a.errors, ...b.errors].filter((e) => !/WebSocket|ERR_CONNECTION_REFUSED|socket\.io/.test(e)),
  };
});
