'use strict';
// Board names in the handshake query, with socket.io-client 4.x.
// usage: node e2e/boards.js URL
// Prints, for each name, whether the socket connected or the connect_error message.
const { connect, connectError, main } = require('./lib');

const url = process.argv[2];
const names = [
  // refused
  'bad name!', 'a/b', 'x'.repeat(65), 'ü', 'a.b', '../etc', '<script>', 'tab\tname',
  // accepted
  'x'.repeat(64), 'A-z_0-9', 'x', '-',
];

main(async () => {
  const results = [];
  for (const board of names) {
    const s = connect(url, { board, transports: ['websocket'] });
    const r = await connectError(s);
    s.disconnect();
    results.push({ board, ...r });
  }
  return { results };
});
