'use strict';
// The trim must not change the picture: a stroke undone before the first
// clear, with a piece drawn after that clear (a page sending a piece it
// still held), stays hidden once a second clear cuts the log.
// usage: node e2e/memory/trim.js URL board
//   A: piece 0 of S, undo S;  B: clear C1;  A: piece 1 of S (hidden: S is
//   undone);  B: clear C2 (the log before C1 is cut), undo C2.
// Prints A's picture from every op it received, the trimmed history and
// board.svg.
const L = require('./lib');

const [url, board] = process.argv.slice(2);
if (!url || !board) {
  console.error('usage: trim.js URL board');
  process.exit(2);
}

L.main(async () => {
  const A = await new L.SyncClient(url, { board, name: 'A', transports: ['websocket'] }).connect();
  const B = await new L.SyncClient(url, { board, name: 'B', transports: ['websocket'] }).connect();
  const S = 'undoneStroke1';
  const p = (i) => ({ stroke: S, i, color: '#ff0000', width: 3, points: [100 * i, 100, 100 * i + 50, 150] });
  const op = (type, stroke) => A.waitOp((o) => o.type === type && o.stroke === stroke, 10000);
  const steps = [];
  A.draw([p(0)]);
  steps.push(await A.waitAcked());
  A.socket.emit('undo', { stroke: S });
  steps.push(!!(await op('undo', S)));
  B.socket.emit('clear', { stroke: 'trimClear01' });
  steps.push(!!(await op('clear', 'trimClear01')));
  A.draw([p(1)]);
  steps.push(await A.waitAcked());
  B.socket.emit('clear', { stroke: 'trimClear02' });
  steps.push(!!(await op('clear', 'trimClear02')));
  B.socket.emit('undo', { stroke: 'trimClear02' });
  steps.push(!!(await op('undo', 'trimClear02')));
  const h = await L.fetchHistory(url, board, 0);
  return {
    steps, rejected: [...A.rejected, ...B.rejected], full: A.ops(), history: h.ops,
    fullPicture: A.picture(), historyPicture: L.picture(h.ops), svg: (await L.fetchSVG(url, board)).shapes,
  };
});
