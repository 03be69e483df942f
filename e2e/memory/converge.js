'use strict';
// Convergence: a seeded random session on one board.
// usage: node e2e/memory/converge.js URL board SEED [MILLISECONDS]
// Four synced clients (websocket, polling, default transports, websocket)
// draw strokes piece by piece, undo and redo their strokes, clear, undo and
// redo their clears. S1..S3 also drop their connection now and then (for
// half a second to three seconds) and come back with a new socket: sync
// {since: have}, history.ndjson?since=have, then their unacknowledged pieces
// again; S2 and S3 also go deaf for a while (ignore the ops frames they
// receive, as a receiver that lags) and heal by sequence numbers. S0 never
// drops nor goes deaf: its log is every op the board committed. Two classic
// clients (4.x websocket, 2.x default) only send mousemoves, drawing or not.
// Each of S1..S3 drops at least once, S2 and S3 go deaf at least once and S0
// clears at least once, whatever the seed. After MILLISECONDS (default 6000)
// everyone stops, the clients settle
// (every piece acknowledged, everyone at the same head) and a fresh joiner
// reads the board from 0. The choices come from SEED; timing does not.
const L = require('./lib');
const { record } = require('../lib');

const [url, board, seedArg, msArg] = process.argv.slice(2);
const seed = Number(seedArg);
const duration = Number(msArg || 6000);
if (!url || !board || !Number.isInteger(seed) || !(duration > 0)) {
  console.error('usage: converge.js URL board SEED [MILLISECONDS]');
  process.exit(2);
}

