'use strict';
// A small model of a page that syncs with its board's log (docs/PROTOCOL.md),
// for the memory scripts: it keeps the ops it received by seq, heals gaps
// from history.ndjson, keeps its pieces until they are acknowledged (the ops
// echo with a seq) and builds the picture with the protocol's visibility
// rule. The scripts measure and print JSON; memory_test.go asserts.

const crypto = require('crypto');
const { io } = require('socket.io-client');
const ioV2 = require('socket.io-client-v2');
const { connected, until, sleep, main } = require('../lib');

// boardBase is the HTTP path prefix of a board: '/' or '/b/<name>/'.
const boardBase = (url, board) => (board ? `${url}/b/${encodeURIComponent(board)}/` : `${url}/`);

// open connects a fresh socket (no multiplexing, no reconnection).
function open(url, { board, transports, version } = {}) {
  const o = { forceNew: true, reconnection: false, timeout: 10000 };
  if (transports) o.transports = transports;
  if (board) o.query = { board };
  return version === 2 ? ioV2(url, o) : io(url, o);
}

// fetchHistory reads history.ndjson?since=N; gzip picks Accept-Encoding
// (Node's fetch decompresses). It returns the ops, the raw line count and
// the response headers of interest.
async function fetchHistory(url, board, since = 0, { gzip = true, query } = {}) {
  const q = query !== undefined ? query : `since=${since}`;
  const res = await fetch(`${boardBase(url, board)}history.ndjson?${q}`, {
    headers: { 'Accept-Encoding': gzip ? 'gzip' : 'identity' },
  });
  const text = await res.text();
  const ops = [];
  let bad = 0;
  if (res.status === 200) {
    for (const line of text.split('\n')) {
      if (line === '') continue;
      try { ops.push(JSON.parse(line)); } catch (e) { bad++; }
    }
  }
  return {
    status: res.status,
    ops,
    bad,
    body: res.status === 200 ? undefined : text,
    endsWithNewline: text === '' || text.endsWith('\n'),
    contentEncoding: res.headers.get('content-encoding'),
    contentType: res.headers.get('content-type'),
    head: res.headers.get('x-board-head'),
  };
}

// fetchSVG reads board.svg and returns its shapes in document order.
async function fetchSVG(url, board) {
  const res = await fetch(`${boardBase(url, board)}board.svg`);
  const text = await res.text();
  return { status: res.status, contentType: res.headers.get('content-type'), shapes: parseSVG(text), text: text.length < 4000 ? text : undefined };
}

function parseSVG(text) {
  const shapes = [];
  const attr = (el, name) => {
    const m = el.match(new RegExp(`\\s${name}="([^"]*)"`));
    return m ? m[1] : undefined;
  };
  for (const m of text.matchAll(/<(polyline|circle)\b[^>]*>/g)) {
    const el = m[0];
    if (m[1] === 'polyline') {
      const points = attr(el, 'points').trim().split(/[\s,]+/).map(Number);
      shapes.push({ kind: 'polyline', points, color: attr(el, 'stroke'), width: Number(attr(el, 'stroke-width')) });
    } else {
      shapes.push({ kind: 'circle', points: [Number(attr(el, 'cx')), Number(attr(el, 'cy'))], color: attr(el, 'fill'), width: 2 * Number(attr(el, 'r')) });
    }
  }
  return shapes;
}

// picture applies the visibility rule to a set of ops (any order): a piece
// is visible when its stroke is not undone and no clear that is not undone
// has a larger seq. It returns the visible pieces in seq order.
function picture(ops) {
  const sorted = ops.filter((o) => typeof o.seq === 'number').sort((a, b) => a.seq - b.seq);
  const undone = new Map();
  const clears = [];
  for (const o of sorted) {
    if (o.type === 'undo') undone.set(o.stroke, true);
    else if (o.type === 'redo') undone.set(o.stroke, false);
    else if (o.type === 'clear') clears.push(o);
  }
  const liveClears = clears.filter((c) => !undone.get(c.stroke)).map((c) => c.seq);
  const newestLiveClear = liveClears.length ? Math.max(...liveClears) : 0;
  return sorted
    .filter((o) => o.type === 'stroke' && !undone.get(o.stroke) && o.seq > newestLiveClear)
    .map((o) => ({ seq: o.seq, stroke: o.stroke, i: o.i, author: o.author, color: o.color, width: o.width, points: o.points }));
}

