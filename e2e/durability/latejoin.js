'use strict';
// A late joiner with the official socket.io-client 4.x: it connects to a
// board, syncs from 0 as a fresh page does, and fetches the board's history,
// which is how a page catches up after a server restart.
// usage: node e2e/durability/latejoin.js URL [BOARD]
// Prints {synced, status, head, ops: [{seq, type, stroke, i, author}]}.
const { connect, connected, until, record, main } = require('../lib');

const url = process.argv[2];
const board = process.argv[3] || undefined;

main(async () => {
  const s = connect(url, { board, transports: ['websocket'] });
  const got = record(s);
  await connected(s);
  const secret = ('latejoin' + Math.random().toString(36).slice(2)).padEnd(16, 'x');
  s.emit('sync', { author: secret, since: 0 });
  if (!await until(() => got.some((e) => e.event === 'synced'), 10000)) {
    throw new Error('no synced within 10 s; got ' + JSON.stringify(got.map((e) => e.event)));
  }
  const synced = got.find((e) => e.event === 'synced').data;
  const base = board ? `${url}/b/${encodeURIComponent(board)}/` : `${url}/`;
  const res = await fetch(base + 'history.ndjson?since=0');
  const text = await res.text();
  const ops = text.split('\n').filter(Boolean).map((line) => JSON.parse(line));
  s.disconnect();
  return {
    synced,
    status: res.status,
    head: res.headers.get('x-board-head'),
    ops: ops.map((o) => ({ seq: o.seq, type: o.type, stroke: o.stroke, i: o.i, author: o.author })),
  };
});
