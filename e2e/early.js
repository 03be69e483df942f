'use strict';
// Events emitted right after io(), before 'connect' fires (socket.io-client
// buffers them and sends them right behind the CONNECT packet).
// usage: node e2e/early.js URL ROUNDS TRANSPORT(websocket|polling|default)
// Each round a new sender emits 20 mousemoves synchronously after io(); two
// websocket receivers on the board count them.
const { connect, connected, until, main } = require('./lib');

const [url, nRounds, mode] = process.argv.slice(2);
const transports = { websocket: ['websocket'], polling: ['polling'], default: undefined }[mode];
const board = 'early_' + mode;
const N = 20;

main(async () => {
  const receivers = [0, 1].map(() => connect(url, { board, transports: ['websocket'] }));
  const got = receivers.map(() => []);
  receivers.forEach((r, k) => r.on('moving', (m) => got[k].push(m)));
  await Promise.all(receivers.map((r) => connected(r)));
  const rounds = [];
  for (let round = 0; round < +nRounds; round++) {
    const s = connect(url, { board, transports });
    for (let i = 0; i < N; i++) s.emit('mousemove', { x: i, y: round, drawing: i > 0, round, seq: i });
    await connected(s);
    const mine = (k) => got[k].filter((m) => m.round === round);
    const complete = await until(() => mine(0).length >= N && mine(1).length >= N, 5000);
    rounds.push({
      round, complete, id: s.id,
      seqs: [0, 1].map((k) => mine(k).map((m) => m.seq)),
      ids: [0, 1].map((k) => [...new Set(mine(k).map((m) => m.id))]),
    });
    s.disconnect();
  }
  return { mode, rounds };
});
