'use strict';
// Late join: A draws, undoes and redoes; B joins later and rebuilds the
// picture from history.ndjson.
// usage: node e2e/memory/latejoin.js URL websocket|polling [board]
// (no board: the default board at /). Prints what A and B saw, history with
// and without gzip, and board.svg's shapes.
const L = require('./lib');

const [url, mode, board] = process.argv.slice(2);
const transports = { websocket: ['websocket'], polling: ['polling'] }[mode];
if (!url || !transports) {
  console.error('usage: latejoin.js URL websocket|polling [board]');
  process.exit(2);
}

L.main(async () => {
  const A = new L.SyncClient(url, { board, transports, name: 'A' });
  await A.connect();
  const syncedA = A.synceds[0];

  // Four strokes: colours and widths differ, several pieces each, and one
  // dot (a piece of one point).
  const strokes = [
    { id: 'strokeAAA1', color: '#e11d48', width: 3, pts: [10, 10, 20, 15, 30, 25, 40, 40, 55, 42, 70, 60, 85, 61, 100, 80], per: 3 },
    { id: 'strokeAAA2', color: '#1E90FF', width: 12.5, pts: [500, 500, 510.25, 520, 530, 545.5, 560, 570, 600, 600], per: 2 },
    { id: 'strokeAAA3', color: '#10b981', width: 40, pts: [1999, 1, 1500, 300, 1200, 700, 900, 999, 100, 999], per: 2 },
    { id: 'strokeAAA4', color: '#000000', width: 7, pts: [1000, 500], per: 1 },
  ];
  const sent = [];
  for (const s of strokes) {
    const pieces = L.piecesOf(s.id, s.color, s.width, s.pts, s.per);
    sent.push(...pieces);
    // piece by piece, as a page sends them while the pen moves
    for (const p of pieces) A.draw([p]);
  }
  const allAcked = await A.waitAcked();
  const count = (type, stroke) => [...A.log.values()].filter((o) => o.type === type && o.stroke === stroke).length;
  const act = async (type, stroke) => {
    const n = count(type, stroke);
    A.socket.emit(type, { stroke });
    return L.until(() => count(type, stroke) > n, 10000);
  };
  const actions = {
    undo1: await act('undo', 'strokeAAA1'),
    redo1: await act('redo', 'strokeAAA1'),
    undo2: await act('undo', 'strokeAAA2'),
  };
  await L.until(() => !A.healing, 5000);
  const aOps = A.ops();

  // B joins later.
  const B = new L.SyncClient(url, { board, transports, name: 'B' });
  await B.connect({ sync: false });
  B.socket.emit('sync', { author: B.secret, since: 0 });
  await L.until(() => B.synceds.length > 0, 10000);
  const syncedB = B.synceds[0];
  const histGzip = await L.fetchHistory(url, board, 0, { gzip: true });
  const histPlain = await L.fetchHistory(url, board, 0, { gzip: false });
  const histSince = await L.fetchHistory(url, board, 3, { gzip: false });
  const svg = await L.fetchSVG(url, board);

  // Live after the late join: one more piece from A reaches B as ops.
  const live = { stroke: 'strokeAAA5', i: 0, color: '#7c3aed', width: 5, points: [300, 300, 310, 320] };
  B.author = syncedB.author;
  for (const o of histGzip.ops) B.take(o);
  B.advance();
  A.draw([live]);
  const liveAcked = await A.waitAcked();
  const liveAtB = await B.waitOp((o) => o.stroke === 'strokeAAA5', 10000);

  return {
    mode,
    board: board || '',
    transport: A.socket.io.engine.transport.name,
    syncedA,
    syncedB,
    sent,
    allAcked,
    actions,
    aFrames: A.frames,
    aOps,
    aPicture: L.picture(aOps),
    aRejected: A.rejected,
    aAcked: Object.fromEntries(A.acked),
    histGzip: { ...histGzip, picture: L.picture(histGzip.ops) },
    histPlain: { ...histPlain, picture: L.picture(histPlain.ops) },
    histSince,
    svg,
    aShapes: L.shapes(L.picture(aOps)),
    live: { acked: liveAcked, atB: liveAtB, bHave: B.have, bFrames: B.frames },
  };
});
