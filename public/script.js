// The drawing page. Served at / (the default board) and /b/<name>.
//
// Wire format (compatible with the original page):
//   we emit    mousemove {x, y, drawing, color, width}   x, y in board units (0..2000, 0..1000)
//   we receive moving    {x, y, drawing, id, color?, width?}
//   a line is drawn from a user's previous point to the new one when both are "drawing".
// Moves go out at most every 50 ms, except at a stroke's ends: pen down sends
// its point at once (so the stroke starts there), pen up sends the last point
// as drawing and then again as not drawing (so the next stroke does not join it).
// Presence (optional, old servers do not send it): hello, presence, joined, clientdisconnect.
"use strict";

(() => {
  const BOARD_W = 2000;
  const BOARD_H = 1000;
  const EMIT_INTERVAL = 50;     // ms between mousemoves, as the original page
  const IDLE_AFTER = 3000;      // ms before a still remote pointer fades
  const NOTICE_FOR = 4000;      // ms a status notice stays
  const DEFAULT_COLOR = "#1c1917"; // for users whose moves carry no colour (old clients)
  const DEFAULT_WIDTH = 2;
  const MIN_WIDTH = 1;
  const MAX_WIDTH = 40;
  const MAX_SEGMENTS = 200000;  // kept for redraws; the oldest go first
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

  const me = {
    name: (store.get("draw.name") || "").slice(0, 32),
    color: isHexColor(store.get("draw.color")) ? store.get("draw.color").toLowerCase()
      : PALETTE[1 + Math.floor(Math.random() * (PALETTE.length - 1))],
    width: Number(store.get("draw.width")) ? clampWidth(Number(store.get("draw.width"))) : 4,
  };
  if (!me.name) {
    me.name = "Guest " + (100 + Math.floor(Math.random() * 900));
    store.set("draw.name", me.name);
  }

  // ---------- which board ----------

  function boardFromPath(pathname) {
    const m = /^\/b\/([^/]+)\/?$/.exec(pathname);
    if (!m) return "";
    try { return decodeURIComponent(m[1]); } catch { return m[1]; }
  }
  const board = boardFromPath(location.pathname);
  const boardURL = location.origin + (board ? "/b/" + encodeURIComponent(board) : "/");
  $("board-name").textContent = board || "Default board";
  document.title = (board ? board : "Default board") + " · Draw together";

  // ---------- drawing surface ----------

  // Every segment drawn since the page opened (or was cleared), in board units,
  // so the canvas can be redrawn sharply at any size.
  let segments = [];

  // A segment is a line from (x0,y0) to (x1,y1), or a quadratic curve when it
  // has a control point (cx,cy). Segments that continue each other in the same
  // style are stroked as one path, so joins are smooth.
  function paintSegments(c, list) {
    c.lineCap = "round";
    c.lineJoin = "round";
    let open = false;
    let prev = null;
    for (const s of list) {
      const still = s.x0 === s.x1 && s.y0 === s.y1 && (s.cx === undefined || (s.cx === s.x0 && s.cy === s.y0));
      if (still) { // a dot: zero-length lines draw nothing
        if (open) { c.stroke(); open = false; }
        c.fillStyle = s.color;
        c.beginPath();
        c.arc(s.x0, s.y0, s.width / 2, 0, Math.PI * 2);
        c.fill();
        prev = null;
        continue;
      }
      const joins = open && prev.color === s.color && prev.width === s.width &&
        prev.x1 === s.x0 && prev.y1 === s.y0;
      if (!joins) {
        if (open) c.stroke();
        c.strokeStyle = s.color;
        c.lineWidth = s.width;
        c.beginPath();
        c.moveTo(s.x0, s.y0);
        open = true;
      }
      if (s.cx === undefined) c.lineTo(s.x1, s.y1);
      else c.quadraticCurveTo(s.cx, s.cy, s.x1, s.y1);
      prev = s;
    }
    if (open) c.stroke();
  }

  function boardTransform() {
    ctx.setTransform(canvas.width / BOARD_W, 0, 0, canvas.height / BOARD_H, 0, 0);
  }

  function redraw() {
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    boardTransform();
    paintSegments(ctx, segments);
  }

  function addSegment(x0, y0, x1, y1, color, width, cx, cy) {
    const s = cx === undefined ? { x0, y0, x1, y1, color, width } : { x0, y0, cx, cy, x1, y1, color, width };
    segments.push(s);
    if (segments.length > MAX_SEGMENTS) segments = segments.slice(segments.length - MAX_SEGMENTS * 0.9);
    boardTransform();
    paintSegments(ctx, [s]);
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
  layout();

  function toBoard(e) {
    const r = canvas.getBoundingClientRect();
    const x = (e.clientX - r.left) * BOARD_W / r.width;
    const y = (e.clientY - r.top) * BOARD_H / r.height;
    return {
      x: Math.round(Math.min(BOARD_W, Math.max(0, x)) * 10) / 10,
      y: Math.round(Math.min(BOARD_H, Math.max(0, y)) * 10) / 10,
    };
  }

  // ---------- connection ----------

  const socket = board ? io({ query: { board } }) : io();

  let lastEmitAt = -Infinity;
  let pending = null;
  let pendingTimer = 0;

  function emitNow(point) {
    clearTimeout(pendingTimer);
    pendingTimer = 0;
    pending = null;
    if (!socket.connected) return; // nothing queues up while offline
    socket.emit("mousemove", point);
    lastEmitAt = performance.now();
  }

  // At most one mousemove per EMIT_INTERVAL; the newest point waits for the
  // next slot rather than being lost.
  function emitThrottled(point) {
    const wait = lastEmitAt + EMIT_INTERVAL - performance.now();
    if (wait <= 0 && !pendingTimer) {
      emitNow(point);
      return;
    }
    pending = point;
    if (!pendingTimer) {
      pendingTimer = setTimeout(() => {
        pendingTimer = 0;
        if (pending) emitNow(pending);
      }, Math.max(0, wait));
    }
  }

  function flushPending() {
    if (pending) emitNow(pending);
  }

  const wire = (p, drawing) => ({ x: p.x, y: p.y, drawing, color: me.color, width: me.width });

  // ---------- local input ----------

  let active = null; // the pointer that is drawing: {id, x, y}

  canvas.addEventListener("pointerdown", (e) => {
    if (active || !e.isPrimary) return;
    if (e.pointerType === "mouse" && e.button !== 0) return;
    e.preventDefault();
    canvas.setPointerCapture?.(e.pointerId);
    const p = toBoard(e);
    active = { id: e.pointerId, x: p.x, y: p.y };
    addSegment(p.x, p.y, p.x, p.y, me.color, me.width);
    flushPending();
    emitNow(wire(p, true));
  });

  canvas.addEventListener("pointermove", (e) => {
    if (active && e.pointerId === active.id) {
      const events = e.getCoalescedEvents ? e.getCoalescedEvents() : [];
      for (const ce of events.length ? events : [e]) {
        const p = toBoard(ce);
        if (p.x === active.x && p.y === active.y) continue;
        addSegment(active.x, active.y, p.x, p.y, me.color, me.width);
        active.x = p.x;
        active.y = p.y;
      }
      emitThrottled(wire(active, true));
    } else if (!active && e.isPrimary && e.pointerType !== "touch") {
      emitThrottled(wire(toBoard(e), false)); // hovering: others see where we are
    }
  });

  function endStroke(e) {
    if (!active || e.pointerId !== active.id) return;
    // Cancelled or lost strokes end where they last were: such events carry no useful position.
    const p = e.type === "pointerup" ? toBoard(e) : { x: active.x, y: active.y };
    if (p.x !== active.x || p.y !== active.y) {
      addSegment(active.x, active.y, p.x, p.y, me.color, me.width);
    }
    active = null;
    // The stroke must end where the pen lifted, whatever the throttle says.
    flushPending();
    emitNow(wire(p, true));
    emitNow(wire(p, false));
  }
  canvas.addEventListener("pointerup", endStroke);
  canvas.addEventListener("pointercancel", endStroke);
  canvas.addEventListener("lostpointercapture", endStroke);
  canvas.addEventListener("contextmenu", (e) => e.preventDefault());

  // ---------- remote users ----------

  const peers = new Map();   // id -> {name, color}, from presence/joined
  let unlisted = 0;          // on the board but beyond the server's presence list cap
  const last = new Map();    // id -> {x, y, drawing}, the previous point of each user
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
    let h = hex.slice(1);
    if (h.length === 3) h = h.replace(/./g, "$&$&");
    const n = parseInt(h, 16);
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
    finishTail(id);
    last.delete(id);
    peers.delete(id);
  }

  function forgetEveryone() {
    for (const id of [...pointers.keys(), ...peers.keys(), ...last.keys()]) forget(id);
  }

  // Remote strokes arrive as points about 50 ms apart. Drawn as straight lines
  // they look like polygons, so they are drawn as quadratic curves through the
  // midpoints between points, with each point as the control point. The curve
  // lags half a segment behind; the tail is finished when the stroke ends or
  // when no point has come for TAIL_AFTER ms.
  const TAIL_AFTER = 150;

  function finishTail(id) {
    const u = last.get(id);
    if (!u || !u.tail) return;
    clearTimeout(u.tailTimer);
    addSegment(u.tail.x, u.tail.y, u.x, u.y, u.color, u.width);
    u.tail = null;
  }

  socket.on("moving", (d) => {
    if (!d || typeof d !== "object" || d.id == null) return;
    const id = String(d.id);
    const x = Number(d.x);
    const y = Number(d.y);
    if (!Number.isFinite(x) || !Number.isFinite(y)) return;
    const drawing = Boolean(d.drawing);
    const color = isHexColor(d.color) ? d.color : DEFAULT_COLOR;
    const width = Number.isFinite(d.width) ? clampWidth(d.width) : DEFAULT_WIDTH;
    let u = last.get(id);
    if (u && u.drawing && drawing) {
      const from = u.tail || u;
      const mid = { x: (u.x + x) / 2, y: (u.y + y) / 2 };
      addSegment(from.x, from.y, mid.x, mid.y, color, width, u.x, u.y);
      u.tail = mid;
    } else if (u && u.tail) {
      finishTail(id);
    }
    if (!u) {
      u = { tail: null, tailTimer: 0 };
      last.set(id, u);
    }
    Object.assign(u, { x, y, drawing, color, width });
    clearTimeout(u.tailTimer);
    if (u.tail) {
      u.tailTimer = setTimeout(() => {
        finishTail(id);
        if (u.drawing) u.tail = { x: u.x, y: u.y };
      }, TAIL_AFTER);
    }
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

  function sendHello() {
    if (socket.connected) socket.emit("hello", { name: me.name, color: me.color });
  }

  socket.on("connect", () => {
    clearTimeout(retryTimer);
    retryDelay = 1000;
    setConnection("connected", "Connected");
    sendHello();
    renderPeople();
  });

  socket.on("disconnect", (reason) => {
    forgetEveryone();
    renderPeople();
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

  socket.on("connect_error", () => {
    if (socket.active) setConnection("reconnecting", "Cannot reach the server, retrying…");
    else setConnection("disconnected", "Disconnected");
  });

  // ---------- notices ----------

  const noticeEl = $("notice");
  let noticeTimer = 0;
  function notice(text, isError) {
    noticeEl.textContent = text;
    noticeEl.classList.toggle("error", Boolean(isError));
    clearTimeout(noticeTimer);
    noticeTimer = setTimeout(() => { noticeEl.textContent = ""; }, NOTICE_FOR);
  }

  socket.on("rejected", (r) => {
    console.warn("server rejected input:", r);
    const what = r && r.event ? String(r.event) : "input";
    const why = r && r.reason ? String(r.reason) : "refused";
    const dropped = r && Number(r.dropped) > 1 ? " (" + Number(r.dropped) + " dropped)" : "";
    notice("Server refused " + what + ": " + why + dropped, true);
  });

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
    colorInput.value = me.color.length === 4 ? "#" + me.color.slice(1).replace(/./g, "$&$&") : me.color;
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

  const linkField = $("link-field");
  $("copy-link").addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(boardURL);
      notice("Link copied: " + boardURL);
    } catch {
      // No clipboard API (plain http, old browser): let the user copy by hand.
      linkField.hidden = false;
      linkField.value = boardURL;
      linkField.focus();
      linkField.select();
      let copied = false;
      try { copied = document.execCommand("copy"); } catch { /* not supported */ }
      notice(copied ? "Link copied: " + boardURL : "Press Ctrl+C (⌘C) to copy the link");
    }
  });
  linkField.addEventListener("blur", () => { linkField.hidden = true; });

  $("new-board").addEventListener("click", () => {
    const words = ["maple", "cobalt", "pebble", "comet", "fern", "harbor", "ember", "lilac", "quartz", "tundra"];
    const pick = () => words[Math.floor(Math.random() * words.length)];
    const slug = pick() + "-" + pick() + "-" + Math.random().toString(36).slice(2, 6);
    location.assign("/b/" + slug);
  });

  $("save").addEventListener("click", () => {
    const out = document.createElement("canvas");
    out.width = BOARD_W;
    out.height = BOARD_H;
    const c = out.getContext("2d");
    c.fillStyle = "#ffffff";
    c.fillRect(0, 0, BOARD_W, BOARD_H);
    paintSegments(c, segments);
    out.toBlob((blob) => {
      if (!blob) { notice("Could not make the image", true); return; }
      const a = document.createElement("a");
      const stamp = new Date().toISOString().slice(0, 19).replace(/[:T]/g, "-");
      a.href = URL.createObjectURL(blob);
      a.download = (board || "board").replace(/[^\w.-]+/g, "_") + "-" + stamp + ".png";
      document.body.appendChild(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(a.href), 10000);
    }, "image/png");
  });

  $("clear").addEventListener("click", () => {
    segments = [];
    redraw();
    notice("Cleared your view. Others still see their drawings.");
  });

  renderPeople();
})();
