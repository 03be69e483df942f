'use strict';
// Connection refusals as the official socket.io-client 4.x sees them.
// usage: node e2e/limits/refusals.js URL SCENARIO
// The Go test starts the server with the matching limit (limits_test.go) and
// judges the printed JSON; this script only connects and reports.
//
// Every attempt is reported as {connected, error, events, disconnect}: error is
// the connect_error message; events and disconnect are what a socket saw in its
// first moments after connecting (a refusal sent after "connect" shows there).
const { io } = require('socket.io-client');
const { sleep, main } = require('../lib');

const [url, scenario] = process.argv.slice(2);

// open starts one socket: a fresh Engine.IO connection, no reconnection.
// opts: board, transports, localAddress (the source IP, websocket only).
function open(opts = {}) {
  const o = { forceNew: true, reconnection: false, timeout: 10000 };
  o.transports = opts.transports || ['websocket'];
  if (opts.board !== undefined) o.query = { board: opts.board };
  if (opts.localAddress) o.localAddress = opts.localAddress;
  return io(url, o);
}

// attempt opens a socket and resolves once it is known whether it connected;
// a connected socket is watched for settleMs more, then left open.
function attempt(opts = {}, settleMs = 0) {
  const s = open(opts);
  const r = { connected: false, error: null, events: [], disconnect: null };
  s.onAny((event, arg) => r.events.push({ event, arg }));
  s.on('disconnect', (reason) => { r.disconnect = reason; });
  return new Promise((resolve) => {
    const timer = setTimeout(() => { r.error = 'timeout: neither connect nor connect_error'; resolve({ s, r }); }, 10000);
    s.once('connect', async () => {
      clearTimeout(timer);
      r.connected = true;
      if (settleMs > 0) await sleep(settleMs);
      resolve({ s, r });
    });
    s.once('connect_error', (err) => {
      clearTimeout(timer);
      r.error = String(err && err.message);
      resolve({ s, r });
    });
  });
}

// retry attempts until a socket connects, at most tries times, pausing
// between tries; it reports the last attempt and how many it took.
async function retry(opts, tries, pauseMs) {
  let last;
  for (let i = 1; i <= tries; i++) {
    last = await attempt(opts);
    if (last.r.connected) return { ...last.r, tries: i };
    last.s.close();
    await sleep(pauseMs);
  }
  return { ...last.r, tries };
}

const report = ({ r }) => r;

const scenarios = {
  // Server started with MaxConnections = 3.
  async 'server-full'() {
    const held = [];
    for (let i = 0; i < 3; i++) held.push(await attempt());
    const refusedWebsocket = await attempt();
    const refusedPolling = await attempt({ transports: ['polling'] });
    held[0].s.close(); // frees one slot once the server sees the close
    const afterRelease = await retry({}, 40, 250);
    return { held: held.map(report), refusedWebsocket: refusedWebsocket.r, refusedPolling: refusedPolling.r, afterRelease };
  },

  // Server started with MaxConnectionsPerIP = 2.
  async 'per-ip'() {
    const held = [await attempt(), await attempt()];
    const refusedWebsocket = await attempt();
    const refusedPolling = await attempt({ transports: ['polling'] });
    const otherAddress = await attempt({ localAddress: '127.0.0.2' });
    held[0].s.close();
    const afterRelease = await retry({}, 40, 250);
    return { held: held.map(report), refusedWebsocket: refusedWebsocket.r, refusedPolling: refusedPolling.r, otherAddress: otherAddress.r, afterRelease };
  },

  // Server started with HandshakesPerIPPerSecond = 1: six sockets at once
  // from one address, one from another address at the same moment.
  async 'handshake-rate'() {
    const burst = await Promise.all([
      ...Array.from({ length: 6 }, () => attempt()),
      attempt({ localAddress: '127.0.0.2' }),
    ]);
    const other = burst.pop();
    const later = await retry({}, 10, 1100); // the bucket refills at 1 per second
    return { burst: burst.map(report), otherAddress: other.r, later };
  },

  // Default limits: board names in the handshake query, both transports.
  async 'board-names'() {
    const cases = [
      { board: 'bad name!', transports: ['websocket'] },
      { board: 'bad name!', transports: ['polling'] },
      { board: 'x'.repeat(65), transports: ['websocket'] },
      { board: 'x'.repeat(65), transports: ['polling'] },
      { board: 'y'.repeat(4000), transports: ['websocket'] },
      { board: 'x'.repeat(64), transports: ['websocket'] },
      { board: 'x'.repeat(64), transports: ['polling'] },
    ];
    const results = [];
    for (const c of cases) {
      const a = await attempt(c);
      results.push({ board: c.board, transport: c.transports[0], ...a.r });
      a.s.close();
    }
    return { results };
  },

  // Server started with MaxBoards = 2.
  async 'max-boards'() {
    const a = await attempt({ board: 'a' }, 300);
    const b = await attempt({ board: 'b' }, 300);
    const third = await attempt({ board: 'c' }, 1000);
    const thirdPolling = await attempt({ board: 'd', transports: ['polling'] }, 1000);
    const existing = await attempt({ board: 'a' }, 300); // joining an open board is always fine
    third.s.close();
    thirdPolling.s.close();
    a.s.close();
    existing.s.close(); // board "a" is empty now, so there is room for "c"
    const afterRelease = await retry({ board: 'c' }, 40, 250);
    return { a: a.r, b: b.r, third: third.r, thirdPolling: thirdPolling.r, existing: existing.r, afterRelease };
  },

  // The server is shutting down (or shut down) when this runs.
  async 'shutting-down'() {
    const websocket = await attempt({}, 300);
    const polling = await attempt({ transports: ['polling'] }, 300);
    return { websocket: websocket.r, polling: polling.r };
  },
};

if (!url || !scenarios[scenario]) {
  console.error('usage: refusals.js URL ' + Object.keys(scenarios).join('|'));
  process.exit(2);
}
main(scenarios[scenario]);
