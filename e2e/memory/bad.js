'use strict';
// Bad requests: each gets `rejected` naming the event and what is wrong,
// and nothing is stored.
// usage: node e2e/memory/bad.js URL board
// Every case runs on its own socket (rejection notices are throttled to one
// per second per socket), all at once. Then: redo of a shown stroke is a
// silent no-op, and a normal draw still works. Prints each case's notice
// and the board's history.
const L = require('./lib');

const [url, board] = process.argv.slice(2);
if (!url || !board) {
  console.error('usage: bad.js URL board');
  process.exit(2);
}

const good = (over = {}) => ({ stroke: 'goodStroke' + L.randomId(6).replace(/[^A-Za-z0-9]/g, 'z'), i: 0, color: '#123456', width: 3, points: [1, 2, 3, 4], ...over });
const points = (n) => Array.from({ length: 2 * n }, (_, k) => k);

// [name, synced first?, event, args...]
const cases = [
  ['draw before sync', false, 'draw', [good()]],
  ['undo before sync', false, 'undo', { stroke: 'someStroke1' }],
  ['sync short secret', false, 'sync', { author: 'tooShort', since: 0 }],
  ['sync secret with bad characters', false, 'sync', { author: 'abcdefghijklmnop~', since: 0 }],
  ['sync since -1', false, 'sync', { author: L.randomId(20), since: -1 }],
  ['sync since 1.5', false, 'sync', { author: L.randomId(20), since: 1.5 }],
  ['sync without object', false, 'sync'],
  ['draw 0 pieces', true, 'draw', []],
  ['draw 65 pieces', true, 'draw', Array.from({ length: 65 }, (_, k) => good({ stroke: 'manyPieces1', i: k }))],
  ['draw not an array', true, 'draw', good()],
  ['bad colour name', true, 'draw', [good({ color: 'red' })]],
  ['bad colour short hex', true, 'draw', [good({ color: '#fff' })]],
  ['width 0', true, 'draw', [good({ width: 0 })]],
  ['width 41', true, 'draw', [good({ width: 41 })]],
  ['odd number of coordinates', true, 'draw', [good({ points: [1, 2, 3] })]],
  ['no points', true, 'draw', [good({ points: [] })]],
  ['257 points', true, 'draw', [good({ points: points(257) })]],
  ['NaN-like coordinate strings', true, 'draw', [good({ points: ['NaN', 'NaN'] })]],
  ['NaN-like width', true, 'draw', [good({ width: 'NaN' })]],
  ['coordinate beyond +100000', true, 'draw', [good({ points: [100000.5, 0] })]],
  ['coordinate beyond -100000', true, 'draw', [good({ points: [0, 0, 5, -100001] })]],
  ['stroke id too short', true, 'draw', [good({ stroke: 'short' })]],
  ["stroke id with '~'", true, 'draw', [good({ stroke: '~abcdefgh.1' })]],
  ['piece i negative', true, 'draw', [good({ i: -1 })]],
  ['one bad piece among good ones', true, 'draw', [good({ stroke: 'mixedBatch1', i: 0 }), good({ stroke: 'mixedBatch1', i: 1, width: 99 })]],
  ['undo without {stroke}', true, 'undo'],
  ['redo without {stroke}', true, 'redo', {}],
  ['clear without {stroke}', true, 'clear', { id: 'clearIdWrongKey' }],
  ['clear with a short id', true, 'clear', { stroke: 'c1' }],
  ['undo of a stroke that does not exist', true, 'undo', { stroke: 'noSuchStroke1' }],
  ['redo of a stroke that does not exist', true, 'redo', { stroke: 'noSuchStroke2' }],
];

L.main(async () => {
  const transports = ['websocket'];
  const results = await Promise.all(cases.map(async ([name, sync, event, ...args]) => {
    const c = new L.SyncClient(url, { board, transports, name });
    await c.connect({ sync });
    c.socket.emit(event, ...args);
    const rejected = await L.waitRejected(c, 0, 5000);
    await L.sleep(200); // a second notice or a stray op would show here
    const r = { name, event, rejected, notices: c.rejected.length, ops: c.log.size, connected: c.connected() };
    c.drop();
    return r;
  }));

  // Redo of a shown stroke: nothing stored, nothing said.
  const K = await new L.SyncClient(url, { board, transports, name: 'K' }).connect();
  const G = good({ stroke: 'shownStroke1', points: [50, 50, 60, 60] });
  K.draw([G]);
  const gAcked = await K.waitAcked();
  K.socket.emit('redo', { stroke: G.stroke });
  const M = good({ stroke: 'markerStroke1', points: [70, 70] });
  K.draw([M]);
  const mAcked = await K.waitAcked();
  await L.sleep(200);
  const redoShown = { gAcked, mAcked, rejected: K.rejected, ops: K.ops() };

  // The server is still up: a normal draw on a fresh socket works.
  const N = await new L.SyncClient(url, { board, transports, name: 'N' }).connect();
  const F = good({ stroke: 'finalStroke1', points: [80, 80, 90, 95] });
  N.draw([F]);
  const finalAcked = await N.waitAcked();
  const history = await L.fetchHistory(url, board, 0);
  return { results, redoShown, finalAcked, final: F, history: history.ops };
});
