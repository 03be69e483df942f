'use strict';
// Tokens with the official client: node access/tokens.js <url> <spec JSON>.
// spec: {cases: [{name, board, token, v2}], named: {board, token},
// viewer: {board, token}}. Each case connects with auth {token} (socket.io
// 4; 2.x puts it in the query) and reports whether it connected or the
// connect_error message. Then the named holder says hello with another
// name and a watcher reads presence; then the viewer (a view-only token)
// tries to draw. Prints what happened; the Go test judges.
const { io } = require('socket.io-client');
const ioV2 = require('socket.io-client-v2');
const { connected, connectError, until, sleep, record, main } = require('../lib');

function dial(url, { board, token, v2 }) {
  const o = { forceNew: true, reconnection: false, timeout: 10000, query: { board } };
  if (v2) {
    if (token) o.query.token = token;
    return ioV2(url, o);
  }
  if (token) o.auth = { token };
  return io(url, o);
}

// outcome is {connected, error} for a socket.io 4 or 2 client.
function outcome(s, v2) {
  if (!v2) return connectError(s);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve({ connected: false, error: 'timeout' }), 10000);
    s.once('connect', () => { clearTimeout(timer); resolve({ connected: true, error: null }); });
    s.once('error', (e) => { clearTimeout(timer); resolve({ connected: false, error: String(e && e.message || e) }); });
  });
}

main(async () => {
  const url = process.argv[2];
  const spec = JSON.parse(process.argv[3]);
  const out = { cases: {} };
  for (const c of spec.cases) {
    const s = dial(url, c);
    out.cases[c.name] = await outcome(s, c.v2);
    s.close();
  }

  // A token's name is who you are: hello cannot change it.
  const holder = dial(url, spec.named);
  const watcher = dial(url, { board: spec.named.board, token: spec.named.token });
  const seen = record(watcher);
  await Promise.all([connected(holder), connected(watcher)]);
  watcher.emit('hello', { name: '', color: '#00ff00' });
  await until(() => seen.some((e) => e.event === 'presence'), 5000);
  holder.emit('hello', { name: 'Mallory', color: '#ff0000' });
  await until(() => seen.some((e) => e.event === 'presence') && seen.some((e) => e.event === 'joined' && e.data.id === holder.id && e.data.color === '#ff0000'), 5000);
  out.presenceNames = seen.filter((e) => e.event === 'presence').flatMap((e) => e.data.users.map((u) => u.name));
  out.joinedNames = seen.filter((e) => e.event === 'joined' && e.data.id === holder.id).map((e) => e.data.name);

  // A view-only token: its drawing is refused and reaches nobody.
  const viewer = dial(url, spec.viewer);
  const other = dial(url, { board: spec.viewer.board, token: spec.drawer.token });
  const viewerGot = record(viewer);
  const otherGot = record(other);
  await Promise.all([connected(viewer), connected(other)]);
  await sleep(200);
  viewer.emit('mousemove', { x: 1, y: 2, drawing: true });
  viewer.emit('mousemove', { x: 3, y: 4, drawing: false });
  viewer.emit('sync', { author: 'viewer-secret-000001', since: 0 });
  await until(() => viewerGot.some((e) => e.event === 'synced'), 5000);
  await sleep(1200); // rejected notices are throttled to one a second
  viewer.emit('draw', [{ stroke: 'viewer-stroke-1', i: 0, color: '#000000', width: 2, points: [1, 1, 2, 2] }]);
  await until(() => viewerGot.filter((e) => e.event === 'rejected').length >= 2, 5000);
  await sleep(300);
  out.viewerRejected = viewerGot.filter((e) => e.event === 'rejected').map((e) => e.data);
  out.viewerSynced = viewerGot.filter((e) => e.event === 'synced').map((e) => e.data);
  out.otherMoving = otherGot.filter((e) => e.event === 'moving').map((e) => e.data);
  for (const s of [holder, watcher, viewer, other]) s.close();
  return out;
});
