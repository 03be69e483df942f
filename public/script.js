// The drawing page. Served at / (the default board) and /b/<name>.
//
// Wire format (docs/PROTOCOL.md is the contract):
//
// Pointers (compatible with the original page, which understands only these):
//   we emit    mousemove {x, y, drawing, color, width}   x, y in board units (0..2000, 0..1000)
//   we receive moving    {x, y, drawing, id, color?, width?}   only moves the sender's pointer
//   Moves go out at most every 50 ms, except at a stroke's ends: pen down sends
//   its point at once, pen up sends the last point as drawing and then again as
//   not drawing. The server records moves of pages that never sent `sync`
//   (classic pages) into the board's log, so their drawing reaches us as ops.
//
// Ink (the board's log; the picture is a pure function of it):
//   we emit    sync  {author: secret, since: have}      after every (re)connect
//   we receive synced {author, head, saving, segments, limit}
//   we fetch   <board>/history.ndjson?since=have       when head > have (head < have: board deleted, start over)
//   we emit    draw  [{stroke, i, color, width, points: [x0, y0, x1, y1, …]}, …]   every 50 ms while drawing
//              (piece i > 0 starts at the last point of piece i-1); each piece stays pending until its echo
//   we emit    undo {stroke} / redo {stroke} / clear {stroke: new id}
//   we receive ops   [{seq, time, type: stroke|undo|redo|clear, stroke, author, …}, …]   in seq order;
//              ops without seq are live but not yet saved (they come again with one)
//   we receive storage {saving, reason}, rejected {event, reason, dropped}
//
// Owners and locks (a board made with "New board" has an owner; others have none):
//   we emit    claim {}    after `synced` with head 0 and no owner, on the page "New board" opened (?new)
//   we emit    lock {} / unlock {}   owner only
//   we receive ops  {type: own|lock|unlock, author}   in the log like strokes (replay ignores them);
//              synced also says {owner, locked, role}, the state at its head
//   While locked only the owner draws: the others' pages hide the pen and ignore pointer drawing.
//
// Presence (optional, old servers do not send it): hello, presence, joined, clientdisconnect.
"use strict";