L.main(async () => {
  const rand = L.rng(seed);
  const colors = ['#ef4444', '#f97316', '#eab308', '#22c55e', '#3b82f6', '#8b5cf6', '#1c1917', '#FFFFFF'];
  const specs = [
    { name: 'S0', transports: ['websocket'], drops: false, deafens: false },
    { name: 'S1', transports: ['polling'], drops: true, deafens: false },
    { name: 'S2', transports: undefined, drops: true, deafens: true },
    { name: 'S3', transports: ['websocket'], drops: true, deafens: true },
  ];
  const counts = { draw: 0, pieces: 0, undo: 0, redo: 0, clear: 0, undoClear: 0, redoClear: 0, drop: 0, reconnect: 0, deaf: 0, lost: 0, resent: 0, moves: 0 };
  const clients = [];
  for (const spec of specs) {
    const c = new L.SyncClient(url, { board, transports: spec.transports, name: spec.name });
    Object.assign(c, { spec, stroke: null, strokes: [], clears: [], offline: false, deafUntil: 0 });
    await c.connect();
    clients.push(c);
  }

  const classic = [
    { name: 'K0', socket: L.open(url, { board, transports: ['websocket'] }), moves: [], x: 100, y: 100, drawing: false },
    { name: 'K1', socket: L.open(url, { board, version: 2 }), moves: [], x: 1900, y: 900, drawing: false },
  ];
  for (const k of classic) k.events = record(k.socket);
  await Promise.all(classic.map((k) => L.connected(k.socket)));

  const point = (x, y) => [Math.round(x * 100) / 100, Math.round(y * 100) / 100];
  const clamp = (v, lo, hi) => Math.max(lo, Math.min(hi, v));

  // The client's own strokes it may undo or redo: finished, every piece
  // acknowledged, and (as far as its log says) shown or hidden.
  const undoneIn = (c) => {
    const undone = new Map();
    for (const o of c.ops()) if (o.type === 'undo' || o.type === 'redo') undone.set(o.stroke, o.type === 'undo');
    return undone;
  };
  const settled = (c, s) => s.done && s.keys.every((k) => c.acked.has(k));

  function reconnectLater(c, ms) {
    c.offline = true;
    setTimeout(async () => {
      try {
        await c.connect(); // sync {since: have}, history since have
        counts.reconnect++;
        counts.resent += c.resend();
      } catch (e) {
        c.error = String(e && e.message || e);
      }
      c.offline = false;
    }, ms);
  }

  function act(c, now) {
    if (c.offline) return;
    if (!c.connected()) { counts.lost++; reconnectLater(c, 100); return; } // closed under us
    if (c.deaf && now >= c.deafUntil) { c.deaf = false; c.heal(); }
    if (rand() < 0.45) return;
    const r = rand();
    if (c.stroke) {
      const s = c.stroke;
      if (r < 0.8) {
        const n = 1 + rand.int(2);
        const pieces = [];
        for (let k = 0; k < n; k++) {
          const pts = [...s.last];
          const m = 1 + rand.int(4);
          for (let j = 0; j < m; j++) {
            s.last = point(clamp(s.last[0] + (rand() - 0.5) * 80, 0, 2000), clamp(s.last[1] + (rand() - 0.5) * 80, 0, 1000));
            pts.push(...s.last);
          }
          const p = { stroke: s.id, i: s.next++, color: s.color, width: s.width, points: pts };
          s.keys.push(L.pieceKey(p));
          pieces.push(p);
        }
        c.draw(pieces);
        counts.draw++;
        counts.pieces += pieces.length;
      } else {
        s.done = true;
        c.stroke = null;
      }
      return;
    }
    if (r < 0.45) { // a new stroke; its first piece may be a dot
      const start = point(rand() * 2000, rand() * 1000);
      const s = { id: 'st' + c.spec.name + rand.id(10), color: rand.pick(colors), width: 1 + rand.int(40), last: start, next: 0, keys: [], done: false };
      c.strokes.push(s);
      c.stroke = s;
      if (rand() < 0.3) {
        const p = { stroke: s.id, i: s.next++, color: s.color, width: s.width, points: [...start] };
        s.keys.push(L.pieceKey(p));
        c.draw([p]);
        counts.draw++;
        counts.pieces++;
      }
      return;
    }
    const undone = undoneIn(c);
    const mine = c.strokes.filter((s) => settled(c, s) && s.keys.length > 0);
    if (r < 0.6) {
      const shown = mine.filter((s) => !undone.get(s.id));
      if (shown.length) { c.socket.emit('undo', { stroke: rand.pick(shown).id }); counts.undo++; }
      return;
    }
    if (r < 0.7) {
      const hidden = mine.filter((s) => undone.get(s.id));
      if (hidden.length) { c.socket.emit('redo', { stroke: rand.pick(hidden).id }); counts.redo++; }
      return;
    }
    if (r < 0.76) {
      const id = 'cl' + c.spec.name + rand.id(10);
      c.clears.push(id);
      c.socket.emit('clear', { stroke: id });
      counts.clear++;
      return;
    }
    if (r < 0.84) { // undo or redo of the newest clear, when it is ours
      const newest = c.ops().filter((o) => o.type === 'clear').pop();
      if (newest && c.clears.includes(newest.stroke)) {
        const type = undone.get(newest.stroke) ? 'redo' : 'undo';
        c.socket.emit(type, { stroke: newest.stroke });
        counts[type === 'undo' ? 'undoClear' : 'redoClear']++;
      }
      return;
    }
    if (r < 0.9 && c.spec.drops) {
      counts.drop++;
      c.drop(rand() < 0.5);
      reconnectLater(c, 500 + rand.int(2500));
      return;
    }
    if (r < 0.95 && c.spec.deafens && !c.deaf) {
      counts.deaf++;
      c.deaf = true;
      c.deafUntil = now + 500 + rand.int(1500);
    }
  }

  function move(k) {
    if (rand() < 0.5) return;
    if (rand() < 0.15) k.drawing = !k.drawing;
    [k.x, k.y] = point(clamp(k.x + (rand() - 0.5) * 60, 0, 2000), clamp(k.y + (rand() - 0.5) * 60, 0, 1000));
    const m = { x: k.x, y: k.y, drawing: k.drawing };
    if (rand() < 0.3) m.color = rand.pick([...colors, 'blue', '#12345']);
    if (rand() < 0.3) m.width = rand.pick([1, 2.5, 40, 0, 41, '7']);
    k.moves.push(m);
    k.socket.emit('mousemove', m);
    counts.moves++;
  }

  // Besides the random choices, every seed gets these: each of S1..S3
  // drops once, S2 and S3 go deaf once, S0 clears once.
  const forced = [
    [0.15, 'S1', 'drop'], [0.25, 'S2', 'deaf'], [0.35, 'S0', 'clear'], [0.45, 'S3', 'deaf'],
    [0.5, 'S3', 'drop'], [0.65, 'S2', 'drop'],
  ].map(([at, name, what]) => ({ at: at * duration, c: clients.find((c) => c.spec.name === name), what, done: false }));
  function force(f, now) {
    const c = f.c;
    if (c.offline || !c.connected()) return; // try again next step
    f.done = true;
    if (f.what === 'drop') {
      counts.drop++;
      c.drop(c.spec.name !== 'S3');
      reconnectLater(c, 1000 + rand.int(1500));
    } else if (f.what === 'deaf') {
      counts.deaf++;
      c.deaf = true;
      c.deafUntil = now + 1500;
    } else if (f.what === 'clear') {
      const id = 'cl' + c.spec.name + rand.id(10);
      c.clears.push(id);
      c.socket.emit('clear', { stroke: id });
      counts.clear++;
    }
  }

  // The session: one step every 25 ms (under 40 events a second a socket).
  const start = Date.now();
  while (Date.now() - start < duration) {
    const now = Date.now();
    for (const f of forced) if (!f.done && now - start >= f.at) force(f, now);
    for (const c of clients) act(c, now);
    for (const k of classic) move(k);
    await L.sleep(25);
  }

  // Everyone stops and settles.
  const stoppedAt = Date.now() - start;
  await L.until(() => clients.every((c) => !c.offline), 10000);
  for (const c of clients) {
    if (c.stroke) { c.stroke.done = true; c.stroke = null; }
    if (c.deaf) { c.deaf = false; }
    if (!c.connected()) { await c.connect(); c.resend(); }
  }
  let lastResend = Date.now(), stable = 0, prev = '';
  const settleStart = Date.now();
  while (Date.now() - settleStart < 15000) {
    await Promise.all(clients.map((c) => c.heal()));
    if (Date.now() - lastResend > 1000) {
      for (const c of clients) if (c.pending.size && c.connected()) counts.resent += c.resend();
      lastResend = Date.now();
    }
    const state = JSON.stringify(clients.map((c) => [c.have, c.pending.size, c.connected()]));
    const done = clients.every((c) => c.pending.size === 0 && c.connected() && c.have === clients[0].have);
    stable = done && state === prev ? stable + 1 : 0;
    prev = state;
    if (stable >= 3) break;
    await L.sleep(150);
  }
  const settleMs = Date.now() - settleStart;

  // A fresh joiner reads the whole board.
  const F = new L.SyncClient(url, { board, transports: ['websocket'], name: 'F' });
  await F.connect({ sync: false });
  F.socket.emit('sync', { author: F.secret, since: 0 });
  await L.until(() => F.synceds.length > 0, 10000);
  const fresh = await L.fetchHistory(url, board, 0);
  const svg = await L.fetchSVG(url, board);

  return {
    seed,
    duration,
    stoppedAt,
    settleMs,
    counts,
    freshSynced: F.synceds[0],
    fresh: { ops: fresh.ops, picture: L.picture(fresh.ops), status: fresh.status },
    svg: svg.shapes,
    clients: clients.map((c) => ({ ...c.summary(), error: c.error || null, reference: !c.spec.drops && !c.spec.deafens })),
    s0Ops: clients[0].ops(),
    classic: classic.map((k) => ({
      name: k.name, id: k.socket.id, moves: k.moves,
      events: [...new Set(k.events.map((e) => e.event))],
      connected: k.socket.connected,
    })),
  };
});
