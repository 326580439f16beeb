"""Helper of tests/clients/cloud-shaped.sh (stdlib only; run with Debian's /usr/bin/python3).

  cloud_shaped.py plan WORK ENGINES CELL...   read the env JSON files, write WORK/plan/*
  cloud_shaped.py exec ENV_JSON CLIENT PREFIX RUN_SH [NAME=VALUE...]
                                              exec RUN_SH CLIENT PREFIX with exactly the env
  cloud_shaped.py report WORK                 matrix on stderr, the JSON document on stdout

ENGINES: "client=engine ..." (pg, my, kv), from lib.sh. CELL: ENV_JSON:CLIENT:PREFIX.
Errors: a message on stderr and exit 1 (plan: nothing is started yet).
"""
import hashlib
import ipaddress
import json
import os
import re
import sys
from urllib.parse import unquote

SYSTEM_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
WAYS = ("good", "other-ca", "no-tls")
NODE_CLIENTS = {"node-pg", "mysql2", "node-redis", "ioredis"}
# Query parameters of a URL that name a CA file (libpq, PyMySQL/Connector, libmariadb,
# pgjdbc, Connector/J).
URL_CA_PARAMS = {"sslrootcert", "ssl-ca", "ssl_ca", "sslca", "serversslcert"}
NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
HOST_RE = re.compile(rf"^{LABEL}(?:\.{LABEL})*$")


class Fail(Exception):
    pass


def load_env(path):
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError) as e:
        raise Fail(f"{path}: cannot read the env JSON: {e}")
    if not isinstance(data, dict):
        raise Fail(f"{path}: not a JSON object of NAME -> value")
    env = {}
    for k, v in data.items():
        if not NAME_RE.match(k):
            raise Fail(f"{path}: {k!r} is not an environment variable name")
        if isinstance(v, bool) or v is None or isinstance(v, (list, dict)):
            raise Fail(f"{path}: {k} is not a string")
        v = str(v)
        if "\0" in v:
            raise Fail(f"{path}: {k} holds a NUL byte")
        env[k] = v
    return env


def split_cell(cell):
    parts = cell.rsplit(":", 2)
    if len(parts) != 3 or not all(parts):
        raise Fail(f"cell {cell!r}: want ENV_JSON:CLIENT:PREFIX")
    return parts


def clean(what, value):
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise Fail(f"{what}: control characters are not supported")
    return value


def pg_ident(s):
    return '"' + s.replace('"', '""') + '"'


def pg_lit(s):
    return "'" + s.replace("'", "''") + "'"


def my_lit(s):
    return "'" + s.replace("\\", "\\\\").replace("'", "\\'") + "'"


def my_ident(s):
    return "`" + s.replace("`", "``") + "`"


def kv_hash(pw):
    return "#" + hashlib.sha256(pw.encode()).hexdigest()


