"""The shop's ledger in Postgres: one row per processed job. Python's standard library has no
Postgres driver, so this talks through `psql` (postgresql-client), with the connection from
DB_URL, which `provision` hands to every service linked to `db`. Values travel as psql
variables (`:'name'` is quoted by psql itself), never spliced into SQL.

Without DB_URL or without psql (the slim container image has none), the ledger is off and
says so once; the app keeps working on Redis alone.
"""

import os
import shutil
import subprocess

SCHEMA = "CREATE TABLE IF NOT EXISTS processed (id text PRIMARY KEY, path text, at timestamptz DEFAULT now());"


class Ledger:
    def __init__(self, name):
        self.url = os.environ.get("DB_URL")
        self.psql = shutil.which("psql")
        self.name = name
        if not self.url or not self.psql:
            why = "DB_URL is not set" if not self.url else "psql is not installed"
            print(f"{name}: ledger off ({why})", flush=True)
            self.url = None

    def _run(self, sql, **variables):
        args = [self.psql, self.url, "-X", "-q", "-tA", "-v", "ON_ERROR_STOP=1"]
        for key, value in variables.items():
            args += ["-v", f"{key}={value}"]
        # `-c` does not expand variables; a script on stdin does.
        done = subprocess.run(args + ["-f", "-"], input=sql, capture_output=True, text=True, timeout=30)
        if done.returncode != 0:
            raise RuntimeError(done.stderr.strip() or f"psql exited with {done.returncode}")
        return done.stdout.strip()

    def record(self, job_id, path):
        """Records a processed job; returns how many the ledger holds, or None when off."""
        if not self.url:
            return None
        return int(self._run(
            SCHEMA + "INSERT INTO processed (id, path) VALUES (:'id', :'path') ON CONFLICT DO NOTHING;"
            "SELECT count(*) FROM processed;",
            id=job_id, path=path))

    def count(self):
        if not self.url:
            return None
        return int(self._run(SCHEMA + "SELECT count(*) FROM processed;"))
