'use strict';
// clientdisconnect, counted, when a socket leaves in different ways.
// usage: node e2e/disconnect.js URL FIRST_WITHIN_MS CASE...
// CASE is how:transport, how one of
//   disconnect  socket.disconnect() (a clean leave)
//   destroy     destroy the TCP connection under the websocket (no close frame)
//   kill        SIGKILL a child process holding the socket (a closed tab, a crash)
// For each case a watcher on the subject's board and one on another board
// count what they receive for FIRST_WITHIN_MS after the leave, and for one
// more second after the first clientdisconnect.
const { spawn } = require('child_process');
const path = require('path');
const readline = require('readline');
const { connect, connected, until, sleep, record, main } = require('./lib');

const [url, firstWithin, ...cases] = process.argv.slice(2);
const WINDOW_MS = 1000;

// child starts e2e/client.js and resolves with the process and its socket id.
function child(opts) {
  const p = spawn(process.execPath, [path.join(__dirname, 'client.js'), url, JSON.stringify(opts)],
    { stdio: ['pipe', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('child did not connect')), 10000);
    readline.createInterface({ input: p.stdout }).on('line', (line) => {
      const m = JSON.parse(line);
      if (m.event === 'connect') { clearTimeout(timer); resolve({ p, id: m.id }); }
      if (m.event === 'connect_error') { clearTimeout(timer); reject(new Error('child: ' + m.message)); }
    });
  });
}

async function run(c, i) {
  const [how, transport] = c.split(':');
  const board = 'dc_' + i, other = 'dc_other_' + i;
  const w = connect(url, { board, transports: ['websocket'] });
  const o = connect(url, { board: other, transports: ['websocket'] });
  const gotW = record(w), gotO = record(o);
  await Promise.all([connected(w), connected(o)]);
  const opts = { board, transports: [transport] };
  let id, leave;
  if (how === 'kill') {
    const { p, id: cid } = await child(opts);
    id = cid;
    leave = () => p.kill('SIGKILL');
  } else {
    const s = connect(url, opts);
    await connected(s);
    id = s.id;
    if (how === 'disconnect') leave = () => s.disconnect();
    else if (how === 'destroy') leave = () => s.io.engine.transport.ws._socket.destroy();
    else throw new Error('unknown case ' + c);
  }
  const t0 = Date.now();
  leave();
  const mine = () => gotW.filter((e) => e.event === 'clientdisconnect' && e.data === id);
  const arrived = await until(() => mine().length > 0, +firstWithin);
  if (arrived) await sleep(WINDOW_MS);
  const result = {
    case: c, id, arrived,
    firstAfterMs: arrived ? mine()[0].t - t0 : null,
    count: mine().length,
    watcherGot: gotW.map(({ event, data }) => ({ event, data })),
    otherBoardGot: gotO.map(({ event, data }) => ({ event, data })),
  };
  w.disconnect(); o.disconnect();
  return result;
}

main(async () => ({ results: await Promise.all(cases.map(run)) }));
