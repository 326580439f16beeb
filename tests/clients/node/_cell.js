// Shared by the Node cells of the client matrix: read the link, print one JSON line.
// A cell's check(prefix) connects with the link's URL exactly as given and resolves to
// {encrypted, detail}. run() prints {"client","ok":true,"encrypted","detail"} and exits 0, or
// {"client","ok":false,"error"} and exits 1, with the password and the URL blanked out.
'use strict';

const link = (prefix, name) => process.env[`${prefix}_${name}`] || '';

function redact(prefix, text) {
  const password = link(prefix, 'PASSWORD');
  for (const secret of [link(prefix, 'URL'), password, encodeURIComponent(password)]) {
    if (secret) text = text.split(secret).join('***');
  }
  return text.replace(/\s+/g, ' ').trim().slice(0, 1000);
}

function errorText(e) {
  // AggregateError (several addresses tried) hides the real errors in .errors
  const parts = [e && (e.message || e.code || String(e))];
  for (const inner of (e && e.errors) || []) parts.push(inner.message || String(inner));
  return parts.filter(Boolean).join('; ') || String(e);
}

async function run(client, check) {
  const prefix = process.argv[2];
  let line;
  try {
    const { encrypted, detail } = await check(prefix);
    line = { client, ok: true, encrypted: Boolean(encrypted), detail };
  } catch (e) {
    line = { client, ok: false, error: redact(prefix, errorText(e)) };
  }
  process.stdout.write(JSON.stringify(line) + '\n', () => process.exit(line.ok ? 0 : 1));
}

module.exports = { link, run };
