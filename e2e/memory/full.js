'use strict';
// A full board: the segment cap, clearing to make room, undoing the clear,
// and the trim a second clear makes.
// usage: node e2e/memory/full.js URL board   (server with MaxBoardSegments 50)
// Every piece here has 11 points: 10 segments.
//   A: p1..p4 and T0 (piece 0 of stroke T): 50 segments, the board is full
//   A: p5 refused, B: a dot refused (both not stored)
//   A: clear C1;  A: T1 (T goes on) and p6: 20 segments since C1
//   A: undo C1 (70 segments in force: a draw from D is refused), redo C1
//   B: clear C2 (the log before C1 is cut), then B: undo C2
//   A: undo T (its piece T1 after C1 is visible), B: a piece of T (refused:
//   T is A's), A: p7
// `segments` is read from a fresh `synced` after each step.
const L = require('./lib');

const [url, board] = process.argv.slice(2);
if (!url || !board) {
  console.error('usage: full.js URL board');
  process.exit(2);
}

L.main(async () => {
  const transports = ['websocket'];
  const A = await new L.SyncClient(url, { board, transports, name: 'A' }).connect();
  const B = await new L.SyncClient(url, { board, transports: ['polling'], name: 'B' }).connect();
  const line = (x0, y) => Array.from({ length: 22 }, (_, k) => (k % 2 === 0 ? x0 + 10 * (k / 2) : y + (k % 4 === 1 ? 0 : 3)));
  const piece = (stroke, i, y, color = '#334155') => ({ stroke, i, color, width: 5, points: line(100 + 200 * i, y) });
  const T = 'spanStroke1';
  const steps = {};
  const probe = async () => {
    const P = await new L.SyncClient(url, { board, transports, name: 'probe' }).connect({ sync: false });
    P.socket.emit('sync', { author: P.secret, since: 0 });
    await L.until(() => P.synceds.length > 0, 10000);
    P.drop();
    return P.synceds[0];
  };
  const waitOp = (c, type, stroke) => c.waitOp((o) => o.type === type && o.stroke === stroke, 10000);

  A.draw([piece('fullStroke1', 0, 100), piece('fullStroke2', 0, 150), piece('fullStroke3', 0, 200), piece('fullStroke4', 0, 250), piece(T, 0, 300, '#dc2626')]);
  steps.filled = { acked: await A.waitAcked(), synced: await probe() };

  A.draw([piece('fullStroke5', 0, 350)]);
  const p5Rejected = await L.waitRejected(A, 0, 5000);
  B.socket.emit('draw', [{ stroke: 'fullDot0001', i: 0, color: '#000000', width: 3, points: [5, 5] }]);
  const dotRejected = await L.waitRejected(B, 0, 5000);
  steps.refused = { p5Rejected, dotRejected, synced: await probe(), history: (await L.fetchHistory(url, board, 0)).ops };
  A.pending.clear(); // p5 was refused: a page would tell its user, not resend

  A.socket.emit('clear', { stroke: 'fullClear01' });
  const c1 = await waitOp(A, 'clear', 'fullClear01');
  steps.cleared = { c1, synced: await probe() };

  A.draw([piece(T, 1, 300, '#dc2626'), piece('fullStroke6', 0, 400)]);
  steps.drawnAgain = { acked: await A.waitAcked(), synced: await probe() };

  A.socket.emit('undo', { stroke: 'fullClear01' });
  steps.undoClear = { op: await waitOp(A, 'undo', 'fullClear01'), synced: await probe(), picture: A.picture() };
  const D = await new L.SyncClient(url, { board, transports, name: 'D' }).connect();
  D.socket.emit('draw', [piece('fullStroke9', 0, 900)]);
  steps.undoClear.dRejected = await L.waitRejected(D, 0, 5000);
  D.drop();

  A.socket.emit('redo', { stroke: 'fullClear01' });
  steps.redoClear = { op: await waitOp(A, 'redo', 'fullClear01'), synced: await probe(), picture: A.picture() };
  const fullLogBefore = A.ops();

  B.socket.emit('clear', { stroke: 'fullClear02' });
  const c2 = await waitOp(A, 'clear', 'fullClear02');
  await waitOp(B, 'clear', 'fullClear02');
  const histAfterC2 = await L.fetchHistory(url, board, 0);
  steps.secondClear = {
    c2, synced: await probe(), history: histAfterC2.ops,
    fullPicture: A.picture(), historyPicture: L.picture(histAfterC2.ops), svg: (await L.fetchSVG(url, board)).shapes,
  };

  B.socket.emit('undo', { stroke: 'fullClear02' });
  await waitOp(A, 'undo', 'fullClear02');
  await waitOp(B, 'undo', 'fullClear02');
  const histUndoC2 = await L.fetchHistory(url, board, 0);
  steps.undoSecondClear = {
    synced: await probe(), history: histUndoC2.ops,
    fullPicture: A.picture(), bPicture: B.picture(), historyPicture: L.picture(histUndoC2.ops), svg: (await L.fetchSVG(url, board)).shapes,
  };

  // T began before C1 and goes on after it: it is still A's.
  await L.sleep(1100); // past A's notice throttle, so a refusal would be told
  const nRej = A.rejected.length;
  A.socket.emit('undo', { stroke: T });
  let undoT = null;
  await L.until(() => (undoT = A.ops().find((o) => o.type === 'undo' && o.stroke === T) || null) || A.rejected.length > nRej, 10000);
  const undoTRejected = A.rejected.slice(nRej);
  const E = await new L.SyncClient(url, { board, transports, name: 'E' }).connect();
  E.socket.emit('draw', [piece(T, 5, 600, '#16a34a')]);
  const eRejected = await L.waitRejected(E, 0, 3000);
  E.drop();
  A.draw([piece('fullStroke7', 0, 500)]);
  const p7Acked = await A.waitAcked();
  const histEnd = await L.fetchHistory(url, board, 0);
  steps.afterTrim = {
    undoT, undoTRejected, eRejected, p7Acked, history: histEnd.ops,
    fullPicture: A.picture(), historyPicture: L.picture(histEnd.ops), svg: (await L.fetchSVG(url, board)).shapes,
  };
  return { authorA: A.author, authorB: B.author, T, steps, fullLogBefore, aSeqs: A.seqs(), aConflicts: A.conflicts };
});
