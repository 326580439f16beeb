// ioredis: new Redis("rediss://...") sets tls:true and connects with tls.connect() (certificate
// and host name checked; CA from Node's default list, which NODE_EXTRA_CA_CERTS extends).
// lazyConnect/retryStrategy/maxRetriesPerRequest only make a failure final.
// https://github.com/redis/ioredis#connect-to-redis  https://github.com/redis/ioredis#tls-options
'use strict';
const Redis = require('ioredis');
const { link, run } = require('./_cell');

run('ioredis', async (prefix) => {
  const client = new Redis(link(prefix, 'URL'), {
    lazyConnect: true,
    retryStrategy: () => null,
    maxRetriesPerRequest: 0,
  });
  let lastError;
  client.on('error', (e) => { lastError = e; });
  try {
    await client.connect();
  } catch (e) {
    throw lastError || e;
  }
  try {
    const key = `provision-client-matrix:${process.pid}`;
    await client.set(key, 'ok', 'EX', 60);
    if ((await client.get(key)) !== 'ok') throw new Error('GET did not return what SET stored');
    const socket = client.stream; // a tls.TLSSocket for rediss://
    const cipher = socket && socket.encrypted && socket.getCipher();
    return { encrypted: Boolean(cipher), detail: cipher ? `${cipher.version} ${cipher.name}` : '' };
  } finally {
    client.disconnect();
  }
});
