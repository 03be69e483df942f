// Owners and locks: A makes a board with "New board" and owns it; B draws
// on it; A locks it and B can only watch (its pen is gone, its drag leaves no
// ink anywhere and the server stores nothing of B's) while A still draws;
// A's owner link makes a third browser C an owner, and C unlocks the board
// for B again. Everything is read from what the pages show (canvas pixels,
// visible buttons and text), plus the board's history.ndjson for what was stored.
import {
  main, launch, openPage, waitSynced, waitSettled, waitUntil, mouseStroke, line, waitInk, inkIn, poll,
  pointerCount, setPen, noticeText,
} from "./lib.mjs";

const A_COLOR = "#1d4ed8";
const B_COLOR = "#0b6e4f";
// Separate parts of the board for each stroke, so each is counted alone.
const B_OPEN = { x0: 100, y0: 80, x1: 900, y1: 320 };      // B, before the lock
const B_LOCKED = { x0: 1000, y0: 230, x1: 1900, y1: 520 }; // B's drag while locked: must stay blank
const A_LOCKED = { x0: 100, y0: 480, x1: 900, y1: 720 };   // A, while locked
const B_AGAIN = { x0: 1000, y0: 680, x1: 1900, y1: 920 };  // B, after C unlocked

// What a person sees of the owner's tools and the pen.
async function ui(page) {
  return page.evaluate(() => {
    const shown = (sel) => {
      const el = document.querySelector(sel);
      return Boolean(el && el.offsetParent !== null && getComputedStyle(el).visibility !== "hidden");
    };
    const badge = document.querySelector("#lock-badge");
    return {
      lock: shown("#lock") ? document.querySelector("#lock").textContent.trim() : "",
      ownerLink: shown("#owner-link"),
      badge: shown("#lock-badge") ? badge.textContent.trim() : "",
      pen: shown("#swatches") && shown("#width"),
      undo: shown("#undo"),
      clear: shown("#clear"),
    };
  });
}

async function history(url) {
  const res = await fetch(url + "/history.ndjson", { cache: "no-store" });
  if (!res.ok) throw new Error(`GET ${url}/history.ndjson: HTTP ${res.status}`);
  return (await res.text()).split("\n").filter((l) => l.trim()).map((l) => JSON.parse(l));
}

const waitUI = (page, who, what, want) =>
  poll(`${who} to show ${what}`, async () => want(await ui(page)));

