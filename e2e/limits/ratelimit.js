'use strict';
// The per-socket rate limit as the official socket.io-client 4.x sees it.
// usage: node e2e/limits/ratelimit.js URL
// The Go test starts the server with a burst of 5 and a refill so slow that
// no token comes back while this runs. A sender emits 50 mousemoves at once,
// waits past the one-second notice throttle, and emits 50 more; a watcher on
// the same board counts what was relayed. Prints what both saw.
const { io } = require('socket.io-client');
const { until, sleep, main } = require('../lib');

const url = process.argv[2];
const open = () => io(url, { forceNew: true, reconnection: false, timeout: 10000, transports: ['websocket'], query: { board: 'rate' } });
const connected = (s) => until(() => s.connected, 10000);

main(async () => {
  const sender = open(), watcher = open();
  if (!(await connected(sender)) || !(await connected(watcher))) throw new Error('sockets did not connect');
  const rejected = [], moves = [];
  sender.on('rejected', (r) => rejected.push(r));
  watcher.on('moving', (m) => moves.push(m.x));

  const batch = (from) => { for (let i = from; i < from + 50; i++) sender.emit('mousemove', { x: i, y: 0, drawing: true }); };
  batch(0);
  const firstNotice = await until(() => rejected.length >= 1 && moves.length >= 5, 10000);
  await sleep(300); // anything more from the first batch would arrive now
  const afterFirst = { rejected: rejected.length, moves: moves.length };

  await sleep(1200); // past the notice throttle (one per second)
  batch(50);
  const secondNotice = await until(() => rejected.length >= 2, 10000);
  await sleep(500); // quiet window: further notices or relayed moves would show here
  return { firstNotice, secondNotice, afterFirst, rejected, moves, connected: sender.connected };
});
