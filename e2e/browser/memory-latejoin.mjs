// Boards remember: one page draws strokes of several colours and widths
// (straight, curved, crossing, a dot) on a fresh board; when it is quiet, a
// second page of the same size opens and renders the board from the log to
// exactly the same pixels.
import {
  main, launch, freshBoard, openPage, waitConnected, setPen, waitSynced, waitSettled, waitHave, mouseStroke, line,
  canvasPixels, pixelDiff, inkPixels, boardToClient, pieces, STEP_MS, pause,
} from "./lib.mjs";

function wave(x0, x1, y, amp, periods, steps) {
  const pts = [];
  for (let i = 0; i <= steps; i++) {
    const t = i / steps;
    pts.push({ x: x0 + (x1 - x0) * t, y: y + amp * Math.sin(t * periods * 2 * Math.PI) });
  }
  return pts;
}

const STROKES = [
  { color: "#e11d48", width: 6, points: wave(200, 1000, 300, 120, 1.5, 24) },
  { color: "#2563eb", width: 24, points: line({ x: 300, y: 800 }, { x: 1700, y: 200 }, 14) },
  { color: "#16a34a", width: 3, points: wave(900, 1800, 600, 200, 2, 30) },
  { color: "#f59e0b", width: 40, points: line({ x: 1500, y: 850 }, { x: 1500, y: 850 }, 1) }, // a dot
  { color: "#7c3aed", width: 11, points: line({ x: 100, y: 100 }, { x: 1900, y: 900 }, 10) },
];

await main(async (base, onExit) => {
  const browser = await launch();
  onExit(browser);
  const url = freshBoard(base, "late");
  const a = await openPage(browser, url);
  await waitConnected(a, "the first page");
  await waitSynced(a, "the first page");

  const started = Date.now();
  for (const s of STROKES) {
    await setPen(a, { color: s.color, width: s.width });
    if (s.points.length === 2 && s.points[0].x === s.points[1].x) {
      const p = await boardToClient(a, s.points[0].x, s.points[0].y);
      await a.mouse.click(p.x, p.y);
    } else {
      await mouseStroke(a, s.points);
    }
    await pause(STEP_MS);
  }
  await waitSettled(a, "the drawing page");
  const drawnIn = Date.now() - started;
  const head = await a.evaluate(() => window.__draw.have());

  const joinedAt = Date.now();
  const b = await openPage(browser, url);
  await waitHave(b, "the late joiner", head);
  await waitSettled(b, "the late joiner");
  const renderedIn = Date.now() - joinedAt;

  const pa = await canvasPixels(a);
  const pb = await canvasPixels(b);
  const diff = pixelDiff(pa, pb);
  const strokesSeen = new Set((await pieces(b)).map((p) => p.stroke)).size;

  // The export links point at the board's own SVG and history.
  const exports = {};
  for (const name of ["SVG", "History (NDJSON)"]) {
    const link = b.getByRole("link", { name });
    const href = await link.evaluate((el) => el.href);
    const res = await fetch(href);
    const body = await res.text();
    exports[name] = {
      path: new URL(href).pathname,
      download: await link.getAttribute("download"),
      status: res.status,
      type: res.headers.get("content-type"),
      lines: body.split("\n").filter(Boolean).length,
      svg: body.trimStart().startsWith("<svg") || body.includes("<svg"),
    };
  }
  return {
    strokes: STROKES.length,
    strokesSeen,
    head,
    inkA: inkPixels(pa),
    inkB: inkPixels(pb),
    diff,
    exports,
    drawnMs: drawnIn,
    lateJoinMs: renderedIn,
    errors: [...a.errors, ...b.errors],
  };
});