(() => {
  const BOARD_W = 2000;
  const BOARD_H = 1000;
  const EMIT_INTERVAL = 50;     // ms between mousemoves and between draw events, as the original page
  const IDLE_AFTER = 3000;      // ms before a still remote pointer fades
  const NOTICE_FOR = 4000;      // ms a status notice stays
  const QUIET_MS = 250;         // a full redraw waits this long after the last change it is for
  const FADE_AFTER = 1500;      // ms before an unacknowledged piece of ours is drawn faded
  const FADED_ALPHA = 0.35;
  const RESEND_AFTER = 3000;    // ms before an unacknowledged piece is sent again
  const UNSAVED_AFTER = 3000;   // ms of unacknowledged pieces before the status says "Not saved"
  const MAX_BATCH = 64;         // pieces per draw event (the server's limit)
  const MAX_PIECE_POINTS = 200; // a piece is cut early when it gets this long (the server takes 256)
  const MAX_STROKE_PIECES = 10000; // the server's limit: a longer drag goes on as a new stroke
  const REPLAY_GAP_CAP = 1000;  // ms of replay time an idle gap in the history may take at most
  const DEFAULT_COLOR = "#1c1917";
  const MIN_WIDTH = 1;
  const MAX_WIDTH = 40;
  const MAX_PEOPLE_SHOWN = 8;
  const PALETTE = ["#1c1917", "#e11d48", "#f59e0b", "#16a34a", "#0891b2", "#2563eb", "#7c3aed"];

  const $ = (id) => document.getElementById(id);
  const canvas = $("canvas");
  const ctx = canvas.getContext("2d");
  const stage = $("stage");
  const pointersEl = $("pointers");

  // ---------- settings ----------

  const store = {
    get(key) { try { return localStorage.getItem(key); } catch { return null; } },
    set(key, value) { try { localStorage.setItem(key, value); } catch { /* private mode */ } },
  };

  const isHexColor = (c) => typeof c === "string" && /^#(?:[0-9a-f]{3}|[0-9a-f]{6})$/i.test(c);
  const clampWidth = (w) => Math.min(MAX_WIDTH, Math.max(MIN_WIDTH, Math.round(w)));
  // The log wants #rrggbb.
  const fullHex = (c) => (c.length === 4 ? "#" + c.slice(1).replace(/./g, "$&$&") : c).toLowerCase();

  // Random ids of [A-Za-z0-9_-]: stroke ids (12) and the author secret (32).
  const ID_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  function randomId(n) {
    const bytes = crypto.getRandomValues(new Uint8Array(n));
    let s = "";
    for (const b of bytes) s += ID_CHARS[b & 63];
    return s;
  }

  const me = {
    name: (store.get("draw.name") || "").slice(0, 32),
    color: isHexColor(store.get("draw.color")) ? store.get("draw.color").toLowerCase()
      : PALETTE[1 + Math.floor(Math.random() * (PALETTE.length - 1))],
    width: Number(store.get("draw.width")) ? clampWidth(Number(store.get("draw.width"))) : 4,
    // The secret that makes our strokes ours (the server tells us the public
    // author id derived from it). Kept, so undo works across reloads.
    secret: store.get("draw.author") || "",
    author: "", // public id, from `synced`
  };
  if (!me.name) {
    me.name = "Guest " + (100 + Math.floor(Math.random() * 900));
    store.set("draw.name", me.name);
  }
  if (!/^[A-Za-z0-9_-]{22,64}$/.test(me.secret)) {
    me.secret = randomId(32);
    store.set("draw.author", me.secret);
  }

  // ---------- which board ----------

  function boardFromPath(pathname) {
    const m = /^\/b\/([^/]+)\/?$/.exec(pathname);
    if (!m) return "";
    try { return decodeURIComponent(m[1]); } catch { return m[1]; }
  }
  const board = boardFromPath(location.pathname);
  const boardURL = location.origin + (board ? "/b/" + encodeURIComponent(board) : "/");
  // Where the board's HTTP resources live: history.ndjson, board.svg.
  const boardPath = board ? "/b/" + encodeURIComponent(board) + "/" : "/";
  $("board-name").textContent = board || "Default board";
  document.title = (board ? board : "Default board") + " · Draw together";

  // ---------- this board's own secret ----------

  // A board made with "New board" gets a secret of its own, kept per board,
  // so that its owner link hands over this board only (not our strokes on
  // every other board). An owner link (#owner=<secret>) brings that secret to
  // another browser, which then is the owner there too.
  const SECRET_RE = /^[A-Za-z0-9_-]{16,64}$/;
  const ownerKey = "draw.owner:" + (board || "/");
  const ownerFragment = /^#owner=([A-Za-z0-9_-]{16,64})$/.exec(location.hash);
  // ?new: this page was opened by "New board" and claims the board if it is still new and empty.
  // The ?new stays in the address bar until the claim is settled, so a reload claims too.
  let wantClaim = board !== "" && new URLSearchParams(location.search).has("new") && !ownerFragment;
  let boardSecret = SECRET_RE.test(store.get(ownerKey) || "") ? store.get(ownerKey) : "";
  if (ownerFragment) boardSecret = ownerFragment[1];
  else if (wantClaim && !boardSecret) boardSecret = randomId(32);
  if (boardSecret) {
    me.secret = boardSecret;
    store.set(ownerKey, boardSecret);
  }
  // The secret must not stay in the address bar (nor in a link copied from it).
  if (ownerFragment) history.replaceState(history.state, "", location.pathname + location.search);

  function claimSettled() {
    if (!wantClaim) return;
    wantClaim = false;
    history.replaceState(history.state, "", location.pathname);
  }

  // ---------- the log ----------

  // A Log holds the committed ops of a board, applied in seq order, in the
  // form rendering needs: the stroke pieces, which actions (strokes and
  // clears) are undone, and the clears; and who owns the board and whether it
  // is locked (which never changes the picture). The live board and a replay each have one.
  class Log {
    constructor() {
      this.have = 0;             // every op up to this seq is applied
      this.owner = "";           // author id of the board's owner, "" for nobody's board
      this.locked = false;       // only the owner draws
      this.pieces = [];          // committed pieces, seq order
      this.keys = new Set();     // "stroke/i" of those pieces
      this.actions = new Map();  // action id -> {kind: "stroke"|"clear", author, seq}, by first seq
      this.undone = new Set();   // action ids currently undone
      this.clears = [];          // clear ops, seq order
    }

    // The seq of the newest clear that is in force: pieces at or below it are hidden.
    clearedUpTo() {
      for (let k = this.clears.length - 1; k >= 0; k--) {
        if (!this.undone.has(this.clears[k].stroke)) return this.clears[k].seq;
      }
      return 0;
    }

    isVisible(p, clearedUpTo = this.clearedUpTo()) {
      return p.seq > clearedUpTo && !this.undone.has(p.stroke);
    }

    *visiblePieces() {
      const upTo = this.clearedUpTo();
      for (const p of this.pieces) if (this.isVisible(p, upTo)) yield p;
    }

    // apply takes a committed op with seq > have and says what it changed:
    // "piece" (a new piece to paint on top), "state" (visibility changed: redraw), or "" (nothing).
    apply(op) {
      this.have = op.seq;
      switch (op.type) {
        case "stroke": {
          const key = op.stroke + "/" + op.i;
          if (this.keys.has(key)) return "";
          this.keys.add(key);
          this.pieces.push(op);
          if (!this.actions.has(op.stroke)) this.actions.set(op.stroke, { kind: "stroke", author: op.author, seq: op.seq });
          return "piece";
        }
        case "undo":
        case "redo": {
          const was = this.undone.has(op.stroke);
          if (op.type === "undo") this.undone.add(op.stroke); else this.undone.delete(op.stroke);
          return was !== this.undone.has(op.stroke) ? "state" : "";
        }
        case "clear": {
          const previous = this.clears[this.clears.length - 1];
          this.clears.push(op);
          this.actions.set(op.stroke, { kind: "clear", author: op.author, seq: op.seq });
          // Only the newest clear can be undone, so a previous clear in force
          // hides what is before it for good: forget that (the server deletes it too).
          if (previous && !this.undone.has(previous.stroke)) this.forgetBefore(previous.seq);
          return "state";
        }
        // Ownership ops: nothing to draw ("" keeps replays and redraws out of it).
        case "own":
          if (!this.owner) this.owner = op.author;
          return "";
        case "lock":
        case "unlock":
          this.locked = op.type === "lock";
          return "";
      }
      return "";
    }

    forgetBefore(seq) {
      const drop = this.pieces.findIndex((p) => p.seq >= seq);
      if (drop === 0) return;
      const gone = drop < 0 ? this.pieces : this.pieces.slice(0, drop);
      this.pieces = drop < 0 ? [] : this.pieces.slice(drop);
      for (const p of gone) this.keys.delete(p.stroke + "/" + p.i);
      const left = new Set(this.pieces.map((p) => p.stroke));
      for (const [id, a] of this.actions) {
        if (a.kind === "stroke" && a.seq < seq && !left.has(id)) {
          this.actions.delete(id);
          this.undone.delete(id);
        }
      }
      this.clears = this.clears.filter((c) => c.seq >= seq);
    }
  }

  // normalizeOp checks an op from the server (socket or history) and returns
  // it in the shape the page uses, or null. seq is 0 for live-but-unsaved ops.
  // A committed op the page does not understand (a later addition to the
  // protocol) becomes type "other": it still counts for `have`.
  function normalizeOp(o) {
    if (!o || typeof o !== "object") return null;
    const seq = Number.isSafeInteger(o.seq) && o.seq > 0 ? o.seq : 0;
    const base = {
      type: o.type, seq, time: Number(o.time) || 0, stroke: typeof o.stroke === "string" ? o.stroke : "",
      author: typeof o.author === "string" ? o.author : "",
    };
    // Ownership counts once committed: an unsaved one is taken back by the server.
    if (o.type === "own" || o.type === "lock" || o.type === "unlock") return seq ? { ...base, stroke: "" } : null;
    if (base.stroke) {
      switch (o.type) {
        case "stroke":
          if (Number.isInteger(o.i) && o.i >= 0 && Array.isArray(o.points) && o.points.length >= 2 &&
            o.points.length % 2 === 0 && o.points.every(Number.isFinite)) {
            return {
              ...base, i: o.i, points: o.points,
              color: isHexColor(o.color) ? o.color : DEFAULT_COLOR,
              width: Number.isFinite(o.width) ? clampWidth(o.width) : 2,
            };
          }
          break;
        case "undo":
        case "redo":
          return base;
        case "clear":
          return { ...base, name: typeof o.name === "string" ? o.name.slice(0, 32) : "" };
      }
    }
    return seq ? { ...base, type: "other", stroke: "" } : null;
  }

  // ---------- painting ----------

  // A piece is one polyline in board units, stroked alone with round caps and
  // joins; a piece whose points all coincide is a dot of diameter width. Every
  // page paints the same pieces in the same order with this function, which is
  // what makes the pages agree to the pixel.
  function paintPiece(c, p) {
    const pts = p.points;
    let still = true;
    for (let k = 2; k < pts.length && still; k += 2) still = pts[k] === pts[0] && pts[k + 1] === pts[1];
    c.beginPath();
    if (still) {
      c.fillStyle = p.color;
      c.arc(pts[0], pts[1], p.width / 2, 0, Math.PI * 2);
      c.fill();
      return;
    }
    c.lineCap = "round";
    c.lineJoin = "round";
    c.strokeStyle = p.color;
    c.lineWidth = p.width;
    c.moveTo(pts[0], pts[1]);
    for (let k = 2; k < pts.length; k += 2) c.lineTo(pts[k], pts[k + 1]);
    c.stroke();
  }

  function boardTransform(c = ctx, w = canvas.width, h = canvas.height) {
    c.setTransform(w / BOARD_W, 0, 0, h / BOARD_H, 0, 0);
  }

  function clearCanvas() {
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.globalAlpha = 1;
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    boardTransform();
  }

  // ---------- the live board ----------

  let live = new Log();
  const unsaved = new Map();  // "stroke/i" -> live piece the server could not store yet (no seq)
  let pending = [];           // our pieces not yet acknowledged, oldest first:
  //                             {stroke, i, color, width, points, createdAt, sentAt, sentOn, faded}
  const pendingKeys = new Map(); // "stroke/i" -> pending piece

  // dirty: the canvas is not the canonical picture of `live` (our preview,
  // pending or unsaved pieces are on it, or pieces were painted out of order).
  // A full redraw makes it canonical again; it waits until drawing is quiet.
  let dirty = false;
  let redrawWanted = false;
  let redrawTimer = 0;
  let redrawSoon = false; // the timer is the short one
  let redrawFrame = 0;
  let loadingHistory = false;

  // requestRedraw asks for a full redraw: soon (next frame) for discrete
  // changes such as undo or clear, else once nothing changed for QUIET_MS. It
  // never happens while a pointer is drawing; the stroke's end asks again.
  function requestRedraw(soon) {
    redrawWanted = true;
    // While history streams in, one redraw at its end beats painting as it
    // comes and again for every undo in it.
    if (loadingHistory || redrawFrame || (redrawTimer && redrawSoon)) return;
    clearTimeout(redrawTimer);
    redrawSoon = soon;
    redrawTimer = setTimeout(() => {
      redrawTimer = 0;
      redrawFrame = requestAnimationFrame(() => {
        redrawFrame = 0;
        if (redrawWanted && !active) redraw();
      });
    }, soon ? 0 : QUIET_MS);
  }

  // A scratch canvas for faded pieces: painted opaque, then laid on at
  // FADED_ALPHA, so overlapping pieces do not darken each other.
  let fadeLayer = null;

  function paintFaded(list) {
    if (!list.length) return;
    if (!fadeLayer) fadeLayer = document.createElement("canvas");
    if (fadeLayer.width !== canvas.width || fadeLayer.height !== canvas.height) {
      fadeLayer.width = canvas.width;
      fadeLayer.height = canvas.height;
    }
    const f = fadeLayer.getContext("2d");
    f.setTransform(1, 0, 0, 1, 0, 0);
    f.clearRect(0, 0, fadeLayer.width, fadeLayer.height);
    boardTransform(f, fadeLayer.width, fadeLayer.height);
    for (const p of list) paintPiece(f, p);
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.globalAlpha = FADED_ALPHA;
    ctx.drawImage(fadeLayer, 0, 0);
    ctx.globalAlpha = 1;
    boardTransform();
  }

  // redraw paints everything from scratch: the log's visible pieces in seq
  // order (exactly what a fresh joiner paints), then what is not in the log yet.
  function redraw() {
    redrawWanted = false;
    clearTimeout(redrawTimer);
    redrawTimer = 0;
    clearCanvas();
    if (replay) {
      for (const p of replay.log.visiblePieces()) paintPiece(ctx, p);
      return;
    }
    for (const p of live.visiblePieces()) paintPiece(ctx, p);
    for (const p of unsaved.values()) paintPiece(ctx, p);
    const now = performance.now();
    const faded = [];
    for (const p of pending) {
      p.faded = now - p.createdAt > FADE_AFTER;
      if (p.faded) faded.push(p);
    }
    paintFaded(faded);
    for (const p of pending) if (!p.faded) paintPiece(ctx, p);
    if (active) paintPiece(ctx, active);
    dirty = unsaved.size > 0 || pending.length > 0 || active !== null;
  }

  // Fit the 2000×1000 board into the space <main> offers, letterboxed, with a
  // backing store at the screen's pixel density.
  function layout() {
    const main = $("main");
    const cs = getComputedStyle(main);
    const availW = main.clientWidth - parseFloat(cs.paddingLeft) - parseFloat(cs.paddingRight);
    const availH = main.clientHeight - parseFloat(cs.paddingTop) - parseFloat(cs.paddingBottom);
    const scale = Math.max(0.05, Math.min(availW / BOARD_W, availH / BOARD_H));
    const cssW = Math.max(1, Math.floor(BOARD_W * scale));
    const cssH = Math.max(1, Math.floor(BOARD_H * scale));
    stage.style.width = cssW + "px";
    stage.style.height = cssH + "px";
    const dpr = window.devicePixelRatio || 1;
    const w = Math.round(cssW * dpr);
    const h = Math.round(cssH * dpr);
    if (canvas.width !== w || canvas.height !== h) {
      canvas.width = w;
      canvas.height = h;
      redraw();
    }
  }

  new ResizeObserver(layout).observe($("main"));
  window.addEventListener("resize", layout);
  // The pixel density changes without a resize when the window moves to another screen.
  (function watchDensity() {
    matchMedia("(resolution: " + (window.devicePixelRatio || 1) + "dppx)")
      .addEventListener("change", () => { layout(); watchDensity(); }, { once: true });
  })();

  function toBoard(e) {
    const r = canvas.getBoundingClientRect();
    const x = (e.clientX - r.left) * BOARD_W / r.width;
    const y = (e.clientY - r.top) * BOARD_H / r.height;
    return {
      x: Math.round(Math.min(BOARD_W, Math.max(0, x)) * 10) / 10,
      y: Math.round(Math.min(BOARD_H, Math.max(0, y)) * 10) / 10,
    };
  }

  // ---------- applying ops ----------

  const isMine = (op) => me.author !== "" && op.author === me.author;

  // applyCommitted applies one committed op (seq > live.have) to the live log
  // and the canvas. announce: it is news (not the catch-up after loading).
  function applyCommitted(op, announce) {
    const key = op.type === "stroke" ? op.stroke + "/" + op.i : "";
    const change = live.apply(op);
    if (op.type === "own" || op.type === "lock" || op.type === "unlock") {
      if (op.type === "own") {
        claimSettled(); // ours, or someone was quicker
        if (announce && isMine(op)) notice("You own this board: Lock lets only you draw; the owner link makes another device an owner");
      }
      showAccess();
      return;
    }
    if (op.type === "stroke") {
      const mine = pendingKeys.get(key);
      if (mine) { // our piece is saved: it is no longer pending
        pendingKeys.delete(key);
        pending.splice(pending.indexOf(mine), 1);
        requestRedraw(false); // our preview under it is not canonical
        if (!pending.length) updateSaveState();
      } else if (unsaved.delete(key)) {
        requestRedraw(false); // it was painted out of order
      } else if (change === "piece" && !replay && live.isVisible(op)) {
        if (loadingHistory) {
          redrawWanted = true; // painted once, when the history is in
        } else {
          boardTransform();
          paintPiece(ctx, op); // in seq order on top: the canvas stays canonical
        }
      }
      if (isMine(op) && live.actions.get(op.stroke)?.seq === op.seq) { // a new action of ours
        ownActionCommitted(op.stroke);
        updateEditButtons();
      }
    } else if (change === "state" || op.type === "clear") {
      requestRedraw(true);
    }
    if (op.type === "clear") {
      if (isMine(op)) ownActionCommitted(op.stroke);
      if (announce) {
        if (isMine(op)) notice("You cleared the board. Undo (Ctrl+Z) brings it back.");
        else notice((op.name || "Someone") + " cleared the board");
      }
    }
    if (op.type !== "stroke") {
      settleRequest(op.stroke);
      updateEditButtons();
    }
  }

  // A live op the server could not store yet: only pieces are drawn (they
  // come again with a seq); undo, redo and clear wait for theirs.
  function applyUnsaved(op) {
    if (op.type !== "stroke") return;
    const key = op.stroke + "/" + op.i;
    if (pendingKeys.has(key) || live.keys.has(key) || unsaved.has(key)) return;
    unsaved.set(key, op);
    dirty = true;
    if (!replay) {
      boardTransform();
      paintPiece(ctx, op);
    }
  }

  // ---------- sync: catching up with the log ----------

  // An app that embeds the board hands its user a token: /b/<name>?token=…
  // (or #token=…). It goes with the socket's CONNECT and with every HTTP read.
  const token = new URLSearchParams(location.search).get("token") ||
    new URLSearchParams(location.hash.slice(1)).get("token") || "";
  const withToken = (url) => token ? url + (url.includes("?") ? "&" : "?") + "access_token=" + encodeURIComponent(token) : url;
  const socket = io(Object.assign(board ? { query: { board } } : {}, token ? { auth: { token } } : {}));

  let synced = false;       // `synced` came on this connection
  let caughtUp = false;     // and the history up to its head is applied
  let fetching = false;
  let syncGen = 0;          // bumped on every connection and board reset; stale fetches stop
  let catchUps = 0;         // completed catch-ups (the first one, after loading, is not news)
  let early = [];           // committed ops that came while fetching or after a gap
  let syncedHead = 0;       // the head `synced` reported
  // What `synced` said of the board's owner and lock (at its head) and what
  // this socket may do; the page goes by it until the log is caught up.
  let syncedAccess = { owner: "", locked: false, role: "draw" };
  let saving = true;
  let savingReason = "";

  function resetLive() {
    live = new Log();
    unsaved.clear();
    early = [];
    // Our strokes still pending stay ours: they are sent to the new log.
    const keep = localActions.filter((id) => pending.some((p) => p.stroke === id));
    localActions.splice(0, localActions.length, ...keep);
    localClears.clear();
    requests.clear();
    redraw();
    updateEditButtons();
  }

  // onOps handles an `ops` frame: committed ops in seq order go on the
  // canvas; a gap before them (or a catch-up under way) sends them to `early`.
  function onOps(list) {
    if (!Array.isArray(list)) return;
    for (const raw of list) {
      const op = normalizeOp(raw);
      if (!op) continue;
      if (!op.seq) { applyUnsaved(op); continue; }
      if (op.seq <= live.have) continue;
      if (fetching || !synced || op.seq !== live.have + 1) {
        early.push(op);
        if (synced && !fetching) catchUp();
        continue;
      }
      applyCommitted(op, catchUps > 0);
    }
  }

  // drainEarly applies buffered ops that follow on; it returns true when a
  // gap is left (ops missing between have and the first buffered one).
  function drainEarly(jump) {
    early.sort((a, b) => a.seq - b.seq);
    let k = 0;
    for (; k < early.length; k++) {
      const op = early[k];
      if (op.seq <= live.have) continue;
      if (op.seq !== live.have + 1 && !jump) break;
      applyCommitted(op, catchUps > 0);
    }
    early = early.slice(k);
    return early.length > 0;
  }

  // catchUp fetches history.ndjson?since=have, applying ops as they stream
  // in, until nothing is missing; then it sends what we still owe the server.
  async function catchUp() {
    if (fetching) return;
    fetching = true;
    const gen = syncGen;
    let idle = 0;      // fetches in a row that brought nothing
    let delay = 1000;  // retry backoff after errors
    try {
      for (;;) {
        const before = live.have;
        try {
          await fetchHistory(live.have, gen);
        } catch (err) {
          if (gen !== syncGen) return;
          console.warn("history fetch failed:", err);
          await new Promise((r) => setTimeout(r, delay));
          delay = Math.min(delay * 2, 15000);
          if (gen !== syncGen || !socket.connected) return;
          continue;
        }
        if (gen !== syncGen) return;
        idle = live.have === before ? idle + 1 : 0;
        // A gap the history cannot fill (its ops were deleted after a clear)
        // is jumped over after two fetches that brought nothing.
        const jump = idle >= 2;
        const gap = drainEarly(jump);
        if (jump && live.have < syncedHead) {
          live.have = syncedHead;
          live.owner ||= syncedAccess.owner; // what we jumped over may have changed them
          live.locked = syncedAccess.locked;
        }
        if (!gap && live.have >= syncedHead) break;
      }
      fetching = false;
      caughtUpNow();
    } finally {
      if (gen === syncGen) fetching = false;
    }
  }

  // caughtUpNow: the log is applied up to the head; what waited for that goes out.
  function caughtUpNow() {
    caughtUp = true;
    catchUps++;
    showAccess(); // from the log from now on
    flushRequests();
    pumpDraw();
    updateEditButtons();
    updateSaveState();
  }

  async function fetchHistory(since, gen) {
    loadingHistory = true;
    try {
      await streamHistory(since, gen);
    } finally {
      loadingHistory = false;
      if (redrawWanted) requestRedraw(true);
    }
  }

  // A fresh page asks for the whole history at once, while its socket is
  // still connecting; the first catch-up from 0 reads that answer. Whatever
  // is committed after it, the catch-up fetches next (it goes on until have
  // reaches the head that synced said).
  let prefetched = fetch(withToken(boardPath + "history.ndjson?since=0"), { cache: "no-store" });
  prefetched.catch(() => {}); // a failure shows when the catch-up reads it

  async function streamHistory(since, gen) {
    const ready = since === 0 ? prefetched : null;
    prefetched = null;
    const res = await (ready || fetch(withToken(boardPath + "history.ndjson?since=" + since), { cache: "no-store" }));
    if (!res.ok) throw new Error("GET history.ndjson: HTTP " + res.status);
    const take = (line) => {
      if (!line.trim()) return;
      let op = null;
      try { op = normalizeOp(JSON.parse(line)); } catch { console.warn("bad history line:", line); }
      if (op && op.seq > live.have) applyCommitted(op, catchUps > 0);
    };
    if (!res.body || !res.body.getReader) {
      const text = await res.text();
      if (gen === syncGen) for (const line of text.split("\n")) take(line);
      return;
    }
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    let buf = "";
    for (;;) {
      const { done, value } = await reader.read();
      if (gen !== syncGen) { reader.cancel().catch(() => {}); return; }
      buf += decoder.decode(value || new Uint8Array(), { stream: !done });
      let nl;
      while ((nl = buf.indexOf("\n")) >= 0) {
        take(buf.slice(0, nl));
        buf = buf.slice(nl + 1);
      }
      if (done) break;
    }
    take(buf);
  }

  socket.on("synced", (d) => {
    if (!d || typeof d !== "object") return;
    const head = Number(d.head) || 0;
    if (typeof d.author === "string" && d.author !== me.author) me.author = d.author;
    saving = d.saving !== false;
    savingReason = saving ? "" : String(d.reason || "the server cannot save right now");
    synced = true;
    syncedHead = head;
    syncedAccess = {
      owner: typeof d.owner === "string" ? d.owner : "",
      locked: d.locked === true,
      role: d.role === "owner" || d.role === "view" ? d.role : "draw",
    };
    if (wantClaim) {
      if (head === 0 && !syncedAccess.owner) socket.emit("claim", {}); // answered by an `own` op
      else claimSettled(); // not new any more: it stays as it is
    }
    if (head < live.have) {
      // The board was deleted (or the server forgot it): start over from
      // nothing; our pending pieces are kept and sent again.
      syncGen++;
      fetching = false;
      catchUps = 0;
      resetLive();
    }
    if (head > live.have || drainEarly(false)) catchUp();
    else caughtUpNow();
    showAccess();
    updateEditButtons();
    updateSaveState();
  });

  socket.on("ops", onOps);

  socket.on("storage", (d) => {
    const was = saving;
    saving = !(d && d.saving === false);
    savingReason = saving ? "" : String((d && d.reason) || "the server cannot save right now");
    if (saving && !was) notice("Saving again");
    updateSaveState();
  });

  // ---------- our pieces: sending until acknowledged ----------

  let connGen = 0;          // bumped on every connection: pieces are sent again on a new one
  let connectedAt = 0;
  let lastDrawAt = -Infinity;
  let drawTimer = 0;
  let drawRefused = null;   // {reason, at}: the server refused a draw (board full…)

  function addPending(piece) {
    const p = { ...piece, createdAt: performance.now(), sentAt: -Infinity, sentOn: -1, faded: false };
    pending.push(p);
    pendingKeys.set(p.stroke + "/" + p.i, p);
    pumpDraw();
  }

  // pumpDraw sends pending pieces that this connection has not had yet, or
  // that stayed unacknowledged for RESEND_AFTER, in order, MAX_BATCH a time,
  // at most one draw per EMIT_INTERVAL (well under the server's rate limit).
  function pumpDraw() {
    if (drawTimer || !socket.connected || !synced || !caughtUp) return;
    const now = performance.now();
    const wait = lastDrawAt + EMIT_INTERVAL - now;
    if (wait > 0) {
      drawTimer = setTimeout(() => { drawTimer = 0; pumpDraw(); }, wait);
      return;
    }
    const resendAfter = drawRefused && now - drawRefused.at < 15000 ? 15000 : RESEND_AFTER;
    const batch = [];
    for (const p of pending) {
      if (p.sentOn === connGen && now - p.sentAt < resendAfter) continue;
      batch.push(p);
      if (batch.length === MAX_BATCH) break;
    }
    if (!batch.length) return;
    for (const p of batch) {
      p.sentAt = now;
      p.sentOn = connGen;
    }
    socket.emit("draw", batch.map(({ stroke, i, color, width, points }) => ({ stroke, i, color, width, points })));
    lastDrawAt = now;
    drawTimer = setTimeout(() => { drawTimer = 0; pumpDraw(); }, EMIT_INTERVAL);
  }

  // Housekeeping twice a second: resend what is overdue, fade what is old,
  // say whether everything is saved.
  setInterval(() => {
    pumpDraw();
    const now = performance.now();
    if (pending.some((p) => !p.faded && now - p.createdAt > FADE_AFTER)) requestRedraw(false);
    updateSaveState();
  }, 500);

  // ---------- pointer messages (the seed contract) ----------

  let lastEmitAt = -Infinity;
  let nextMove = null;
  let moveTimer = 0;

  function emitNow(point) {
    clearTimeout(moveTimer);
    moveTimer = 0;
    nextMove = null;
    if (!socket.connected) return; // nothing queues up while offline
    socket.emit("mousemove", point);
    lastEmitAt = performance.now();
  }

  // At most one mousemove per EMIT_INTERVAL; the newest point waits for the
  // next slot rather than being lost.
  function emitThrottled(point) {
    const wait = lastEmitAt + EMIT_INTERVAL - performance.now();
    if (wait <= 0 && !moveTimer) {
      emitNow(point);
      return;
    }
    nextMove = point;
    if (!moveTimer) {
      moveTimer = setTimeout(() => {
        moveTimer = 0;
        if (nextMove) emitNow(nextMove);
      }, Math.max(0, wait));
    }
  }

  function flushMove() {
    if (nextMove) emitNow(nextMove);
  }

  const wire = (p, drawing) => ({ x: p.x, y: p.y, drawing, color: me.color, width: me.width });

  // ---------- local input ----------

  // The stroke being drawn: the piece being built (its points start at the
  // last point of the previous piece), plus the pointer's state.
  // {pid, stroke, i, color, width, points, fresh, x, y, cutAt, cutTimer}
  let active = null;

  // cutPiece turns the points gathered since the last piece into a piece and
  // queues it for sending. At pen up a stroke that never moved is one dot.
  function cutPiece(final) {
    const a = active;
    clearTimeout(a.cutTimer);
    a.cutTimer = 0;
    a.cutAt = performance.now();
    if (!a.fresh && !(final && a.i === 0)) return;
    addPending({ stroke: a.stroke, i: a.i, color: a.color, width: a.width, points: a.points });
    a.i++;
    a.points = a.points.slice(-2);
    a.fresh = 0;
    if (a.i >= MAX_STROKE_PIECES) { // over eight minutes of one drag
      a.stroke = randomId(12);
      a.i = 0;
      localActions.push(a.stroke);
    }
  }

  function scheduleCut() {
    const a = active;
    if (a.points.length / 2 >= MAX_PIECE_POINTS) { cutPiece(false); return; }
    const wait = a.cutAt + EMIT_INTERVAL - performance.now();
    if (wait <= 0) { cutPiece(false); return; }
    if (!a.cutTimer) a.cutTimer = setTimeout(() => { if (active === a) cutPiece(false); }, wait);
  }

  // Our own stroke is previewed segment by segment as the pointer moves; the
  // pieces replace the preview at the next quiet redraw.
  function previewSegment(x0, y0, x1, y1) {
    if (replay) return;
    boardTransform();
    paintPiece(ctx, { color: active.color, width: active.width, points: [x0, y0, x1, y1] });
    dirty = true;
  }

  canvas.addEventListener("pointerdown", (e) => {
    if (active || !e.isPrimary) return;
    if (e.pointerType === "mouse" && e.button !== 0) return;
    e.preventDefault();
    if (!mayDraw()) return; // locked: watching only, not even local ink
    if (replay || replayLoading) stopReplay();
    canvas.setPointerCapture?.(e.pointerId);
    const p = toBoard(e);
    active = {
      pid: e.pointerId, stroke: randomId(12), i: 0, color: fullHex(me.color), width: me.width,
      points: [p.x, p.y], fresh: 1, x: p.x, y: p.y, cutAt: performance.now(), cutTimer: 0,
    };
    localActions.push(active.stroke); // a new action: nothing left to redo
    updateEditButtons();
    previewSegment(p.x, p.y, p.x, p.y);
    flushMove();
    emitNow(wire(p, true));
  });

  canvas.addEventListener("pointermove", (e) => {
    if (active && e.pointerId === active.pid) {
      const events = e.getCoalescedEvents ? e.getCoalescedEvents() : [];
      for (const ce of events.length ? events : [e]) {
        const p = toBoard(ce);
        if (p.x === active.x && p.y === active.y) continue;
        previewSegment(active.x, active.y, p.x, p.y);
        active.points.push(p.x, p.y);
        active.fresh++;
        active.x = p.x;
        active.y = p.y;
      }
      if (active.fresh) scheduleCut();
      emitThrottled(wire(active, true));
    } else if (!active && e.isPrimary && e.pointerType !== "touch") {
      emitThrottled(wire(toBoard(e), false)); // hovering: others see where we are
    }
  });

  function endStroke(e) {
    if (!active || e.pointerId !== active.pid) return;
    // Cancelled or lost strokes end where they last were: such events carry no useful position.
    const p = e.type === "pointerup" ? toBoard(e) : { x: active.x, y: active.y };
    if (p.x !== active.x || p.y !== active.y) {
      previewSegment(active.x, active.y, p.x, p.y);
      active.points.push(p.x, p.y);
      active.fresh++;
      active.x = p.x;
      active.y = p.y;
    }
    cutPiece(true);
    active = null;
    // The stroke must end where the pen lifted, whatever the throttle says.
    flushMove();
    emitNow(wire(p, true));
    emitNow(wire(p, false));
    requestRedraw(false);
  }
  canvas.addEventListener("pointerup", endStroke);
  canvas.addEventListener("pointercancel", endStroke);
  canvas.addEventListener("lostpointercapture", endStroke);
  canvas.addEventListener("contextmenu", (e) => e.preventDefault());

  // ---------- undo, redo, clear ----------

  // Our actions (strokes and clears, by the author id from `synced`) come
  // from the log, so they survive a reload; localActions are the ones we
  // started that the log has not shown yet. Undo takes the newest action that
  // is shown; redo the oldest undone one after it (a new action leaves none).
  const localActions = [];
  const localClears = new Set(); // the clears among them
  // requests: action id -> wanted undone state, until the log says so.
  // {undone, sentOn}: sent on connection sentOn (-1: not yet).
  const requests = new Map();

  function ownActionCommitted(id) {
    const k = localActions.indexOf(id);
    if (k >= 0) localActions.splice(k, 1);
    localClears.delete(id);
    flushRequests();
  }

  function isUndone(id) {
    const r = requests.get(id);
    return r ? r.undone : live.undone.has(id);
  }

  function myActions() {
    const ids = [];
    if (me.author) for (const [id, a] of live.actions) if (a.author === me.author) ids.push(id);
    for (const id of localActions) if (!live.actions.has(id)) ids.push(id);
    return ids;
  }

  function editTargets() {
    const ids = myActions();
    let k = ids.length - 1;
    while (k >= 0 && isUndone(ids[k])) k--;
    return { undo: k >= 0 ? ids[k] : null, redo: k + 1 < ids.length ? ids[k + 1] : null };
  }

  function request(id, undone) {
    requests.set(id, { undone, sentOn: -1 });
    flushRequests();
    updateEditButtons();
  }

  // flushRequests sends the undo/redo requests for actions the log has (an
  // action still being saved waits for its echo, so the server knows it).
  function flushRequests() {
    if (!socket.connected || !synced || !caughtUp) return;
    for (const [id, r] of requests) {
      if (!live.actions.has(id)) continue;
      if (live.undone.has(id) === r.undone) { requests.delete(id); continue; }
      if (r.sentOn === connGen) continue;
      r.sentOn = connGen;
      socket.emit(r.undone ? "undo" : "redo", { stroke: id });
    }
  }

  function settleRequest(id) {
    const r = requests.get(id);
    if (r && live.actions.has(id) && live.undone.has(id) === r.undone) requests.delete(id);
  }

  const canEdit = () => synced && caughtUp && !replay && mayDraw();

  function undo() {
    if (!canEdit() || active) return;
    const id = editTargets().undo;
    if (id) request(id, true);
  }

  function redo() {
    if (!canEdit() || active) return;
    const id = editTargets().redo;
    if (id) request(id, false);
  }

  function updateEditButtons() {
    const t = editTargets();
    $("undo").disabled = !canEdit() || !t.undo;
    $("redo").disabled = !canEdit() || !t.redo;
  }

  $("undo").addEventListener("click", undo);
  $("redo").addEventListener("click", redo);

  // Ctrl+Z / Cmd+Z undo, Ctrl+Shift+Z / Cmd+Shift+Z / Ctrl+Y redo, anywhere
  // on the page except while typing (where they edit the text).
  function isTyping(el) {
    if (!el || el === document.body) return false;
    if (el.isContentEditable || el.tagName === "TEXTAREA") return true;
    return el.tagName === "INPUT" && /^(text|search|url|tel|email|password|number)$/i.test(el.type);
  }

  window.addEventListener("keydown", (e) => {
    if (!(e.ctrlKey || e.metaKey) || e.altKey || isTyping(e.target)) return;
    const key = e.key.toLowerCase();
    if (key === "z" && !e.shiftKey) undo();
    else if ((key === "z" && e.shiftKey) || (key === "y" && e.ctrlKey && !e.shiftKey)) redo();
    else return;
    e.preventDefault();
  });

  $("clear").addEventListener("click", () => {
    if (!socket.connected || !synced) {
      notice("Not connected: the board cannot be cleared right now", true);
      return;
    }
    if (!mayDraw()) return;
    if (!confirm("Clear the board for everyone?")) return;
    const id = randomId(12);
    localActions.push(id);
    localClears.add(id);
    socket.emit("clear", { stroke: id });
    updateEditButtons();
  });

  // ---------- replay ----------

  // A replay plays the board's history back on the canvas from a Log of its
  // own, timed by the ops' `time` (idle gaps capped at REPLAY_GAP_CAP), and
  // changes nothing: the live log keeps taking ops meanwhile, and the live
  // picture comes back when the replay ends or is stopped.
  // replay: {log, ops, next (index), wait (ms of replay time before ops[next], -1: not yet worked out),
  //          credit (ms of replay time to spend), last (frame time), prevTime (time of the op before), frame, endTimer}
  let replay = null;
  let replayLoading = 0;
  const replayBtn = $("replay");
  const replaySpeed = $("replay-speed");
  const replayBadge = $("replay-badge");

  const savedSpeed = store.get("draw.replaySpeed");
  if ([...replaySpeed.options].some((o) => o.value === savedSpeed)) replaySpeed.value = savedSpeed;
  replaySpeed.addEventListener("change", () => {
    store.set("draw.replaySpeed", replaySpeed.value);
    showReplayState();
  });

  function showReplayState() {
    const on = Boolean(replay) || Boolean(replayLoading);
    replayBtn.querySelector("span").textContent = on ? "Stop" : "Replay";
    replayBtn.title = on ? "Stop the replay and show the board" : "Play the board's history back";
    replayBtn.classList.toggle("on", on);
    document.body.classList.toggle("replaying", on);
    replayBadge.hidden = !on;
    replayBadge.textContent = replayLoading && !replay ? "Loading history…"
      : "Replaying at " + replaySpeed.value + "×";
    updateEditButtons();
  }

  async function startReplay() {
    const token = ++replayLoading;
    showReplayState();
    let ops;
    try {
      const res = await fetch(withToken(boardPath + "history.ndjson"), { cache: "no-store" });
      if (!res.ok) throw new Error("HTTP " + res.status);
      ops = (await res.text()).split("\n").filter((l) => l.trim())
        .map((l) => normalizeOp(JSON.parse(l))).filter((op) => op && op.seq);
    } catch (err) {
      if (token === replayLoading) {
        replayLoading = 0;
        showReplayState();
        notice("Could not load the history: " + err.message, true);
      }
      return;
    }
    if (token !== replayLoading) return; // stopped while loading
    replayLoading = 0;
    if (!ops.length) {
      showReplayState();
      notice("Nothing to replay yet");
      return;
    }
    replay = { log: new Log(), ops, next: 0, wait: -1, credit: 0, last: performance.now(), frame: 0, prevTime: ops[0].time };
    showReplayState();
    redraw();
    replay.frame = requestAnimationFrame(replayFrame);
  }

  function replayFrame(now) {
    const r = replay;
    if (!r) return;
    r.credit += Math.max(0, now - r.last);
    r.last = now;
    const speed = Number(replaySpeed.value) || 1;
    let full = false;
    boardTransform();
    while (r.next < r.ops.length) {
      const op = r.ops[r.next];
      if (r.wait < 0) r.wait = Math.min(Math.max(0, op.time - r.prevTime) / speed, REPLAY_GAP_CAP);
      if (r.credit < r.wait) break;
      r.credit -= r.wait;
      r.wait = -1;
      r.prevTime = op.time;
      r.next++;
      if (op.seq <= r.log.have) continue;
      const change = r.log.apply(op);
      if (change === "piece" && !full && r.log.isVisible(op)) paintPiece(ctx, op);
      else if (change === "state" || op.type === "clear") full = true;
    }
    if (full) redraw();
    if (r.next >= r.ops.length) {
      // Hold the last picture a moment, then hand back to the live board.
      r.frame = 0;
      r.endTimer = setTimeout(stopReplay, 600);
      return;
    }
    r.frame = requestAnimationFrame(replayFrame);
  }

  function stopReplay() {
    replayLoading = 0;
    if (replay) {
      cancelAnimationFrame(replay.frame);
      clearTimeout(replay.endTimer);
      replay = null;
      redraw();
    }
    showReplayState();
  }

  replayBtn.addEventListener("click", () => {
    if (replay || replayLoading) stopReplay();
    else if (!active) startReplay();
  });

  // ---------- remote users ----------

  const peers = new Map();   // id -> {name, color}, from presence/joined
  let unlisted = 0;          // on the board but beyond the server's presence list cap
  const pointers = new Map(); // id -> {el, label, timer}

  function peerName(id) {
    const p = peers.get(id);
    return (p && p.name) || "Guest";
  }

  function peerColor(id, fallback) {
    const p = peers.get(id);
    return (p && isHexColor(p.color) && p.color) || fallback || DEFAULT_COLOR;
  }

  function isLight(hex) {
    const n = parseInt(fullHex(hex).slice(1), 16);
    const [r, g, b] = [(n >> 16) & 255, (n >> 8) & 255, n & 255];
    return 0.299 * r + 0.587 * g + 0.114 * b > 170;
  }

  function pointerFor(id) {
    let p = pointers.get(id);
    if (p) return p;
    const el = document.createElement("div");
    el.className = "pointer";
    el.dataset.id = id;
    el.innerHTML = '<svg viewBox="0 0 16 16" aria-hidden="true"><path d="M2 2l12 5-5.2 1.8L7 14z"/></svg>';
    const label = document.createElement("span");
    label.className = "pointer-label";
    el.appendChild(label);
    pointersEl.appendChild(el);
    p = { el, label, timer: 0, color: "" };
    pointers.set(id, p);
    return p;
  }

  function stylePointer(id, color) {
    const p = pointers.get(id);
    if (!p) return;
    const name = peerName(id);
    if (p.label.textContent !== name) p.label.textContent = name;
    if (p.color !== color) {
      p.color = color;
      p.el.style.setProperty("--c", color);
      p.el.classList.toggle("light", isLight(color));
    }
  }

  function movePointer(id, x, y, color) {
    const p = pointerFor(id);
    p.el.style.left = (x / BOARD_W * 100) + "%";
    p.el.style.top = (y / BOARD_H * 100) + "%";
    p.el.classList.remove("idle");
    clearTimeout(p.timer);
    p.timer = setTimeout(() => p.el.classList.add("idle"), IDLE_AFTER);
    stylePointer(id, color);
  }

  function forget(id) {
    const p = pointers.get(id);
    if (p) {
      clearTimeout(p.timer);
      p.el.remove();
      pointers.delete(id);
    }
    peers.delete(id);
  }

  function forgetEveryone() {
    for (const id of [...pointers.keys(), ...peers.keys()]) forget(id);
  }

  // `moving` only moves pointers: ink comes from the log (the server records
  // classic pages' moves there), so nothing is drawn from it.
  socket.on("moving", (d) => {
    if (!d || typeof d !== "object" || d.id == null) return;
    const id = String(d.id);
    const x = Number(d.x);
    const y = Number(d.y);
    if (!Number.isFinite(x) || !Number.isFinite(y)) return;
    if (!peers.has(id)) {
      peers.set(id, { name: "", color: "" }); // an old client, or a server without presence
      renderPeople();
    }
    movePointer(id, x, y, isHexColor(d.color) ? d.color : peerColor(id));
  });

  socket.on("clientdisconnect", (id) => {
    forget(String(id));
    renderPeople();
  });

  function addPeer(u) {
    if (!u || typeof u !== "object" || u.id == null) return;
    const id = String(u.id);
    if (id === socket.id) return;
    peers.set(id, {
      name: typeof u.name === "string" ? u.name.slice(0, 32) : "",
      color: isHexColor(u.color) ? u.color : "",
    });
    if (pointers.has(id)) stylePointer(id, peerColor(id, pointers.get(id).color));
  }

  socket.on("presence", (d) => {
    peers.clear();
    const users = d && Array.isArray(d.users) ? d.users : [];
    for (const u of users) addPeer(u);
    unlisted = Math.max(0, ((d && d.count) | 0) - users.length);
    renderPeople();
  });

  socket.on("joined", (u) => {
    addPeer(u);
    renderPeople();
  });

  // ---------- presence list ----------

  function personItem(name, color, isMe) {
    const li = document.createElement("li");
    li.textContent = isMe ? name + " (you)" : name;
    li.title = li.textContent;
    if (color) li.style.setProperty("--c", color);
    if (isMe) li.className = "me";
    return li;
  }

  function renderPeople() {
    const list = $("people");
    const others = [...peers.entries()];
    const count = others.length + unlisted + 1;
    const countEl = $("people-count");
    countEl.textContent = count === 1 ? "Only you here" : count + " people here";
    countEl.dataset.count = String(count);
    const items = [personItem(me.name, me.color, true)];
    for (const [id] of others.slice(0, MAX_PEOPLE_SHOWN - 1)) {
      const li = personItem(peerName(id), peerColor(id, pointers.get(id)?.color), false);
      li.dataset.id = id;
      items.push(li);
    }
    if (others.length > MAX_PEOPLE_SHOWN - 1) {
      const more = document.createElement("li");
      more.className = "more";
      more.textContent = "+" + (others.length - (MAX_PEOPLE_SHOWN - 1));
      items.push(more);
    }
    list.replaceChildren(...items);
  }

  // ---------- connection state ----------

  const connEl = $("connection");
  const connText = $("connection-text");
  let retryTimer = 0;
  let retryDelay = 1000;

  function setConnection(state, text) {
    connEl.dataset.state = state;
    connText.textContent = text;
  }

  function sendSync() {
    socket.emit("sync", { author: me.secret, since: live.have });
  }

  function sendHello() {
    if (socket.connected) socket.emit("hello", { name: me.name, color: me.color });
  }

  socket.on("connect", () => {
    clearTimeout(retryTimer);
    retryDelay = 1000;
    setConnection("connected", "Connected");
    connGen++;
    connectedAt = performance.now();
    syncGen++;
    synced = false;
    caughtUp = false;
    fetching = false;
    early = [];
    if (unsaved.size) { // whatever the server could not store comes back with the history if it ever is
      unsaved.clear();
      requestRedraw(false);
    }
    for (const r of requests.values()) r.sentOn = -1;
    sendHello(); // before sync: a clear takes our name from it
    sendSync();
    renderPeople();
    updateSaveState();
  });

  socket.on("disconnect", (reason) => {
    synced = false;
    caughtUp = false;
    clearTimeout(drawTimer);
    drawTimer = 0;
    forgetEveryone();
    renderPeople();
    updateEditButtons();
    updateSaveState();
    if (reason === "io server disconnect") {
      // The server closed us (restart, overload); socket.io does not retry that by itself.
      setConnection("disconnected", "Disconnected by the server, retrying…");
      retryTimer = setTimeout(() => socket.connect(), retryDelay);
      retryDelay = Math.min(retryDelay * 2, 30000);
    } else if (reason === "io client disconnect") {
      setConnection("disconnected", "Disconnected");
    } else {
      setConnection("reconnecting", "Connection lost, reconnecting…");
    }
  });

  socket.io.on("reconnect_attempt", (n) => {
    setConnection("reconnecting", "Reconnecting" + (n > 1 ? " (attempt " + n + ")" : "") + "…");
  });

  socket.on("connect_error", (err) => {
    if (socket.active) setConnection("reconnecting", "Cannot reach the server, retrying…");
    // Refused by the server (a bad token, a full server): socket.io stops
    // retrying; say why.
    else setConnection("disconnected", "Cannot join: " + (err && err.message || "refused"));
  });

  // ---------- notices and the saving state ----------

  const noticeEl = $("notice");
  let noticeTimer = 0;
  function notice(text, isError) {
    noticeEl.textContent = text;
    noticeEl.classList.toggle("error", Boolean(isError));
    clearTimeout(noticeTimer);
    noticeTimer = setTimeout(() => { noticeEl.textContent = ""; }, NOTICE_FOR);
  }

  const rejections = []; // the last few, for the debug hook
  socket.on("rejected", (r) => {
    console.warn("server rejected input:", r);
    const what = r && r.event ? String(r.event) : "input";
    const why = r && r.reason ? String(r.reason) : "refused";
    rejections.push({ event: what, reason: why, dropped: Number(r && r.dropped) || 0 });
    if (rejections.length > 20) rejections.shift();
    if (what === "draw") drawRefused = { reason: why, at: performance.now() };
    if (what === "sync") { // the board's history cannot be read right now: ask again later
      const gen = connGen;
      setTimeout(() => { if (gen === connGen && socket.connected && !synced) sendSync(); }, 5000);
    }
    if (what === "claim") claimSettled(); // the board stays nobody's
    if (what === "undo" || what === "redo") { // the request is off: show the log's state again
      for (const [id, q] of requests) if (q.sentOn === connGen) requests.delete(id);
      updateEditButtons();
    }
    if (what === "clear") { // that clear will not be in the log
      for (const id of localClears) {
        const k = localActions.indexOf(id);
        if (k >= 0) localActions.splice(k, 1);
      }
      localClears.clear();
      updateEditButtons();
    }
    const dropped = r && Number(r.dropped) > 1 ? " (" + Number(r.dropped) + " dropped)" : "";
    notice("Server refused " + what + ": " + why + dropped, true);
    updateSaveState();
  });

  // "Not saved" shows while the server says it cannot store, or while our
  // pieces stay unacknowledged for UNSAVED_AFTER on a live connection.
  const saveStateEl = $("save-state");
  function updateSaveState() {
    const now = performance.now();
    const overdue = pending.length > 0 && now - Math.max(pending[0].createdAt, connectedAt) > UNSAVED_AFTER;
    let reason = "";
    if (socket.connected && !saving) reason = savingReason;
    else if (socket.connected && overdue) {
      reason = drawRefused && now - drawRefused.at < 30000 ? drawRefused.reason : "waiting for the server";
    }
    saveStateEl.hidden = !reason;
    const text = reason ? "Not saved: " + reason : "";
    if (saveStateEl.textContent !== text) {
      saveStateEl.textContent = text;
      saveStateEl.title = text;
    }
    if (!pending.length) drawRefused = null;
  }

  // ---------- controls ----------

  const swatches = $("swatches");
  const colorInput = $("color");
  const customSwatch = colorInput.closest(".swatch");

  for (const c of PALETTE) {
    const label = document.createElement("label");
    label.className = "swatch";
    label.style.setProperty("--c", c);
    label.title = c;
    const input = document.createElement("input");
    input.type = "radio";
    input.name = "color";
    input.value = c;
    const text = document.createElement("span");
    text.className = "visually-hidden";
    text.textContent = "Colour " + c;
    label.append(input, text);
    swatches.appendChild(label);
  }

  function showColor() {
    let inPalette = false;
    for (const r of swatches.querySelectorAll("input")) {
      r.checked = r.value === me.color;
      inPalette ||= r.checked;
    }
    colorInput.value = fullHex(me.color);
    customSwatch.classList.toggle("selected", !inPalette);
    customSwatch.style.setProperty("--c", me.color);
  }

  function setColor(c) {
    if (!isHexColor(c)) return;
    me.color = c.toLowerCase();
    store.set("draw.color", me.color);
    showColor();
    renderPeople();
    sendHello();
  }

  swatches.addEventListener("change", (e) => setColor(e.target.value));
  colorInput.addEventListener("input", () => setColor(colorInput.value));
  showColor();

  const widthInput = $("width");
  const widthOut = $("width-value");
  widthInput.value = String(me.width);
  widthOut.textContent = String(me.width);
  widthInput.addEventListener("input", () => {
    me.width = clampWidth(Number(widthInput.value) || 4);
    widthOut.textContent = String(me.width);
    store.set("draw.width", String(me.width));
  });

  const nameInput = $("name");
  nameInput.value = me.name;
  let nameTimer = 0;
  function setName() {
    clearTimeout(nameTimer);
    const name = nameInput.value.trim().slice(0, 32);
    if (!name || name === me.name) return;
    me.name = name;
    store.set("draw.name", name);
    renderPeople();
    sendHello();
  }
  nameInput.addEventListener("input", () => {
    clearTimeout(nameTimer);
    nameTimer = setTimeout(setName, 500);
  });
  nameInput.addEventListener("change", setName);
  nameInput.addEventListener("keydown", (e) => { if (e.key === "Enter") nameInput.blur(); });

  // copyText copies text to the clipboard; without the clipboard API (plain
  // http, old browser) it shows it selected in field for the user to copy.
  async function copyText(text, field) {
    try {
      await navigator.clipboard.writeText(text);
      return true;
    } catch {
      field.hidden = false;
      field.value = text;
      field.focus();
      field.select();
      try { return document.execCommand("copy"); } catch { return false; /* not supported */ }
    }
  }

  const linkField = $("link-field");
  $("copy-link").addEventListener("click", async () => {
    const copied = await copyText(boardURL, linkField);
    notice(copied ? "Link copied: " + boardURL : "Press Ctrl+C (⌘C) to copy the link");
  });
  linkField.addEventListener("blur", () => { linkField.hidden = true; });

  // A random name nobody uses; ?new makes the page claim it (see wantClaim),
  // so whoever makes a board owns it.
  $("new-board").addEventListener("click", () => {
    const chars = "abcdefghijklmnopqrstuvwxyz0123456789";
    const name = [...crypto.getRandomValues(new Uint8Array(10))].map((b) => chars[b % chars.length]).join("");
    location.assign("/b/" + name + "?new");
  });

  // ---------- owners and locks ----------

  const ownerTools = $("owner-tools");
  const lockBtn = $("lock");
  const ownerLinkBtn = $("owner-link");
  const ownerLinkField = $("owner-link-field");
  const lockBadge = $("lock-badge");
  let shownAccess = null; // {locked}: what the page last showed, to tell changes

  // The board's owner and lock: what `synced` said while this connection
  // catches up, else the live log's (newer than `synced`; offline, the last known).
  function access() {
    const src = synced && !caughtUp ? syncedAccess : live;
    return { owner: src.owner, locked: src.locked };
  }

  // By the secret (our author id is the owner's) or by a token the server took.
  function ownsBoard() {
    return (me.author !== "" && access().owner === me.author) || syncedAccess.role === "owner";
  }

  // Whether our pointer may draw now: on a locked board only the owner does.
  function mayDraw() {
    return syncedAccess.role !== "view" && (!access().locked || ownsBoard());
  }

  // showAccess brings the page in line with the owner and lock in force: the
  // owner's tools, the locked notice, the pen hidden for watchers.
  function showAccess() {
    const { owner, locked } = access();
    const mine = ownsBoard();
    const may = mayDraw();
    ownerTools.hidden = !mine;
    ownerLinkBtn.hidden = !(me.author !== "" && owner === me.author); // a token owner has no secret to hand over
    lockBtn.querySelector("span").textContent = locked ? "Unlock" : "Lock";
    lockBtn.title = locked ? "Unlock the board: everyone can draw again" : "Lock the board: only you can draw, others watch";
    lockBtn.setAttribute("aria-pressed", String(locked));
    lockBtn.classList.toggle("on", locked);
    document.body.classList.toggle("watching", !may);
    lockBadge.hidden = may && !locked;
    lockBadge.classList.toggle("mine", may);
    lockBadge.textContent = may ? "Locked: only you can draw" : locked ? "Locked by the owner: you can watch" : "You can watch only";
    if (!may) stopDrawing();
    const was = shownAccess;
    shownAccess = { locked };
    // News only: not the state found when the page opened.
    if (was && catchUps > 0 && was.locked !== locked) {
      if (mine) notice(locked ? "Board locked: only you can draw" : "Board unlocked: everyone can draw");
      else notice(locked ? "Locked by the owner: you can watch" : "The owner unlocked the board: you can draw again");
    }
    updateEditButtons();
  }

  // stopDrawing ends our stroke and drops our unsaved pieces: the server
  // refuses them now, and nothing of ours may show while we watch. Pieces it
  // stored before the lock come back from the log like anyone's.
  function stopDrawing() {
    if (active) {
      const a = active;
      active = null; // first: losing the pointer capture must not end it as a stroke
      clearTimeout(a.cutTimer);
      try { canvas.releasePointerCapture?.(a.pid); } catch { /* already lost */ }
      emitNow(wire(a, false)); // pen up, for the others' pointers
    }
    if (!pending.length) return;
    for (const p of pending) {
      const k = localActions.indexOf(p.stroke);
      if (k >= 0) localActions.splice(k, 1);
    }
    pending = [];
    pendingKeys.clear();
    drawRefused = null;
    requestRedraw(true);
    updateSaveState();
  }

  lockBtn.addEventListener("click", () => {
    if (!socket.connected || !synced) {
      notice("Not connected: the board cannot be locked or unlocked right now", true);
      return;
    }
    socket.emit(access().locked ? "unlock" : "lock", {}); // the page changes when the op comes back
  });

  // The owner link carries this board's secret (in the fragment, which
  // browsers never send to the server): whoever opens it owns the board too.
  ownerLinkBtn.addEventListener("click", async () => {
    const url = boardURL + "#owner=" + me.secret;
    ownerLinkField.value = url;
    ownerLinkField.hidden = false;
    const copied = await copyText(url, ownerLinkField);
    ownerLinkField.focus();
    ownerLinkField.select();
    notice((copied ? "Owner link copied" : "Press Ctrl+C (⌘C) to copy the owner link") +
      ": whoever opens it owns this board too");
  });
  ownerLinkField.addEventListener("blur", () => { ownerLinkField.hidden = true; });

  // ---------- export ----------

  const fileBase = (board || "board").replace(/[^\w.-]+/g, "_");
  const svgLink = $("export-svg");
  svgLink.href = withToken(boardPath + "board.svg");
  svgLink.download = fileBase + ".svg";
  const historyLink = $("export-history");
  historyLink.href = withToken(boardPath + "history.ndjson");
  historyLink.download = fileBase + "-history.ndjson";

  // The PNG is drawn from the log at the board's own size on white: what a
  // fresh joiner sees (and what board.svg shows).
  $("save").addEventListener("click", () => {
    const out = document.createElement("canvas");
    out.width = BOARD_W;
    out.height = BOARD_H;
    const c = out.getContext("2d");
    c.fillStyle = "#ffffff";
    c.fillRect(0, 0, BOARD_W, BOARD_H);
    for (const p of live.visiblePieces()) paintPiece(c, p);
    out.toBlob((blob) => {
      if (!blob) { notice("Could not make the image", true); return; }
      const a = document.createElement("a");
      const stamp = new Date().toISOString().slice(0, 19).replace(/[:T]/g, "-");
      a.href = URL.createObjectURL(blob);
      a.download = fileBase + "-" + stamp + ".png";
      document.body.appendChild(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(a.href), 10000);
    }, "image/png");
  });

  // ---------- debug hook (read-only views for tests and the console) ----------

  const copyPiece = (p) => ({
    stroke: p.stroke, i: p.i, seq: p.seq, author: p.author, color: p.color, width: p.width, points: p.points.slice(),
  });
  window.__draw = Object.freeze({
    author: () => me.author,
    have: () => live.have,
    // committed pieces, seq order, with whether each is visible
    pieces: () => {
      const upTo = live.clearedUpTo();
      return live.pieces.map((p) => ({ ...copyPiece(p), visible: live.isVisible(p, upTo) }));
    },
    pending: () => pending.map((p) => ({ ...copyPiece(p), age: Math.round(performance.now() - p.createdAt), faded: p.faded })),
    undone: () => [...live.undone],
    access: () => ({ ...access(), owns: ownsBoard(), mayDraw: mayDraw() }),
    synced: () => synced && caughtUp,
    replaying: () => Boolean(replay || replayLoading),
    // true when the canvas is exactly the log's picture and nothing is on its way
    settled: () => synced && caughtUp && !fetching && !pending.length && !unsaved.size && !active &&
      !dirty && !redrawWanted && !replay && !replayLoading,
    rejections: () => rejections.map((r) => ({ ...r })),
    socket, // to craft events or cut the connection in tests
  });

  layout();
  showReplayState();
  showAccess();
  updateEditButtons();
  renderPeople();
})();
