'use strict';
// Order and loss: one sender, many websocket receivers, back-to-back mousemoves.
// usage: node e2e/order.js URL RECEIVERS COUNT SENDER_TRANSPORT(websocket|polling)
// Prints, per receiver, how many arrived and the first one out of sequence.
const { connect, connected, until, sleep, main } = require('./lib');

const [url, nRecv, nMsgs, senderTransport] = process.argv.slice(2);
const R = +nRecv, N = +nMsgs;
const board = 'order_' + senderTransport;

main(async () => {
  const receivers = [];
  let sender;
  for (let r = 0; r < R; r++) {
    const s = connect(url, { board, transports: ['websocket'] });
    const st = { s, n: 0, firstBad: null, wrongId: 0 };
    s.on('moving', (m) => {
      if (m.id !== sender.id) st.wrongId++;
      if (m.seq !== st.n && st.firstBad === null) st.firstBad = { at: st.n, got: m.seq };
      st.n++;
    });
    receivers.push(st);
  }
  sender = connect(url, { board, transports: [senderTransport] });
  let ownEcho = 0;
  sender.on('moving', () => ownEcho++);
  await Promise.all([sender, ...receivers.map((st) => st.s)].map((s) => connected(s)));
  for (let i = 0; i < N; i++) sender.emit('mousemove', { x: i % 1000, y: (i * 7) % 1000, drawing: true, seq: i });
  const complete = await until(() => receivers.every((st) => st.n >= N), 60000);
  await sleep(200); // duplicates would come now
  return {
    complete, senderId: sender.id, ownEcho,
    receivers: receivers.map((st) => ({ id: st.s.id, n: st.n, firstBad: st.firstBad, wrongId: st.wrongId, connected: st.s.connected })),
  };
});