def plan(work, engines_arg, cells):
    engines = dict(x.split("=", 1) for x in engines_arg.split())
    out = os.path.join(work, "plan")
    os.makedirs(out, exist_ok=True)
    envs = {}
    servers = {}  # (host, port) -> {"engine", "host", "port", "users": {user: (pw, [db])}}
    cell_rows = []
    notes = []
    for i, cell in enumerate(cells):
        path, client, prefix = split_cell(cell)
        if client not in engines:
            raise Fail(f"cell {cell!r}: unknown client {client!r} (one of: {' '.join(engines)})")
        if not NAME_RE.match(prefix):
            raise Fail(f"cell {cell!r}: bad PREFIX {prefix!r}")
        if "\t" in path or "\n" in path:
            raise Fail(f"cell {cell!r}: tabs and newlines in the path are not supported")
        engine = engines[client]
        if path not in envs:
            envs[path] = load_env(path)
        env = envs[path]

        def var(name, required=True):
            key = f"{prefix}_{name}"
            if key not in env and required:
                raise Fail(f"cell {cell!r}: {path} has no {key}")
            return clean(f"{path}: {key}", env.get(key, ""))

        var("URL")
        host = var("HOST")
        try:
            ipaddress.ip_address(host)
            raise Fail(f"cell {cell!r}: {prefix}_HOST is an address ({host}), not a name: "
                       "cloud-shaped.sh stands in for named cloud endpoints")
        except ValueError:
            pass
        if not HOST_RE.match(host) or host.lower() == "localhost":
            raise Fail(f"cell {cell!r}: {prefix}_HOST={host!r} is not a DNS name it can map")
        host = host.lower()
        port_s = var("PORT")
        if not port_s.isdigit() or not 0 < int(port_s) < 65536:
            raise Fail(f"cell {cell!r}: {prefix}_PORT={port_s!r} is not a port")
        port = int(port_s)
        password = var("PASSWORD")
        user = var("USERNAME", required=engine != "kv")
        db = ""
        if engine != "kv":
            if not user:
                raise Fail(f"cell {cell!r}: {prefix}_USERNAME is empty")
            db = var("PATH").lstrip("/")
            if not db or "/" in db:
                raise Fail(f"cell {cell!r}: {prefix}_PATH={var('PATH')!r} names no database")
        else:
            user = user or "default"
        key = (host, port)
        srv = servers.setdefault(key, {"engine": engine, "host": host, "port": port, "users": {}})
        if srv["engine"] != engine:
            raise Fail(f"{host}:{port} is used by {srv['engine']} and {engine} clients")
        if engine == "kv":
            srv["users"].setdefault(user, set()).add(password)
        else:
            old = srv["users"].get(user)
            if old and old[0] != password:
                raise Fail(f"{host}:{port}: two different passwords for user {user!r}")
            dbs = old[1] if old else []
            if db not in dbs:
                dbs.append(db)
            srv["users"][user] = (password, dbs)
        node_extra = client in NODE_CLIENTS and "NODE_EXTRA_CA_CERTS" not in env
        if node_extra:
            notes.append(f"{path}: no NODE_EXTRA_CA_CERTS: cell {client}:{prefix} gets the stand-in "
                         "public root in NODE_EXTRA_CA_CERTS (it stands in for Node's compiled-in roots)")
        cell_rows.append((i, path, client, prefix, engine, list(servers).index(key), int(node_extra)))

    # Host addresses: 127.0.0.1 unless two hosts share a port, then 127.0.0.2, ...
    hosts = {}
    taken = {}  # n -> set of ports
    for (host, port), srv in servers.items():
        if host in hosts:
            continue
        ports = {p for (h, p) in servers if h == host}
        n = 1
        while taken.get(n, set()) & ports:
            n += 1
        taken.setdefault(n, set()).update(ports)
        hosts[host] = f"127.0.0.{n}"

    with open(os.path.join(out, "servers.tsv"), "w") as f:
        for n, srv in enumerate(servers.values()):
            f.write(f"{n}\t{srv['engine']}\t{srv['host']}\t{srv['port']}\t{hosts[srv['host']]}\n")
            users = srv["users"]
            if srv["engine"] == "pg":
                lines, owner = [], {}
                for u, (pw, dbs) in users.items():
                    lines.append(f"CREATE ROLE {pg_ident(u)} LOGIN PASSWORD {pg_lit(pw)};")
                for u, (pw, dbs) in users.items():
                    for d in dbs:
                        if d not in owner:
                            owner[d] = u
                            lines.append(f"CREATE DATABASE {pg_ident(d)} OWNER {pg_ident(u)};")
                        else:
                            lines.append(f"GRANT ALL ON DATABASE {pg_ident(d)} TO {pg_ident(u)};")
                write_secret(os.path.join(out, f"pg-{n}.sql"), "\n".join(lines) + "\n")
            elif srv["engine"] == "my":
                lines = []
                for u, (pw, dbs) in users.items():
                    lines.append(f"CREATE USER {my_lit(u)}@'%' IDENTIFIED BY {my_lit(pw)};")
                    for d in dbs:
                        lines.append(f"CREATE DATABASE IF NOT EXISTS {my_ident(d)};")
                        lines.append(f"GRANT ALL ON {my_ident(d)}.* TO {my_lit(u)}@'%';")
                write_secret(os.path.join(out, f"my-{n}.sql"), "\n".join(lines) + "\n")
            else:
                lines = []
                for u, pws in users.items():
                    if any(c in u for c in ' "\'\\'):
                        raise Fail(f"{srv['host']}: Redis user name {u!r} not supported")
                    auth = " ".join(kv_hash(p) for p in sorted(pws) if p) or "nopass"
                    lines.append(f"user {u} on resetpass {auth} ~* &* +@all")
                if "default" not in users:
                    lines.append("user default off")
                write_secret(os.path.join(out, f"kv-{n}.conf"), "\n".join(lines) + "\n")

    with open(os.path.join(out, "hosts"), "w") as f:
        for host, addr in hosts.items():
            f.write(f"{addr} {host}\n")

    # CA files the env names -> which stand-in CAs go over them.
    order = ("rds", "public", "system")
    mounts = {}  # real path -> [set(roles), [names]]

    def add(path_, roles, what):
        if not os.path.isabs(path_):
            raise Fail(f"{what} names the CA file {path_!r}, which is not an absolute path")
        real = os.path.realpath(path_)
        if not os.path.isfile(real):
            raise Fail(f"{what} names the CA file {path_}, which does not exist (or is not a file): "
                       "cloud-shaped.sh mounts its stand-in over the file inside its namespace and "
                       "cannot create it without changing the file system outside")
        if "\t" in real or "\n" in real:
            raise Fail(f"{what}: tabs and newlines in CA paths are not supported")
        m = mounts.setdefault(real, [set(), []])
        m[0].update(roles)
        if what not in m[1]:
            m[1].append(what)

    add(SYSTEM_BUNDLE, {"system", "public"}, "the system bundle")
    for path, env in envs.items():
        for k, v in env.items():
            what = k
            if k.endswith("_CA_FILE") or k == "PGSSLROOTCERT":
                if v:
                    add(v, {"rds"}, what)
            elif k in ("NODE_EXTRA_CA_CERTS", "SSL_CERT_FILE"):
                if v:
                    add(v, {"rds", "public", "system"}, what)
            elif k.endswith("_URL") and "?" in v:
                for kv in v.split("?", 1)[1].split("&"):
                    pk, _, pv = kv.partition("=")
                    if pk.lower() in URL_CA_PARAMS:
                        pv = unquote(pv) if "%" in pv else pv
                        if pv.startswith("/"):
                            add(pv, {"rds"}, f"{what} {pk}=")
    with open(os.path.join(out, "mounts.tsv"), "w") as f:
        for real, (roles, whats) in mounts.items():
            f.write(f"{'+'.join(r for r in order if r in roles)}\t{real}\t{', '.join(whats)}\n")

    with open(os.path.join(out, "cells.tsv"), "w") as f:
        for row in cell_rows:
            f.write("\t".join(str(x) for x in row) + "\n")
    for n in notes:
        print(f"cloud-shaped: note: {n}", file=sys.stderr)


