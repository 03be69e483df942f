// An app embeds a board with a token in its address: the page connects with
// it, draws, and its history and exports are readable with it; the same
// board without a token says why it cannot join.
// Usage: node token.mjs http://server <board> <token>
import {
  main, launch, openPage, waitConnected, waitSynced, waitSettled, mouseStroke, line, canvasPixels, inkPixels,
  setPen, waitUntil, fail,
} from "./lib.mjs";

const [board, token] = process.argv.slice(3);
if (!board || !token) fail("usage: node token.mjs http://server <board> <token>");

await main(async (base, onExit) => {
  const browser = await launch();
  onExit(browser);
  const page = await openPage(browser, `${base}/b/${board}?token=${encodeURIComponent(token)}`);
  await waitConnected(page, "the page with a token");
  await waitSynced(page, "the page with a token");
  await setPen(page, { color: "#7c3aed", width: 14 });
  await mouseStroke(page, line({ x: 300, y: 300 }, { x: 1700, y: 700 }, 12));
  await waitSettled(page, "the page with a token");
  const ink = inkPixels(await canvasPixels(page));
  const have = await page.evaluate(() => window.__draw.have());
  const history = await page.evaluate(async () => {
    const href = document.getElementById("export-history").href;
    const res = await fetch(href);
    return { status: res.status, lines: (await res.text()).split("\n").filter(Boolean).length };
  });

  const refused = await openPage(browser, `${base}/b/${board}`);
  await waitUntil(refused, "the page without a token to say it cannot join",
    () => document.querySelector("#connection")?.dataset.state === "disconnected");
  const refusedText = await refused.evaluate(() => document.querySelector("#connection").textContent);
  // The refused page's failed reads are expected: it has no token (401/403
  // for history, 400 for a poll of the session the server refused).
  const refusedErrors = refused.errors.filter((e) => !/^40[013] \//.test(e));
  return { ink, have, history, refusedText, errors: [...page.errors, ...refusedErrors] };
});
