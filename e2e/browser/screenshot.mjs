// Two people draw on one board with the new page; screenshots of both views go
// to the directory in argv[3] (and, if argv[4] is given, the second view is
// also written there: that is how docs/screenshot.png is made).
import fs from "node:fs";
import path from "node:path";
import {
  main, launch, freshBoard, openPage, waitConnected, waitUntil, hoverUntilSeen, mouseStroke, waitInk, boardToClient,
} from "./lib.mjs";

const outDir = process.argv[3] || "test-artifacts";
const docsPath = process.argv[4] || "";

function wave(x0, x1, y, amp, periods, steps) {
  const pts = [];
  for (let i = 0; i <= steps; i++) {
    const t = i / steps;
    pts.push({ x: x0 + (x1 - x0) * t, y: y + amp * Math.sin(t * periods * 2 * Math.PI) });
  }
  return pts;
}

function spiral(cx, cy, r0, r1, turns, steps) {
  const pts = [];
  for (let i = 0; i <= steps; i++) {
    const t = i / steps;
    const a = t * turns * 2 * Math.PI;
    const r = r0 + (r1 - r0) * t;
    pts.push({ x: cx + r * Math.cos(a), y: cy + r * Math.sin(a) * 0.9 });
  }
  return pts;
}

// Strokes here are dense and quick, like a hand's (15 ms per point), so the
// pictures show what people see; the other scripts use coarse, slow strokes.
await main(async (base, onExit) => {
  const browser = await launch();
  onExit(browser);
  const url = freshBoard(base, "sketch");
  const ada = await openPage(browser, url);
  const grace = await openPage(browser, url);

  const setup = async (page, name, color, width) => {
    await waitConnected(page, name);
    await page.fill("#name", name);
    await page.press("#name", "Enter");
    await page.fill("#color", color);
    await page.fill("#width", String(width));
  };
  await setup(ada, "Ada", "#e11d48", 10);
  await setup(grace, "Grace", "#2563eb", 8);
  await hoverUntilSeen(ada, grace, 300, 300, "Grace to see Ada's pointer");
  await hoverUntilSeen(grace, ada, 1700, 300, "Ada to see Grace's pointer");

  await mouseStroke(ada, wave(180, 1100, 420, 140, 2, 120), 15);
  await mouseStroke(grace, spiral(1450, 560, 40, 300, 2.2, 160), 15);
  await mouseStroke(ada, wave(300, 1700, 860, 40, 5, 160), 15);
  await waitInk(grace, { x0: 150, y0: 250, x1: 1150, y1: 600 }, "Ada's wave on Grace's page", { color: "#e11d48", min: 200 });
  await waitInk(ada, { x0: 1100, y0: 200, x1: 1800, y1: 900 }, "Grace's spiral on Ada's page", { color: "#2563eb", min: 200 });
  await waitInk(grace, { x0: 250, y0: 780, x1: 1750, y1: 940 }, "Ada's second wave on Grace's page", { color: "#e11d48", min: 200 });

  // Leave the two pointers somewhere visible, then take the pictures.
  const a = await boardToClient(ada, 1130, 360);
  await ada.mouse.move(a.x, a.y);
  const g = await boardToClient(grace, 820, 640);
  await grace.mouse.move(g.x, g.y);
  await waitUntil(grace, "Ada's labelled pointer on Grace's page",
    () => [...document.querySelectorAll("#pointers .pointer-label")].some((l) => l.textContent === "Ada"));
  await waitUntil(ada, "Grace's labelled pointer on Ada's page",
    () => [...document.querySelectorAll("#pointers .pointer-label")].some((l) => l.textContent === "Grace"));

  for (const page of [ada, grace]) await page.evaluate(() => document.activeElement?.blur());
  fs.mkdirSync(outDir, { recursive: true });
  const files = [path.join(outDir, "two-users-ada.png"), path.join(outDir, "two-users-grace.png")];
  await ada.screenshot({ path: files[0] });
  await grace.screenshot({ path: files[1] });
  if (docsPath) {
    fs.mkdirSync(path.dirname(docsPath), { recursive: true });
    fs.copyFileSync(files[1], docsPath);
    files.push(docsPath);
  }
  const errors = [...ada.errors, ...grace.errors];
  return { files: files.map((f) => ({ path: f, bytes: fs.statSync(f).size })), errors };
});
