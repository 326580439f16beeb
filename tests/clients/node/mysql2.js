// mysql2: createConnection(url) parses the URL's query with JSON.parse, so
// ssl={"verifyIdentity":true} is the ssl option object (rejectUnauthorized defaults to true;
// the host name is checked only with verifyIdentity). Without ssl.ca the CA comes from Node's
// default list, which NODE_EXTRA_CA_CERTS extends.
// https://sidorares.github.io/node-mysql2/docs/examples/connections/create-connection#createconnectionconnectionuri
// https://sidorares.github.io/node-mysql2/docs/documentation/ssl
'use strict';
const mysql = require('mysql2/promise');
const { link, run } = require('./_cell');

run('mysql2', async (prefix) => {
  const conn = await mysql.createConnection(link(prefix, 'URL'));
  try {
    const [rows] = await conn.query("SHOW SESSION STATUS LIKE 'Ssl_cipher'");
    const cipher = rows.length ? rows[0].Value : '';
    return { encrypted: Boolean(cipher), detail: cipher };
  } finally {
    await conn.end();
  }
});
