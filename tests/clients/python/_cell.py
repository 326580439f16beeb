"""Shared by the Python cells of the client matrix: read the link, print one JSON line.

A cell's check(prefix) connects with the link's URL exactly as given and returns
(encrypted, detail). run() prints {"client","ok":true,"encrypted","detail"} and exits 0, or
{"client","ok":false,"error"} and exits 1, with the password and the URL blanked out.
"""
import json
import os
import sys
from urllib.parse import quote


def link(prefix, name):
    return os.environ.get(f"{prefix}_{name}", "")


def _redact(prefix, text):
    password = link(prefix, "PASSWORD")
    for secret in (link(prefix, "URL"), password, quote(password, safe="")):
        if secret:
            text = text.replace(secret, "***")
    return " ".join(text.split())[:1000]


def run(client, check):
    prefix = sys.argv[1]
    client = sys.argv[2] if len(sys.argv) > 2 else client  # run.sh passes the cell's name
    try:
        encrypted, detail = check(prefix)
    except Exception as e:  # any failure is the cell's answer
        error = _redact(prefix, f"{type(e).__name__}: {e}")
        print(json.dumps({"client": client, "ok": False, "error": error}, separators=(",", ":")))
        sys.exit(1)
    print(json.dumps(
        {"client": client, "ok": True, "encrypted": bool(encrypted), "detail": detail},
        separators=(",", ":"),
    ))
