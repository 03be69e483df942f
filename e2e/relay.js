'use strict';
// Relay over one transport mode with socket.io-client 4.x.
// usage: node e2e/relay.js URL websocket|polling|default
// A, B, C join the default board (no query), D and E join board "x".
// A sends 20 mousemoves (extra fields, a spoofed id), E sends 5.
// Prints every socket's id, final transport and received events.
const { connect, connected, until, sleep, record, main } = require('./lib');

const [url, mode] = process.argv.slice(2);
const transports = { websocket: ['websocket'], polling: ['polling'], default: undefined }[mode];
if (!url || !(mode in { websocket: 1, polling: 1, default: 1 })) {
  console.error('usage: relay.js URL websocket|polling|default');
  process.exit(2);
}

const upgraded = (s) => s.io.engine && s.io.engine.transport && s.io.engine.transport.name === 'websocket';

main(async () => {
  const names = ['A', 'B', 'C', 'D', 'E'];
  const sockets = {}, got = {};
  for (const n of names) {
    sockets[n] = connect(url, { transports, board: n === 'D' || n === 'E' ? 'x' : undefined });
    got[n] = record(sockets[n]);
  }
  await Promise.all(names.map((n) => connected(sockets[n])));
  const initial = {};
  for (const n of names) initial[n] = sockets[n].io.engine.transport.name;

  const sentA = [], sentE = [];
  const moveA = (i) => ({
    x: i + 0.5, y: -i * 3, drawing: i % 2 === 0, seq: i,
    color: '#e11d48', width: 4, name: 'Ada ✏️', meta: { tags: ['a', 1, null, true], n: { deep: i } },
    id: 'spoofed-by-client',
  });
  const emitA = (from, to) => {
    for (let i = from; i < to; i++) { const m = moveA(i); sentA.push(m); sockets.A.emit('mousemove', m); }
  };
  if (mode === 'default') {
    // Half while the first transport (polling) may still be in use, half
    // after every socket has upgraded to websocket.
    emitA(0, 10);
    await until(() => names.every((n) => upgraded(sockets[n])), 10000);
    emitA(10, 20);
  } else {
    emitA(0, 20);
  }
  for (let i = 0; i < 5; i++) {
    const m = { x: 1, y: 2, drawing: false, seq: i, from: 'E' };
    sentE.push(m);
    sockets.E.emit('mousemove', m);
  }
  const moving = (n) => got[n].filter((e) => e.event === 'moving').length;
  const complete = await until(() => moving('B') >= 20 && moving('C') >= 20 && moving('D') >= 5, 10000);
  // Quiet window: anything misrouted (A's own echo, cross-board) would come now.
  await sleep(500);

  const result = { mode, complete, ids: {}, initialTransport: initial, finalTransport: {}, sentA, sentE, got: {} };
  for (const n of names) {
    result.ids[n] = sockets[n].id;
    result.finalTransport[n] = sockets[n].io.engine.transport.name;
    result.got[n] = got[n].map(({ event, data }) => ({ event, data }));
  }
  return result;
});
