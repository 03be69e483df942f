'use strict';
// Cursor moves across an outage, with the official client: node
// cluster/moves.js <spec JSON>. spec: {urls: [...], board, senders,
// receivers, every}. On each url, `senders` clients send a numbered move
// every `every` ms and `receivers` clients only listen. Once every node
// knows every member it prints {"ready": true}; it sends until a line
// "stop" arrives on stdin, waits a little for late or repeated arrivals,
// then prints what was sent and received, with times (ms since the epoch).
// The Go test makes the outage and judges.
const readline = require('readline');
const { connect, connected, until, sleep, record, main } = require('../lib');

main(async () => {
  const spec = JSON.parse(process.argv[2]);
  const clients = [];
  spec.urls.forEach((url, node) => {
    for (let k = 0; k < spec.senders + spec.receivers; k++) {
      const s = connect(url, { board: spec.board, transports: ['websocket'] });
      clients.push({ node, sender: k < spec.senders, s, got: record(s), sent: [] });
    }
  });
  await Promise.all(clients.map((c) => connected(c.s)));
  for (const url of spec.urls) { // as relay.js: wait until each node counts everyone
    const probe = connect(url, { board: spec.board, transports: ['websocket'] });
    const got = record(probe);
    await connected(probe);
    probe.emit('hello', { name: 'probe', color: '#123456' });
    if (!await until(() => got.some((e) => e.event === 'presence' && e.data.count >= clients.length), 10000)) {
      throw new Error('the nodes did not learn of each other\'s members within 10 s');
    }
    probe.disconnect();
  }
  const stop = new Promise((resolve) => {
    readline.createInterface({ input: process.stdin }).on('line', (l) => { if (l.trim() === 'stop') resolve(); });
  });
  process.stdout.write(JSON.stringify({ ready: true }) + '\n');

  let sending = true;
  const senders = clients.filter((c) => c.sender);
  const loops = senders.map(async (c) => {
    for (let n = 0; sending; n++) {
      c.sent.push(Date.now());
      c.s.emit('mousemove', { x: n % 2000, y: c.node, drawing: false, n });
      await sleep(spec.every);
    }
  });
  await stop;
  sending = false;
  await Promise.all(loops);
  await sleep(1500);
  const out = {
    clients: clients.map((c) => ({
      node: c.node,
      id: c.s.id,
      sender: c.sender,
      sent: c.sent,
      moving: c.got.filter((e) => e.event === 'moving').map((e) => [e.data.id, e.data.n, e.t]),
    })),
  };
  for (const c of clients) c.s.disconnect();
  return out;
});