// shapes is how board.svg draws a picture: a dot (one point, or all points
// the same) as a circle, anything else as a polyline.
function shapes(pic) {
  return pic.map((p) => {
    const pts = p.points;
    let dot = true;
    for (let k = 2; k < pts.length; k += 2) if (pts[k] !== pts[0] || pts[k + 1] !== pts[1]) dot = false;
    return dot
      ? { kind: 'circle', points: [pts[0], pts[1]], color: p.color, width: p.width }
      : { kind: 'polyline', points: pts, color: p.color, width: p.width };
  });
}

// A seeded PRNG (mulberry32), so a random session can be replayed.
function rng(seed) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  next.int = (n) => Math.floor(next() * n);
  next.pick = (arr) => arr[Math.floor(next() * arr.length)];
  next.id = (n = 12) => {
    const abc = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-';
    let s = '';
    for (let k = 0; k < n; k++) s += abc[Math.floor(next() * abc.length)];
    return s;
  };
  return next;
}

const randomId = (n = 16) => crypto.randomBytes(n).toString('base64url').slice(0, n);

// authorOf is the public author id of a secret, as the server derives it.
const authorOf = (secret) => crypto.createHash('sha256').update(secret).digest('base64url').slice(0, 16);

const pieceKey = (o) => `${o.stroke}/${o.i}`;

// SyncClient is one page that syncs: it may reconnect (a new socket with
// the same secret), and keeps what it learned across sockets.
class SyncClient {
  constructor(url, { board, secret, transports, name, version } = {}) {
    this.url = url;
    this.board = board;
    this.secret = secret || randomId(24);
    this.transports = transports;
    this.version = version;
    this.name = name || 'client';
    this.log = new Map(); // seq -> op
    this.have = 0;
    this.pending = new Map(); // pieceKey -> piece, until acknowledged
    this.acked = new Map(); // pieceKey -> seq, of our own pieces
    this.duplicates = []; // our piece acknowledged twice with different seqs
    this.conflicts = []; // one seq seen as two different ops
    this.frames = []; // every ops frame: [seq or null, ...]
    this.rejected = [];
    this.synceds = [];
    this.storage = [];
    this.events = []; // names of every event received, in order
    this.unsaved = 0;
    this.deaf = false; // drop incoming ops frames (a receiver that lags)
    this.missedFrames = 0;
    this.heals = 0;
    this.trimmedGaps = []; // heals whose history began past have + 1
    this.healing = null;
    this.socket = null;
    this.sockets = 0;
    this.author = null;
  }

  // connect opens a new socket and syncs it (since: have).
  async connect({ sync = true } = {}) {
    const s = open(this.url, { board: this.board, transports: this.transports, version: this.version });
    this.socket = s;
    this.sockets++;
    s.on('ops', (ops) => { if (this.socket === s) this.onOps(ops); });
    s.on('synced', (m) => { if (this.socket === s) this.synceds.push(m); });
    s.on('rejected', (r) => { if (this.socket === s) this.rejected.push(r); });
    s.on('storage', (m) => { if (this.socket === s) this.storage.push(m); });
    if (typeof s.onAny === 'function') s.onAny((ev) => { if (this.socket === s) this.events.push(ev); });
    await connected(s);
    if (sync) await this.sync();
    return this;
  }

  // sync sends sync {since: have}, waits for synced and fetches what it
  // says we lack.
  async sync(since = this.have) {
    const n = this.synceds.length;
    this.socket.emit('sync', { author: this.secret, since });
    if (!(await until(() => this.synceds.length > n, 10000))) throw new Error(`${this.name}: no synced within 10 s`);
    const m = this.synceds[this.synceds.length - 1];
    this.author = m.author;
    if (m.head > this.have) await this.heal();
    return m;
  }

  onOps(ops) {
    if (this.deaf) { this.missedFrames++; return; }
    this.frames.push(ops.map((o) => (typeof o.seq === 'number' ? o.seq : null)));
    for (const o of ops) this.take(o);
    this.advance();
    if (this.gap()) this.heal();
  }

  // take files one op under its seq and notices our acknowledgements.
  take(o) {
    if (typeof o.seq !== 'number') { this.unsaved++; return; }
    const { time, ...rest } = o;
    const prev = this.log.get(o.seq);
    if (prev) {
      const { time: t2, ...prevRest } = prev;
      if (JSON.stringify(sortKeys(prevRest)) !== JSON.stringify(sortKeys(rest))) this.conflicts.push({ seq: o.seq, a: prev, b: o });
      return;
    }
    this.log.set(o.seq, o);
    if (o.type === 'stroke' && this.author !== null && o.author === this.author) {
      const k = pieceKey(o);
      const was = this.acked.get(k);
      if (was !== undefined && was !== o.seq) this.duplicates.push({ key: k, seqs: [was, o.seq] });
      if (was === undefined) this.acked.set(k, o.seq);
      this.pending.delete(k);
    }
  }

