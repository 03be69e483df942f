'use strict';
// Holds sockets open until stdin closes, for the Go test to read /metrics.
// usage: node e2e/limits/hold.js URL POLLING WEBSOCKET DEFAULT
// Opens that many polling-only, websocket-only and default (polling, then
// upgrade) sockets, waits until all are connected and the default ones have
// upgraded, prints {"ready":true,...}, then waits for stdin to close,
// disconnects them all and prints {"closed":true}.
const { io } = require('socket.io-client');
const { until } = require('../lib');

const [url, ...counts] = process.argv.slice(2);
const [polling, websocket, upgrade] = counts.map(Number);
const open = (transports) => io(url, { forceNew: true, reconnection: false, timeout: 10000, transports });

const sockets = [];
for (let i = 0; i < polling; i++) sockets.push(open(['polling']));
for (let i = 0; i < websocket; i++) sockets.push(open(['websocket']));
for (let i = 0; i < upgrade; i++) sockets.push(open(['polling', 'websocket']));

const transport = (s) => s.io.engine && s.io.engine.transport && s.io.engine.transport.name;
const line = (v) => process.stdout.write(JSON.stringify(v) + '\n');

(async () => {
  const ready = await until(() => sockets.every((s) => s.connected) &&
    sockets.slice(polling).every((s) => transport(s) === 'websocket'), 15000);
  line({ ready, transports: sockets.map(transport) });
  process.stdin.resume();
  process.stdin.on('end', () => {
    sockets.forEach((s) => s.close());
    line({ closed: true });
    setTimeout(() => process.exit(0), 200);
  });
})();
