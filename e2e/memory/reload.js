'use strict';
// Reload: a page keeps its secret across sockets and may still undo what it
// drew before; nobody else may.
// usage: node e2e/memory/reload.js URL board
// A (secret S) draws stroke X and leaves (the board empties, so the server
// forgets it and loads it again from the store). A2 (secret S again) syncs
// with since 0. Then E (another secret) tries undo X, redo X and a draw piece
// of X, each from its own socket (rejections are throttled per socket);
// A2 undoes X, and E tries to redo it. History is read after each step.
const L = require('./lib');

const [url, board] = process.argv.slice(2);
if (!url || !board) {
  console.error('usage: reload.js URL board');
  process.exit(2);
}

L.main(async () => {
  const secret = L.randomId(32);
  const other = L.randomId(20);
  const X = 'strokeXxx' + L.randomId(6).replace(/[^A-Za-z0-9]/g, 'q');
  const transports = ['websocket'];

  const A = await new L.SyncClient(url, { board, secret, transports, name: 'A' }).connect();
  const pieces = L.piecesOf(X, '#0ea5e9', 6, [100, 100, 150, 120, 200, 180, 260, 200, 300, 300], 3);
  A.draw(pieces);
  const drawnAcked = await A.waitAcked();
  const before = { synced: A.synceds[0], head: A.have };
  A.drop();
  await L.until(() => !A.socket.connected, 5000);
  await L.sleep(300); // the server sees the disconnect and forgets the empty board

  // A reloads: a new socket, the same secret, since 0.
  const A2 = new L.SyncClient(url, { board, secret, transports, name: 'A2' });
  await A2.connect({ sync: false });
  A2.socket.emit('sync', { author: secret, since: 0 });
  await L.until(() => A2.synceds.length > 0, 10000);
  const syncedAfterReload = A2.synceds[0];
  A2.author = syncedAfterReload.author;
  await A2.heal();

  // Someone else tries to take X over, one socket per attempt.
  const attempt = async (name, fn) => {
    const E = await new L.SyncClient(url, { board, secret: other, transports, name }).connect();
    fn(E);
    const rejected = await L.waitRejected(E, 0, 5000);
    E.drop();
    return { author: E.author, rejected };
  };
  const eUndo = await attempt('E-undo', (E) => E.socket.emit('undo', { stroke: X }));
  const eDraw = await attempt('E-draw', (E) => E.socket.emit('draw', [{ stroke: X, i: 7, color: '#ff0000', width: 3, points: [1, 1, 2, 2] }]));
  const eDraw0 = await attempt('E-draw0', (E) => E.socket.emit('draw', [{ stroke: X, i: 0, color: '#ff0000', width: 3, points: [1, 1, 2, 2] }]));
  const afterOthers = await L.fetchHistory(url, board, 0);

  // The author undoes X after the reload.
  A2.socket.emit('undo', { stroke: X });
  const undoOp = await A2.waitOp((o) => o.type === 'undo' && o.stroke === X, 10000);
  const afterUndo = await L.fetchHistory(url, board, 0);

  // Someone else tries to redo it.
  const eRedo = await attempt('E-redo', (E) => E.socket.emit('redo', { stroke: X }));
  const afterRedo = await L.fetchHistory(url, board, 0);
  const svg = await L.fetchSVG(url, board);

  return {
    X,
    secret,
    otherSecret: other,
    drawnAcked,
    before,
    syncedAfterReload,
    a2Rejected: A2.rejected,
    eUndo, eDraw, eDraw0, eRedo,
    afterOthers: { ops: afterOthers.ops, picture: L.picture(afterOthers.ops) },
    undoOp,
    afterUndo: { ops: afterUndo.ops, picture: L.picture(afterUndo.ops) },
    afterRedo: { ops: afterRedo.ops, picture: L.picture(afterRedo.ops) },
    svg: svg.shapes,
  };
});
