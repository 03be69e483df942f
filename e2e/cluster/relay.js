'use strict';
// Cross-node relay with the official client: node cluster/relay.js
// <spec JSON>. spec: {urls: [...], board, other, transports: [[...]...],
// clients, senders, moves}. Client k connects to urls[k % urls.length] with
// transports[k % transports.length]. Senders each send `moves` numbered
// moves; one extra client sits on the board `other` (isolation). Then the
// first client on the last url says hello and reads presence, and the last
// sender disconnects. Prints what every client received; the Go test judges.
const { io } = require('socket.io-client');
const { connected, until, sleep, record, main } = require('../lib');

// connect: like lib.connect, plus cookies (spec.cookies) so that a load
// balancer's sticky-session cookie is sent back, as a browser would.
let cookies = false;
function connect(url, opts) {
  const o = { forceNew: true, reconnection: false, timeout: 10000, query: { board: opts.board }, withCredentials: cookies };
  if (opts.transports) o.transports = opts.transports;
  return io(url, o);
}

main(async () => {
  const spec = JSON.parse(process.argv[2]);
  cookies = !!spec.cookies;
  const clients = [];
  for (let k = 0; k < spec.clients; k++) {
    const url = spec.urls[k % spec.urls.length];
    const transports = spec.transports[k % spec.transports.length];
    const s = connect(url, { board: spec.board, transports });
    clients.push({ k, url, s, got: record(s) });
  }
  const outsider = connect(spec.urls[0], { board: spec.other, transports: spec.transports[0] });
  const outsiderGot = record(outsider);
  await Promise.all([...clients.map((c) => connected(c.s)), connected(outsider)]);
  // Every node must know every member before moves start: wait until a
  // presence list (asked on a throwaway socket per node) counts everyone.
  for (const url of spec.urls) {
    const probe = connect(url, { board: spec.board, transports: spec.transports[0] });
    const got = record(probe);
    await connected(probe);
    probe.emit('hello', { name: 'probe', color: '#123456' });
    const want = spec.clients; // everyone but the probe itself
    await until(() => got.some((e) => e.event === 'presence' && e.data.count >= want), 10000);
    probe.disconnect();
  }
  await sleep(300);

  const senders = clients.slice(0, spec.senders);
  for (let n = 0; n < spec.moves; n++) {
    for (const c of senders) c.s.emit('mousemove', { x: n, y: c.k, drawing: n % 2 === 0 });
    await sleep(5);
  }
  const expected = spec.moves * (spec.senders - 1) + 0; // for a sender: the others' moves
  await until(() => clients.every((c) => {
    const moving = c.got.filter((e) => e.event === 'moving').length;
    return moving >= (c.k < spec.senders ? expected : spec.moves * spec.senders);
  }), 15000);

  const asker = clients.find((c) => c.url === spec.urls[spec.urls.length - 1]);
  asker.s.emit('hello', { name: 'asker', color: '#abcdef' });
  await until(() => asker.got.some((e) => e.event === 'presence'), 5000);

  const leaver = senders[senders.length - 1];
  const leaverId = leaver.s.id;
  leaver.s.disconnect();
  await until(() => clients.every((c) => c === leaver || c.got.some((e) => e.event === 'clientdisconnect' && e.data === leaverId)), 10000);
  await sleep(500); // anything delivered twice arrives by now

  const out = {
    ids: clients.map((c) => c.s.id || leaverId),
    senders: senders.map((c) => c.k),
    leaver: leaverId,
    clients: clients.map((c) => ({
      k: c.k,
      url: c.url,
      transport: c.s.io.engine ? c.s.io.engine.transport.name : null,
      moving: c.got.filter((e) => e.event === 'moving').map((e) => [e.data.id, e.data.x, e.data.y, e.data.drawing]),
      disconnects: c.got.filter((e) => e.event === 'clientdisconnect').map((e) => e.data),
      presence: c.got.filter((e) => e.event === 'presence').map((e) => e.data),
      events: [...new Set(c.got.map((e) => e.event))],
    })),
    outsider: outsiderGot.map((e) => e.event),
  };
  for (const c of clients) c.s.disconnect();
  outsider.disconnect();
  return out;
});
