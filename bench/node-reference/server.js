// The original drawing server's relay, as the benchmark's reference: express
// serves the page, socket.io relays every mousemove to everyone else.
// Usage: node server.js [-addr HOST:PORT] [-public DIR]
'use strict';

const http = require('http');
const path = require('path');
const express = require('express');
const { Server } = require('socket.io');

function flag(name, def) {
  const i = process.argv.indexOf(name);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : def;
}

const addr = flag('-addr', process.env.ADDR || '127.0.0.1:8080');
const sep = addr.lastIndexOf(':');
const host = addr.slice(0, sep) || '127.0.0.1';
const port = Number(addr.slice(sep + 1));
const publicDir = flag('-public', path.join(__dirname, '..', '..', 'public'));

const app = express();
app.use(express.static(publicDir));
const server = http.createServer(app);
const io = new Server(server);

io.on('connection', (socket) => {
  socket.on('mousemove', (data) => {
    socket.broadcast.emit('moving', { ...data, id: socket.id });
  });
  socket.on('disconnect', () => {
    socket.broadcast.emit('clientdisconnect', socket.id);
  });
});

server.listen(port, host, () => {
  console.log(`node reference listening on http://${host}:${port}`);
});

function shutdown() {
  io.close();
  server.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 2000).unref();
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