await main(async (base, onExit) => {
  const browser = await launch();
  onExit(browser);

  // A opens the default board (nobody's: no owner tools, no claim) and makes a new one.
  const a = await openPage(browser, base + "/", { permissions: ["clipboard-read", "clipboard-write"] });
  await waitSynced(a, "page A on the default board");
  const onDefault = await ui(a);
  await Promise.all([
    a.waitForURL(/\/b\/[a-z0-9]{10}(\?new)?$/, { waitUntil: "load" }),
    a.getByRole("button", { name: "New board" }).click(),
  ]);
  await waitSynced(a, "page A on its new board");
  const aOwner = await waitUI(a, "A", "Lock and Owner link", (u) => u.lock === "Lock" && u.ownerLink);
  const boardURL = base + new URL(a.url()).pathname;
  // The claim is settled: ?new leaves the address bar.
  await waitUntil(a, "?new to leave A's address bar", () => location.search === "");
  const aAuthor = await a.evaluate(() => window.__draw.author());
  const firstOps = await history(boardURL);
  const defaultOps = (await history(base)).length;
  await setPen(a, { color: A_COLOR, width: 8 });

  // B opens the board by its link: no owner tools, and it can draw.
  const b = await openPage(browser, boardURL);
  await waitSynced(b, "page B");
  await setPen(b, { name: "Bob", color: B_COLOR, width: 8 });
  const bBefore = await ui(b);
  const bAuthor = await b.evaluate(() => window.__draw.author());
  await mouseStroke(b, line({ x: 200, y: 150 }, { x: 800, y: 250 }, 8));
  const bOpenOnA = (await waitInk(a, B_OPEN, "B's stroke on A", { color: B_COLOR, min: 200 })).matching;
  await waitSettled(b, "page B");

  // A locks: A's toggle says Unlock, B says it is locked and its pen goes.
  await a.click("#lock");
  const aLocked = await waitUI(a, "A", "Unlock", (u) => u.lock === "Unlock" && u);
  const bLocked = await waitUI(b, "B", "the locked notice", (u) => u.badge !== "" && u);
  const lockOp = (await history(boardURL)).at(-1);

  // B drags across the board: nothing shows, on B or anywhere, and B's
  // pointer still moves on A (only drawing is refused).
  await mouseStroke(b, line({ x: 1100, y: 300 }, { x: 1800, y: 450 }, 8));
  const bDragOnB = (await inkIn(b, B_LOCKED)).ink;
  const bPointerOnA = await pointerCount(a);
  // A still draws, and B sees it: by then B's drag would have reached A too.
  await mouseStroke(a, line({ x: 200, y: 550 }, { x: 800, y: 650 }, 8));
  const aLockedOnB = (await waitInk(b, A_LOCKED, "A's stroke (while locked) on B", { color: A_COLOR, min: 200 })).matching;
  await waitSettled(a, "page A");
  await waitSettled(b, "page B");
  const bDragLater = { onA: (await inkIn(a, B_LOCKED)).ink, onB: (await inkIn(b, B_LOCKED)).ink };
  const whileLocked = (await history(boardURL)).filter((op) => op.seq > lockOp.seq);
  const bNotice = await noticeText(b);
  const bRefused = await b.evaluate(() => window.__draw.rejections().length);

  // A's owner link, copied and shown; opened in a third browser C, it makes C an owner.
  await a.click("#owner-link");
  const ownerLink = await waitUntil(a, "A to show the owner link", () => {
    const f = document.querySelector("#owner-link-field");
    return f && !f.hidden && f.value.includes("#owner=") && f.value;
  });
  // The notice follows the clipboard write, a moment after the field shows.
  const aNotice = await poll("A's notice about the owner link", async () => {
    const text = await noticeText(a);
    return text.includes("owner link") || text.startsWith("Owner link") ? text : "";
  });
  let clipboard = "";
  try { clipboard = await a.evaluate(() => navigator.clipboard.readText()); } catch (err) { clipboard = "unreadable: " + err.message; }
  const c = await openPage(browser, ownerLink);
  await waitSynced(c, "page C");
  const cLocked = await waitUI(c, "C", "Unlock", (u) => u.lock === "Unlock" && u);
  const cAddress = c.url();
  const cAuthor = await c.evaluate(() => window.__draw.author());

  // C unlocks: B's pen comes back and B's drawing reaches everyone again.
  await c.click("#lock");
  const bUnlocked = await waitUI(b, "B", "its pen again", (u) => u.pen && u.badge === "" && u);
  const bUnlockNotice = await noticeText(b); // shown with the pen, for a few seconds
  const aUnlocked = await waitUI(a, "A", "Lock", (u) => u.lock === "Lock" && u);
  await mouseStroke(b, line({ x: 1100, y: 750 }, { x: 1800, y: 850 }, 8));
  const bAgainOnA = (await waitInk(a, B_AGAIN, "B's stroke after the unlock on A", { color: B_COLOR, min: 200 })).matching;
  const bAgainOnC = (await waitInk(c, B_AGAIN, "B's stroke after the unlock on C", { color: B_COLOR, min: 200 })).matching;

  // C keeps the board's secret: after a reload it is still an owner.
  await c.reload({ waitUntil: "load" });
  await waitSynced(c, "page C after a reload");
  const cReloaded = await waitUI(c, "C (reloaded)", "Lock", (u) => u.lock === "Lock" && u);

  const ops = await history(boardURL);
  return {
    onDefault, defaultOps,
    newBoard: new URL(boardURL).pathname,
    firstOp: firstOps[0] ? { type: firstOps[0].type, seq: firstOps[0].seq, byA: firstOps[0].author === aAuthor } : null,
    aOwner, bBefore, bOpenOnA,
    aLocked, bLocked, lockOp: { type: lockOp.type, byA: lockOp.author === aAuthor },
    bDragOnB, bPointerOnA, aLockedOnB, bDragLater, bNotice, bRefused,
    whileLocked: {
      ops: whileLocked.length,
      fromB: whileLocked.filter((op) => op.author === bAuthor).length,
      notFromA: whileLocked.filter((op) => op.author !== aAuthor).map((op) => op.type + ":" + op.author),
    },
    ownerLink: { hasSecret: /#owner=[A-Za-z0-9_-]{16,64}$/.test(ownerLink), board: ownerLink.startsWith(boardURL + "#"), clipboard: clipboard === ownerLink ? "same" : clipboard, notice: aNotice },
    cAddress, cIsA: cAuthor === aAuthor, cLocked,
    unlockOp: (() => { const op = ops.filter((o) => o.type === "unlock").at(-1); return op ? { byC: op.author === cAuthor } : null; })(),
    bUnlocked, aUnlocked, bUnlockNotice, bAgainOnA, bAgainOnC, cReloaded,
    errors: [...a.errors.map((e) => "A: " + e), ...b.errors.map((e) => "B: " + e), ...c.errors.map((e) => "C: " + e)],
  };
});
