'use strict';
// One socket.io-client 4.x (or 2.x) socket driven over stdin/stdout, for tests
// that need a client in its own process (to kill it) or step by step.
// usage: node e2e/client.js URL '{"board":"b","transports":["websocket"],"version":4}'
// stdout, one JSON line each: {"event":"connect","id":...}, then every event
// received ({"event":"moving","data":...}), {"event":"connect_error","message":...},
// {"event":"disconnect","reason":...}.
// stdin, one JSON line each: {"emit":["mousemove",{...}]}, {"disconnect":true},
// {"destroy":true} (close the TCP connection under the websocket), {"exit":true}.
const readline = require('readline');
const { connect, record } = require('./lib');

const url = process.argv[2];
const opts = JSON.parse(process.argv[3] || '{}');
const out = (o) => process.stdout.write(JSON.stringify(o) + '\n');

const s = connect(url, opts);
s.on('connect', () => out({ event: 'connect', id: s.id, transport: s.io.engine.transport.name }));
s.on('connect_error', (err) => out({ event: 'connect_error', message: String(err && err.message) }));
s.on('disconnect', (reason) => out({ event: 'disconnect', reason }));
const got = record(s);
got.push = (e) => { out({ event: e.event, data: e.data }); return 0; };

readline.createInterface({ input: process.stdin }).on('line', (line) => {
  const cmd = JSON.parse(line);
  if (cmd.emit) s.emit(...cmd.emit);
  if (cmd.disconnect) s.disconnect();
  if (cmd.destroy) s.io.engine.transport.ws._socket.destroy();
  if (cmd.exit) process.exit(0);
}).on('close', () => process.exit(0));
