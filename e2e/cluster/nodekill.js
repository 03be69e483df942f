'use strict';
// A node dies under the official client: node cluster/nodekill.js <spec
// JSON>. spec: {url, board, clients}. Clients connect through a load
// balancer (websocket, reconnection on) and sync as the page does. Once all
// are synced it prints {"ready": true, ids}; the Go test kills a node and
// writes "killed" on stdin. Clients whose connection dropped reconnect
// (through the balancer, to a survivor), sync again and read the board's
// history; the others should hear that each dropped id left. It prints
// what each client saw; the Go test judges.
const readline = require('readline');
const { io } = require('socket.io-client');
const { until, sleep, record, main } = require('../lib');

main(async () => {
  const spec = JSON.parse(process.argv[2]);
  const clients = [];
  for (let k = 0; k < spec.clients; k++) {
    const s = io(spec.url, {
      forceNew: true, transports: ['websocket'], query: { board: spec.board }, timeout: 5000,
      reconnection: true, reconnectionDelay: 200, reconnectionDelayMax: 1000,
    });
    const c = { k, s, got: record(s), ids: [], drops: 0, synced: 0, history: null };
    s.on('connect', () => {
      c.ids.push(s.id);
      s.emit('sync', { author: 'nodekill-secret-' + k + '-abcdefgh', since: 0 });
    });
    s.on('disconnect', () => { c.drops++; });
    s.on('synced', async () => {
      c.synced++;
      if (c.drops === 0) return;
      try { // after a reconnect, the page reads what it missed
        const res = await fetch(spec.url + '/b/' + encodeURIComponent(spec.board) + '/history.ndjson?since=0');
        const text = await res.text();
        c.history = text.split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l).seq);
      } catch (err) {
        c.history = String(err);
      }
    });
    clients.push(c);
  }
  if (!await until(() => clients.every((c) => c.synced > 0), 10000)) throw new Error('not all clients synced within 10 s');
  const killed = new Promise((resolve) => {
    readline.createInterface({ input: process.stdin }).on('line', (l) => { if (l.trim() === 'killed') resolve(); });
  });
  process.stdout.write(JSON.stringify({ ready: true, ids: clients.map((c) => c.s.id) }) + '\n');
  await killed;
  const killedAt = Date.now();
  const dropped = () => clients.filter((c) => c.drops > 0);
  await until(() => dropped().length > 0, 10000);
  const gone = () => dropped().map((c) => c.ids[0]);
  await until(() => clients.every((c) => c.drops === 0
    ? gone().every((id) => c.got.some((e) => e.event === 'clientdisconnect' && e.data === id))
    : c.history !== null), 15000);
  await sleep(1500); // anything announced twice arrives by now
  const out = clients.map((c) => ({
    k: c.k,
    ids: c.ids,
    drops: c.drops,
    history: c.history,
    disconnects: c.got.filter((e) => e.event === 'clientdisconnect').map((e) => e.data),
    after: c.got.filter((e) => e.event === 'clientdisconnect').map((e) => e.t - killedAt), // ms, for the log
  }));
  for (const c of clients) c.s.disconnect();
  return out;
});
