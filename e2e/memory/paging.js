'use strict';
// A big board's history, and that it never stalls anyone else.
// usage: node e2e/memory/paging.js fill URL board MEGABYTES
//   Draws max-size pieces (256 points, 64 per draw event) from several
//   synced sockets, well under the rate limit, until the pieces make at
//   least MEGABYTES of history; waits for every ack. Prints head and sizes.
// usage: node e2e/memory/paging.js roundtrip URL bigBoard smallBoard
//   Run while the Go test holds a history.ndjson response of bigBoard open
//   and unread: a sync/draw/ack round trip on smallBoard and on bigBoard,
//   and a small history read. Prints what each returned.
const L = require('./lib');

const [mode, url, board, arg] = process.argv.slice(2);

async function fill(mb) {
  const sockets = 4;
  const clients = [];
  for (let k = 0; k < sockets; k++) {
    clients.push(await new L.SyncClient(url, { board, transports: ['websocket'], name: 'W' + k }).connect());
  }
  const rand = L.rng(4242);
  const coord = (max) => Math.round(rand() * max * 1000) / 1000;
  const target = mb * 1024 * 1024;
  let bytes = 0, events = 0, pieces = 0;
  while (bytes < target) {
    const c = clients[events % sockets];
    const stroke = 'pagingStroke' + String(events).padStart(4, '0');
    const batch = [];
    for (let i = 0; i < 64; i++) {
      const points = [];
      for (let p = 0; p < 256; p++) points.push(coord(2000), coord(1000));
      const piece = { stroke, i, color: '#0f766e', width: 2, points };
      batch.push(piece);
      bytes += JSON.stringify(piece).length + 60; // + seq, time, type, author
    }
    c.draw(batch);
    events++;
    pieces += batch.length;
    // Each socket sends at most one event per 50 ms: 20/s, far under 60/s.
    if (events % sockets === 0) await L.sleep(50);
  }
  const acked = await L.until(() => clients.every((c) => c.pending.size === 0), 60000);
  const head = Math.max(...clients.map((c) => c.have));
  const rejected = clients.flatMap((c) => c.rejected);
  for (const c of clients) c.drop();
  return { board, events, pieces, estimatedBytes: bytes, acked, head, rejected, pending: clients.map((c) => c.pending.size) };
}

async function roundtrip(small) {
  const t = (c) => c.socket.io.engine.transport.name;
  const S = await new L.SyncClient(url, { board: small, transports: ['websocket'], name: 'S' }).connect();
  const syncedSmall = S.synceds[0];
  S.draw([{ stroke: 'smallStroke1', i: 0, color: '#a21caf', width: 6, points: [1, 2, 3, 4] }]);
  const smallAcked = await S.waitAcked(20000);
  const smallHistory = await L.fetchHistory(url, small, 0);
  const B = await new L.SyncClient(url, { board, transports: ['polling'], name: 'B' });
  await B.connect({ sync: false });
  B.socket.emit('sync', { author: B.secret, since: 1 << 30 }); // it has "everything": no history fetch
  await L.until(() => B.synceds.length > 0, 20000);
  B.author = B.synceds[0] && B.synceds[0].author;
  B.have = (B.synceds[0] && B.synceds[0].head) || 0; // and does not fetch the big history
  B.draw([{ stroke: 'bigStroke0001', i: 0, color: '#a21caf', width: 6, points: [5, 6, 7, 8] }]);
  const bigAcked = await L.until(() => B.pending.size === 0, 20000);
  const bigAck = B.ops().find((o) => o.stroke === 'bigStroke0001') || null;
  return {
    syncedSmall, smallAcked, smallAck: S.ops(), smallHistory: smallHistory.ops, smallTransport: t(S),
    syncedBig: B.synceds[0] || null, bigAcked, bigAck, rejected: [...S.rejected, ...B.rejected],
  };
}

if (mode === 'fill' && url && board && Number(arg) > 0) L.main(() => fill(Number(arg)));
else if (mode === 'roundtrip' && url && board && arg) L.main(() => roundtrip(arg));
else {
  console.error('usage: paging.js fill URL board MEGABYTES | paging.js roundtrip URL bigBoard smallBoard');
  process.exit(2);
}
