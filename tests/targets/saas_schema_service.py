#!/usr/bin/env python3
"""Loads tests/targets/saas_schema.sql into a database and stays up as a `[[service]]`.

A gate file declares an ephemeral Postgres and this script as a service that depends on it:

    [[service]]
    name = "schema"
    run = ["python3", "tests/targets/saas_schema_service.py", "--database-url", "${db.url}",
           "--port", "${port}"]
    ready = { http = "/healthz", timeout = "60s" }

It resolves the schema's variants (every `-- correct: NAME[, NAME…]` block is kept unless one of
its names is selected with `--bug NAME`; a `-- bug: NAME` block is kept only when selected;
blocks end at `-- end`), replaces `{{app_role}}` and `{{group_role}}`, and runs the result with
`psql -v ON_ERROR_STOP=1` in one transaction. Then it answers `GET /healthz` with 200 on
127.0.0.1 until it is stopped, so the gate's probes (`rls`, `audit-chain`) run against the
loaded schema. Standard library only.
"""

import argparse
import http.server
import pathlib
import subprocess
import sys

SCHEMA = pathlib.Path(__file__).with_name("saas_schema.sql")


def resolve(text, bugs, app_role, group_role):
    """The schema text with the selected variants and the role names filled in."""
    out, keep, known = [], True, set()
    for line in text.splitlines():
        if line.startswith("-- correct: "):
            names = line[len("-- correct: "):].split(", ")
            keep = not any(name in bugs for name in names)
            continue
        if line.startswith("-- bug: "):
            name = line[len("-- bug: "):]
            keep = name in bugs
            if keep:
                known.add(name)
            continue
        if line == "-- end":
            keep = True
            continue
        if keep:
            out.append(line)
    unknown = set(bugs) - known
    if unknown:
        sys.exit(f"unknown bug(s): {', '.join(sorted(unknown))}")
    sql = "\n".join(out) + "\n"
    return sql.replace("{{app_role}}", app_role).replace("{{group_role}}", group_role)


class Health(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (the stdlib's name)
        status = 200 if self.path == "/healthz" else 404
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--bug", action="append", default=[])
    parser.add_argument("--app-role", default="saas_app")
    parser.add_argument("--group-role", default="saas_users")
    args = parser.parse_args()
    sql = resolve(SCHEMA.read_text(), args.bug, args.app_role, args.group_role)
    loaded = subprocess.run(
        ["psql", args.database_url, "-v", "ON_ERROR_STOP=1", "-q", "-1", "-f", "-"],
        input=sql,
        text=True,
    )
    if loaded.returncode != 0:
        sys.exit(f"psql failed with exit code {loaded.returncode}")
    print(f"saas schema loaded (bugs: {', '.join(args.bug) or 'none'})", flush=True)
    server = http.server.HTTPServer(("127.0.0.1", args.port), Health)
    server.serve_forever()


if __name__ == "__main__":
    main()