  advance() { while (this.log.has(this.have + 1)) this.have++; }

  gap() { for (const s of this.log.keys()) if (s > this.have) return true; return false; }

  // heal fetches history.ndjson?since=have. What it returns is all there is
  // up to its last op: seqs it skips were trimmed.
  heal() {
    if (this.healing) return this.healing;
    this.healing = (async () => {
      try {
        for (let round = 0; round < 5; round++) {
          this.heals++;
          const h = await fetchHistory(this.url, this.board, this.have);
          if (h.status !== 200) throw new Error(`${this.name}: history.ndjson answered ${h.status}: ${h.body}`);
          // seqs it skips were cut by a clear: what did we still wait for?
          if (h.ops.length && h.ops[0].seq > this.have + 1) this.trimmedGaps.push({ have: this.have, first: h.ops[0].seq, pending: this.pending.size });
          for (const o of h.ops) this.take(o);
          if (h.ops.length) this.have = Math.max(this.have, h.ops[h.ops.length - 1].seq);
          this.advance();
          if (!this.gap()) break;
        }
      } finally {
        this.healing = null;
      }
    })();
    return this.healing;
  }

  // draw sends pieces and keeps them until acknowledged.
  draw(pieces) {
    for (const p of pieces) this.pending.set(pieceKey(p), p);
    this.socket.emit('draw', pieces);
  }

  // resend sends every unacknowledged piece again, 64 at a time.
  resend() {
    const all = [...this.pending.values()];
    for (let k = 0; k < all.length; k += 64) this.socket.emit('draw', all.slice(k, k + 64));
    return all.length;
  }

  // waitAcked waits until nothing is pending (and no heal runs).
  async waitAcked(ms = 10000) {
    return until(() => this.pending.size === 0 && !this.healing, ms);
  }

  // waitOp waits for an op matching pred in the log; returns it or null.
  async waitOp(pred, ms = 10000) {
    let found = null;
    await until(() => {
      for (const o of this.log.values()) if (pred(o)) { found = o; return true; }
      return false;
    }, ms);
    return found;
  }

  ops() { return [...this.log.values()].sort((a, b) => a.seq - b.seq); }
  seqs() { return [...this.log.keys()].sort((a, b) => a - b); }
  picture() { return picture(this.ops()); }
  connected() { return !!(this.socket && this.socket.connected); }

  // drop closes the socket: cleanly (a socket.io disconnect) or by closing
  // the Engine.IO connection under it.
  drop(abrupt = false) {
    const s = this.socket;
    if (!s) return;
    if (abrupt && s.io && s.io.engine) s.io.engine.close();
    else s.disconnect();
  }

  summary() {
    return {
      name: this.name,
      author: this.author,
      have: this.have,
      sockets: this.sockets,
      pending: [...this.pending.keys()],
      acked: Object.fromEntries(this.acked),
      duplicates: this.duplicates,
      conflicts: this.conflicts,
      rejected: this.rejected,
      synceds: this.synceds,
      unsaved: this.unsaved,
      heals: this.heals,
      trimmedGaps: this.trimmedGaps,
      missedFrames: this.missedFrames,
      seqs: this.seqs(),
      picture: this.picture(),
    };
  }
}

function sortKeys(o) {
  if (Array.isArray(o) || o === null || typeof o !== 'object') return o;
  const out = {};
  for (const k of Object.keys(o).sort()) out[k] = sortKeys(o[k]);
  return out;
}

// piecesOf cuts a polyline into pieces of a stroke (piece i > 0 starts at
// the last point of piece i-1).
function piecesOf(stroke, color, width, points, perPiece) {
  const out = [];
  const n = points.length / 2;
  let start = 0, i = 0;
  while (start < n - 1 || (n === 1 && i === 0)) {
    const end = Math.min(n - 1, start + perPiece - 1);
    out.push({ stroke, i, color, width, points: points.slice(2 * start, 2 * end + 2) });
    i++;
    if (end === start) break;
    start = end;
  }
  return out;
}

// waitRejected waits for the next rejected notice after index n.
async function waitRejected(c, n, ms = 5000) {
  await until(() => c.rejected.length > n, ms);
  return c.rejected.length > n ? c.rejected[n] : null;
}

module.exports = {
  SyncClient, open, fetchHistory, fetchSVG, parseSVG, picture, shapes, rng, randomId, authorOf, pieceKey,
  piecesOf, waitRejected, boardBase, connected, until, sleep, main,
};