def write_secret(path, text):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)


def exec_cell(env_json, client, prefix, run_sh, extras):
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/root"),
           "LANG": os.environ.get("LANG") or "C.UTF-8"}
    if os.environ.get("PROVISION_CLIENTS_HOME"):
        env["PROVISION_CLIENTS_HOME"] = os.environ["PROVISION_CLIENTS_HOME"]
    env.update(load_env(env_json))
    for x in extras:
        k, _, v = x.partition("=")
        env[k] = v
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.execve(run_sh, [run_sh, client, prefix], env)


def report(work):
    cells = []
    with open(os.path.join(work, "plan", "cells.tsv")) as f:
        for line in f:
            i, path, client, prefix, engine, srv, node_extra = line.rstrip("\n").split("\t")
            cells.append({"i": i, "env": path, "client": client, "prefix": prefix,
                          "node_extra": node_extra == "1"})
    results = {}
    with open(os.path.join(work, "results.tsv")) as f:
        for line in f:
            i, way, got, want, known = line.rstrip("\n").split("\t", 4)
            results[(i, way)] = (got, want, known)

    def line_of(i, way):
        p = os.path.join(work, "out", f"{i}.{way}.json")
        try:
            text = open(p, encoding="utf-8", errors="replace").read().strip()
        except OSError:
            text = ""
        try:
            return json.loads(text.splitlines()[-1]) if text else {"ok": False, "error": "no output"}
        except ValueError:
            return {"ok": False, "error": f"not JSON: {text[:300]}"}

    doc, ok, rows, bad = [], True, [], []
    for c in cells:
        entry = {"env": c["env"], "client": c["client"], "prefix": c["prefix"]}
        outcomes, seconds, expected, known, marks = {}, {}, True, [], []
        for way in WAYS:
            got, want, kn = results[(c["i"], way)]
            key = way.replace("-", "_")
            entry[key] = line_of(c["i"], way)
            outcomes[key] = got
            try:
                t0, t1 = open(os.path.join(work, "out", f"{c['i']}.{way}.time")).read().split()
                seconds[key] = round(float(t1) - float(t0), 1)
            except (OSError, ValueError):
                seconds[key] = None
            mark = got
            if kn:
                known.append(f"{way}: {want}: {kn}")
                if got == want:
                    mark += "*"
            if got != want:
                expected = False
                mark += "!"
                bad.append((c, way, want, entry[key]))
            marks.append(mark)
        entry["outcomes"] = outcomes
        entry["seconds"] = seconds
        entry["expected"] = expected
        entry["known"] = "; ".join(known) if known else None
        if c["node_extra"]:
            entry["harness_env"] = ["NODE_EXTRA_CA_CERTS"]
        ok = ok and expected
        doc.append(entry)
        rows.append((f"{c['env']}:{c['client']}:{c['prefix']}", marks))

    width = max([len(r[0]) for r in rows] + [4])
    err = sys.stderr
    err.write(f"{'cell':<{width}}  {'good':<9} {'other-ca':<9} {'no-tls':<9}\n")
    for name, marks in rows:
        err.write(f"{name:<{width}}  " + " ".join(f"{m:<9}" for m in marks) + "\n")
    for c, way, want, line in bad:
        err.write(f"! {c['env']}:{c['client']}:{c['prefix']} {way}: want {want}, got "
                  f"{json.dumps(line, separators=(',', ':'))}\n")
    for text in dict.fromkeys(f"* {e['client']}: {e['known']}" for e in doc if e["known"]):
        err.write(text + "\n")
    print(json.dumps({"cells": doc, "ok": ok}, separators=(",", ":")))
    return 0 if ok else 1


def main(argv):
    try:
        if len(argv) >= 3 and argv[0] == "plan":
            plan(argv[1], argv[2], argv[3:])
            return 0
        if len(argv) >= 5 and argv[0] == "exec":
            exec_cell(argv[1], argv[2], argv[3], argv[4], argv[5:])
        if len(argv) == 2 and argv[0] == "report":
            return report(argv[1])
    except Fail as e:
        print(f"cloud-shaped: ERROR: {e}", file=sys.stderr)
        return 1
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
