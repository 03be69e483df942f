'use strict';
// Idempotent pieces: a piece (stroke, i) sent twice is stored once.
// usage: node e2e/memory/resend.js URL board
// A sends p0,p1, then p0,p1 again, then p1,p2 (same socket); then
// reconnects (a new socket, same secret) while an observer O stays on the
// board and sends p0..p2 again plus p3; then everyone leaves, so the board
// is loaded again from the store, and A sends p0..p3 again plus p4. Finally
// the trim case: piece q0 is stored, two clears follow, and A sends q0 again
// (as a page that never saw q0's ack would).
// O counts every op it receives; history is read at the end.
const L = require('./lib');

const [url, board] = process.argv.slice(2);
if (!url || !board) {
  console.error('usage: resend.js URL board');
  process.exit(2);
}

L.main(async () => {
  const secret = L.randomId(24);
  const transports = ['websocket'];
  const S = 'resendStroke1';
  const p = (i) => ({ stroke: S, i, color: '#f59e0b', width: 4, points: [10 * i, 10, 10 * i + 10, 20] });
  const piecesFromO = () => O.ops().filter((o) => o.type === 'stroke' && o.stroke === S).map((o) => [o.i, o.seq]);

  const O = await new L.SyncClient(url, { board, transports, name: 'O' }).connect();
  const A = await new L.SyncClient(url, { board, secret, transports, name: 'A' }).connect();
  const steps = {};

  A.socket.emit('draw', [p(0), p(1)]);
  A.socket.emit('draw', [p(0), p(1)]);
  A.socket.emit('draw', [p(1), p(2)]);
  // A marker after the resends: once it is acknowledged, everything sent
  // before it has been handled.
  const mark = (n) => ({ stroke: 'markerStroke' + n, i: 0, color: '#000000', width: 1, points: [n, n] });
  A.draw([mark(1)]);
  steps.sameSocket = { acked: await A.waitAcked(), frames: A.frames.slice() };

  // Reconnect while O keeps the board loaded.
  A.drop(true);
  await L.until(() => !A.socket.connected, 5000);
  await A.connect();
  A.socket.emit('draw', [p(0), p(1), p(2)]);
  A.draw([p(3), mark(2)]);
  steps.reconnect = { acked: await A.waitAcked(), synced: A.synceds[A.synceds.length - 1], frames: A.frames.slice() };
  await O.waitOp((o) => o.stroke === 'markerStroke2', 5000);

  // Everyone leaves: the board is loaded again from the store.
  A.drop();
  O.drop();
  await L.until(() => !A.socket.connected && !O.socket.connected, 5000);
  const oBefore = { ops: piecesFromO(), frames: O.frames.slice() };
  await L.sleep(300);
  await A.connect();
  await O.connect();
  A.socket.emit('draw', [p(0), p(1), p(2), p(3)]);
  A.draw([p(4), mark(3)]);
  steps.reload = { acked: await A.waitAcked(), synced: A.synceds[A.synceds.length - 1] };
  await O.waitOp((o) => o.stroke === 'markerStroke3', 5000);
  const history = await L.fetchHistory(url, board, 0);

  // Trim: q0 stored, then two clears cut the log before the first clear.
  const Q = 'resendStroke2';
  const q0 = { stroke: Q, i: 0, color: '#84cc16', width: 9, points: [700, 700, 800, 800] };
  A.draw([q0]);
  const q0Acked = await A.waitAcked();
  const q0Seq = A.acked.get(`${Q}/0`);
  for (const id of ['resendClear1', 'resendClear2']) {
    O.socket.emit('clear', { stroke: id });
    await O.waitOp((o) => o.type === 'clear' && o.stroke === id, 5000);
  }
  A.socket.emit('draw', [q0]);
  A.draw([mark(4)]);
  const markAcked = await A.waitAcked();
  await O.waitOp((o) => o.stroke === 'markerStroke4', 5000);
  const trimHistory = await L.fetchHistory(url, board, 0);
  const svgAfterTrim = await L.fetchSVG(url, board);

  return {
    author: A.author,
    steps,
    oBefore,
    oPieces: piecesFromO(),
    oFrames: O.frames,
    aAcked: Object.fromEntries(A.acked),
    aDuplicates: A.duplicates,
    aRejected: A.rejected,
    oDuplicateSeqs: O.conflicts,
    history: history.ops,
    trim: {
      q0Acked,
      q0Seq,
      markAcked,
      oQ: O.ops().filter((o) => o.stroke === Q).map((o) => o.seq),
      history: trimHistory.ops,
      picture: L.picture(trimHistory.ops),
      oPicture: O.picture(),
      svg: svgAfterTrim.shapes,
    },
  };
});
