'use strict';
// socket.io-client 2.x (Engine.IO v3) next to socket.io-client 4.x on one board.
// usage: node e2e/compat-v2.js URL default|websocket|polling
// Old (2.x) and New (4.x) each send 5 mousemoves; then Old disconnects.
const { connect, connected, until, sleep, record, main } = require('./lib');

const [url, mode] = process.argv.slice(2);
const transports = { websocket: ['websocket'], polling: ['polling'], default: undefined }[mode];
const board = 'compat_' + mode;

main(async () => {
  const oldc = connect(url, { version: 2, board, transports });
  const newc = connect(url, { version: 4, board });
  const gotOld = record(oldc), gotNew = record(newc);
  await Promise.all([connected(oldc), connected(newc)]);
  const sentOld = [], sentNew = [];
  for (let i = 0; i < 5; i++) {
    const a = { x: i, y: 10 + i, drawing: true, seq: i, from: 'v2' };
    const b = { x: -i, y: 0.25, drawing: false, seq: i, from: 'v4' };
    sentOld.push(a); sentNew.push(b);
    oldc.emit('mousemove', a);
    newc.emit('mousemove', b);
  }
  const n = (got) => got.filter((e) => e.event === 'moving').length;
  const complete = await until(() => n(gotOld) >= 5 && n(gotNew) >= 5, 10000);
  await sleep(300);
  const ids = { old: oldc.id, new: newc.id };
  const transport = { old: oldc.io.engine.transport.name, new: newc.io.engine.transport.name };
  oldc.disconnect();
  await until(() => gotNew.some((e) => e.event === 'clientdisconnect'), 10000);
  await sleep(500); // a second clientdisconnect would come now
  const strip = (got) => got.map(({ event, data }) => ({ event, data }));
  return { mode, complete, ids, transport, sentOld, sentNew, gotOld: strip(gotOld), gotNew: strip(gotNew) };
});
