'use strict';
// The seed contract on a board that remembers: classic clients (never
// sync) see only `moving` and `clientdisconnect`, and their drawing is
// recorded as stroke pieces.
// usage: node e2e/memory/classic.js URL board
// Classic: K4 (socket.io-client 4.x, websocket), KP (4.x, polling), K2
// (2.x, default transports). Synced: S1 (also moves its cursor with
// drawing true, which must not be recorded) and S2, which draw, undo,
// redo, clear and undo the clear while the classic clients draw; S2 leaves
// at the end. Every event and every raw Engine.IO message the classic
// clients receive is recorded.
const L = require('./lib');
const { record } = require('../lib');

const [url, board] = process.argv.slice(2);
if (!url || !board) {
  console.error('usage: classic.js URL board');
  process.exit(2);
}

// rawPackets records the data of every Engine.IO message packet.
function rawPackets(socket) {
  const got = [];
  const hook = (engine) => engine.on('packet', (p) => { if (p.type === 'message') got.push(typeof p.data === 'string' ? p.data : '<binary>'); });
  if (socket.io.engine) hook(socket.io.engine);
  else socket.io.on('open', () => hook(socket.io.engine));
  return got;
}

const movesK4 = [
  { x: 10, y: 10, drawing: false },
  { x: 20, y: 20, drawing: true },
  { x: 30, y: 25, drawing: true, color: '#ff0000', width: 7 },
  { x: 40, y: 40, drawing: true, color: 'red', width: 99 },
  { x: 50, y: 50, drawing: false },
  { x: 60, y: 55.5, drawing: true, color: '#00FF00', width: 1.5, name: 'Ada', meta: { tags: [1, 'a', null] } },
  { x: 70, y: 70, drawing: true, width: 40 },
  { x: 80, y: 80, drawing: true, color: 5, width: 0 },
];
const movesKP = [
  { x: 1000, y: 500, drawing: true, color: '#abcdef' },
  { x: 1001, y: 501, drawing: true, color: '#abcdef', width: 12 },
  { x: 1100, y: 600, drawing: true, width: 41 },
  { x: 1200, y: 700, drawing: false },
];
const movesK2 = [
  { x: 5, y: 5, drawing: true },
  { x: 15, y: 5, drawing: true },
  { x: 15, y: 25, drawing: true, width: '3' },
  { x: 0, y: 0, drawing: false },
  { x: 1, y: 1, drawing: true, color: '#0000ff', width: 1 },
];

L.main(async () => {
  const classic = {
    K4: { socket: L.open(url, { board, transports: ['websocket'] }), moves: movesK4 },
    KP: { socket: L.open(url, { board, transports: ['polling'] }), moves: movesKP },
    K2: { socket: L.open(url, { board, version: 2 }), moves: movesK2 },
  };
  for (const k of Object.values(classic)) {
    k.events = record(k.socket);
    k.raw = rawPackets(k.socket);
  }
  await Promise.all(Object.values(classic).map((k) => L.connected(k.socket)));

  const S1 = await new L.SyncClient(url, { board, transports: ['websocket'], name: 'S1' }).connect();
  const S2 = await new L.SyncClient(url, { board, transports: ['polling'], name: 'S2' }).connect();
  const s1Move = { x: 333, y: 444, drawing: true, color: '#111111' };
  const s1Moves = [{ x: 330, y: 440, drawing: true }, s1Move];

  // Interleave: synced work and classic moves, one step every 30 ms.
  const syncedSteps = [
    () => S1.draw(L.piecesOf('syncStroke1', '#6d28d9', 4, [10, 900, 50, 950, 90, 900, 130, 950], 2)),
    () => S2.draw(L.piecesOf('syncStroke2', '#0891b2', 8, [1500, 100, 1600, 200, 1700, 100], 2)),
    () => S1.socket.emit('mousemove', s1Moves[0]),
    () => S1.socket.emit('mousemove', s1Moves[1]),
    () => S1.socket.emit('undo', { stroke: 'syncStroke1' }),
    () => S1.socket.emit('redo', { stroke: 'syncStroke1' }),
    () => S2.socket.emit('undo', { stroke: 'syncStroke2' }),
    () => S2.socket.emit('clear', { stroke: 'syncClear01' }),
    () => S2.socket.emit('undo', { stroke: 'syncClear01' }),
    () => S1.draw([{ stroke: 'syncStroke3', i: 0, color: '#be123c', width: 2, points: [700, 700] }]),
  ];
  const n = Math.max(syncedSteps.length, ...Object.values(classic).map((k) => k.moves.length));
  for (let step = 0; step < n; step++) {
    if (step < syncedSteps.length) syncedSteps[step]();
    for (const k of Object.values(classic)) if (step < k.moves.length) k.socket.emit('mousemove', k.moves[step]);
    await L.sleep(30);
  }
  const acked = (await S1.waitAcked()) && (await S2.waitAcked());
  // Every move reached every other classic client (moves are volatile only
  // for receivers that lag; these do not).
  const expectMoving = {};
  for (const [name, k] of Object.entries(classic)) {
    expectMoving[name] = Object.entries(classic).filter(([o]) => o !== name).reduce((s, [, o]) => s + o.moves.length, 0) + s1Moves.length;
  }
  const allMoving = await L.until(() => Object.entries(classic).every(([name, k]) => k.events.filter((e) => e.event === 'moving').length >= expectMoving[name]), 10000);
  // The classic pieces are recorded: wait until S1 has seen all of them.
  const classicPieces = () => S1.ops().filter((o) => o.type === 'stroke' && o.author === '').length;
  const recordedAll = await L.until(() => classicPieces() >= 5 + 2 + 3, 10000);

  // S2 leaves: the classic clients are told.
  const s2Id = S2.socket.id;
  S2.drop();
  const toldDisconnect = await L.until(() => Object.values(classic).every((k) => k.events.some((e) => e.event === 'clientdisconnect')), 10000);
  await L.sleep(500); // anything else would arrive now
  const history = await L.fetchHistory(url, board, 0);

  const out = { board, acked, allMoving, recordedAll, toldDisconnect, s2Id, s1Id: S1.socket.id, s1Moves, classic: {}, history: history.ops, s1Ops: S1.ops() };
  for (const [name, k] of Object.entries(classic)) {
    out.classic[name] = {
      id: k.socket.id,
      version: name === 'K2' ? 2 : 4,
      transport: k.socket.io.engine.transport.name,
      moves: k.moves,
      events: k.events.map(({ event, data }) => ({ event, data })),
      raw: k.raw,
    };
  }
  return out;
});
