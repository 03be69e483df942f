'use strict';
// Shared helpers for the end-to-end scripts: they drive the real, official
// socket.io clients against a running server and print one JSON object on
// stdout for the Go test to judge. The scripts measure; the Go tests assert.

const { io } = require('socket.io-client');
const ioV2 = require('socket.io-client-v2');

// connect opens a fresh socket (no multiplexing, no reconnection, so every
// socket is one Engine.IO connection and one disconnect is final).
// opts: board (handshake query; undefined = none), transports, version (4 or 2).
function connect(url, opts = {}) {
  const o = { forceNew: true, reconnection: false, timeout: 10000 };
  if (opts.transports) o.transports = opts.transports;
  if (opts.board !== undefined) o.query = { board: opts.board };
  return opts.version === 2 ? ioV2(url, o) : io(url, o);
}

// connected resolves once socket is connected; rejects on a connect error or
// after ms.
function connected(socket, ms = 10000) {
  if (socket.connected) return Promise.resolve(socket);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no connect within ' + ms + ' ms')), ms);
    socket.once('connect', () => { clearTimeout(timer); resolve(socket); });
    const fail = (err) => { clearTimeout(timer); reject(new Error('connect failed: ' + (err && err.message || err))); };
    socket.once('connect_error', fail);
    socket.once('error', fail); // socket.io-client 2.x reports middleware errors as 'error'
  });
}

// connectError resolves with the connect_error message, or null if the
// socket connected instead, or 'timeout'.
function connectError(socket, ms = 10000) {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve({ connected: false, error: 'timeout' }), ms);
    socket.once('connect', () => { clearTimeout(timer); resolve({ connected: true, error: null }); });
    socket.once('connect_error', (err) => { clearTimeout(timer); resolve({ connected: false, error: String(err && err.message) }); });
  });
}

// until polls cond every few milliseconds; resolves true as soon as it holds,
// false when ms have passed.
function until(cond, ms) {
  const deadline = Date.now() + ms;
  return new Promise((resolve) => {
    const tick = () => {
      if (cond()) return resolve(true);
      if (Date.now() >= deadline) return resolve(false);
      setTimeout(tick, 5);
    };
    tick();
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// record keeps every event a socket receives, in arrival order.
function record(socket) {
  const got = [];
  const keep = (event, data) => got.push({ event, data, t: Date.now() });
  if (typeof socket.onAny === 'function') {
    socket.onAny((event, ...args) => keep(event, args[0]));
  } else { // socket.io-client 2.x has no onAny: wrap its packet handler
    const onevent = socket.onevent;
    socket.onevent = function (packet) {
      const args = packet.data || [];
      keep(args[0], args[1]);
      return onevent.call(this, packet);
    };
  }
  return got;
}

// main runs fn, prints its result as one JSON line and exits (a socket left
// open must not keep the script alive past its answer).
function main(fn) {
  fn().then(
    (result) => { process.stdout.write(JSON.stringify(result) + '\n', () => process.exit(0)); },
    (err) => { process.stderr.write(String(err && err.stack || err) + '\n', () => process.exit(1)); },
  );
}

module.exports = { connect, connected, connectError, until, sleep, record, main };
