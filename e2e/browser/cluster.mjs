// Two nodes of a cluster: a page on node A draws while a page on node B
// watches; then a third page opens late on node B. Every page ends with the
// same pixels, and node B's watcher saw node A's pointer live.
// Usage: node cluster.mjs http://nodeA http://nodeB
import {
  main, launch, freshBoard, openPage, waitConnected, waitSynced, waitSettled, waitHave, mouseStroke, line,
  canvasPixels, pixelDiff, inkPixels, setPen, pointerCount, STEP_MS, pause, fail,
} from "./lib.mjs";

const other = process.argv[3];
if (!other || !/^https?:\/\//.test(other)) fail("usage: node cluster.mjs http://nodeA http://nodeB");

await main(async (base, onExit) => {
  const browser = await launch();
  onExit(browser);
  const urlA = freshBoard(base, "cluster");
  const urlB = other.replace(/\/+$/, "") + new URL(urlA).pathname;
  const a = await openPage(browser, urlA);
  const b = await openPage(browser, urlB);
  for (const [p, who] of [[a, "the page on node A"], [b, "the page on node B"]]) {
    await waitConnected(p, who);
    await waitSynced(p, who);
  }
  await setPen(a, { color: "#dc2626", width: 12 });
  await mouseStroke(a, line({ x: 200, y: 200 }, { x: 1800, y: 800 }, 16));
  await pause(STEP_MS);
  const pointersOnB = await pointerCount(b);
  await setPen(a, { color: "#2563eb", width: 30 });
  await mouseStroke(a, line({ x: 200, y: 800 }, { x: 1800, y: 200 }, 16));
  await waitSettled(a, "the page on node A");
  const head = await a.evaluate(() => window.__draw.have());
  await waitHave(b, "the watcher on node B", head);
  await waitSettled(b, "the watcher on node B");

  const c = await openPage(browser, urlB);
  await waitHave(c, "the late joiner on node B", head);
  await waitSettled(c, "the late joiner on node B");
  const [pa, pb, pc] = [await canvasPixels(a), await canvasPixels(b), await canvasPixels(c)];
  return {
    head,
    pointersOnB,
    inkA: inkPixels(pa),
    diffLive: pixelDiff(pa, pb),
    diffLate: pixelDiff(pa, pc),
    errors: [...a.errors, ...b.errors, ...c.errors],
  };
});
