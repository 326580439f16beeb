// node-postgres (pg): new Client({connectionString}) parses the URL with pg-connection-string;
// sslmode=verify-full turns TLS on with the host name checked, and sslrootcert=<file> is read as
// the CA (replacing Node's CA list).
// https://node-postgres.com/features/ssl  https://node-postgres.com/apis/client
// https://github.com/brianc/node-postgres/tree/master/packages/pg-connection-string#tcp-connections
'use strict';
const { Client } = require('pg');
const { link, run } = require('./_cell');

const SSL_QUERY = 'SELECT ssl, version, cipher FROM pg_stat_ssl WHERE pid = pg_backend_pid()';

run('node-pg', async (prefix) => {
  const client = new Client({ connectionString: link(prefix, 'URL') });
  await client.connect();
  try {
    const { ssl, version, cipher } = (await client.query(SSL_QUERY)).rows[0];
    return { encrypted: ssl, detail: ssl ? `${version} ${cipher}` : '' };
  } finally {
    await client.end();
  }
});
