// node-redis (redis): createClient({url}) with rediss:// sets socket.tls=true and connects with
// tls.connect() (certificate and host name checked; CA from Node's default list, which
// NODE_EXTRA_CA_CERTS extends). reconnectStrategy:false only makes a failure final.
// https://github.com/redis/node-redis/blob/master/docs/client-configuration.md
// https://redis.io/docs/latest/develop/clients/nodejs/connect/#connect-to-your-production-redis-with-tls
'use strict';
const tls = require('node:tls');
const { createClient } = require('redis');
const { link, run } = require('./_cell');

// Keep the sockets the client opens with TLS, to report the cipher.
const tlsSockets = [];
const tlsConnect = tls.connect;
tls.connect = (...args) => {
  const socket = tlsConnect(...args);
  tlsSockets.push(socket);
  return socket;
};

run('node-redis', async (prefix) => {
  const client = createClient({ url: link(prefix, 'URL'), socket: { reconnectStrategy: false } });
  let lastError;
  client.on('error', (e) => { lastError = e; });
  try {
    await client.connect();
  } catch (e) {
    throw lastError || e;
  }
  try {
    const key = `provision-client-matrix:${process.pid}`;
    await client.set(key, 'ok', { EX: 60 });
    if ((await client.get(key)) !== 'ok') throw new Error('GET did not return what SET stored');
    const socket = tlsSockets.find((s) => s.encrypted && !s.destroyed);
    const cipher = socket && socket.getCipher();
    return { encrypted: Boolean(socket), detail: cipher ? `${cipher.version} ${cipher.name}` : '' };
  } finally {
    await client.quit();
  }
});
