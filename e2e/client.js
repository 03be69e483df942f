'use strict';
// One socket.io-client socket in its own process, for tests that kill it.
// usage: node e2e/client.js URL '{"board":"b","transports":["websocket"],"version":4}'
// stdout, one JSON line each: {"event":"connect","id":...}, then every event
// received ({"event":"moving","data":...}), {"event":"connect_error","message":...},
// {"event":"disconnect","reason":...}. Exits when its stdin closes, so it
// never outlives the script that started it.
const { connect, record } = require('./lib');

const url = process.argv[2];
const opts = JSON.parse(process.argv[3] || '{}');
const out = (o) => process.stdout.write(JSON.stringify(o) + '\n');

const s = connect(url, opts);
s.on('connect', () => out({ event: 'connect', id: s.id, transport: s.io.engine.transport.name }));
s.on('connect_error', (err) => out({ event: 'connect_error', message: String(err && err.message) }));
s.on('disconnect', (reason) => out({ event: 'disconnect', reason }));
record(s).push = (e) => { out({ event: e.event, data: e.data }); return 0; };

process.stdin.on('data', () => {}).on('end', () => process.exit(0)).resume();
