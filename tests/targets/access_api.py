#!/usr/bin/env python3
"""A small multi-tenant API, written apart from reference/tenant-api, for the rbac and consent
probes to be tried on: in-memory data, RS256 bearer tokens verified with `cryptography`.

Correct by default. Each ``--bug NAME`` switches on one realistic mistake:

  idor               GET /v1/projects/{id} looks the project up by id without the tenant filter
  mass-assignment    PATCH /v1/projects/{id} copies every body field onto the project, then
                     validates (a failed validation leaves the copied fields in place)
  role-from-body     a write's JSON body is merged over the token's claims (role, org_id)
  consent-cached     consent is checked on a token's first records request and then trusted
  consent-any-child  GET /v1/children/{c}/records/{id} checks that the caller has consent for
                     some child, then serves the record by its id whatever its child

API: GET /healthz; GET /v1/me; GET /v1/projects; GET|PATCH /v1/projects/{id};
GET /v1/children/{c}/records; GET /v1/children/{c}/records/{id}.

Usage: access_api.py --port PORT --public-key PEM [--issuer I] [--audience A] [--bug NAME]...
Prints ``listening on 127.0.0.1:PORT`` once it serves; binds 127.0.0.1 only.
"""

import argparse
import base64
import copy
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

BUGS = ("idor", "mass-assignment", "role-from-body", "consent-cached", "consent-any-child")
LEEWAY = 30
WRITERS = ("admin", "member")
READERS = ("admin", "member", "viewer")
RECORD_READERS = ("admin", "member")


def seed():
    """The demo data: two tenants, three users each, two projects, two children (consent for
    child-1 active, for child-2 revoked), one record per child."""
    members, projects, children, consents, records = {}, {}, {}, {}, {}
    for org in ("org-a", "org-b"):
        letter = org[-1]
        for role in READERS:
            members[(org, f"{role}@{org}")] = role
            for child, revoked in (("child-1", None), ("child-2", 1717200000)):
                consents[(org, f"{role}@{org}", child)] = {"granted": 1704067200, "revoked": revoked}
        for n in (1, 2):
            pid = f"prj-{letter}-{n}"
            projects[pid] = {"id": pid, "org_id": org, "name": f"Project {letter.upper()}{n}"}
            children[(org, f"child-{n}")] = {"child_ref": f"child-{n}", "org_id": org}
            rid = f"rec-{letter}-{n}"
            records[rid] = {"id": rid, "org_id": org, "child_ref": f"child-{n}",
                            "body": f"record of child-{n} in {org}"}
    return {"members": members, "projects": projects, "children": children,
            "consents": consents, "records": records}


def b64decode(segment):
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


class Tokens:
    """RS256 verification: the header must say RS256, the signature must verify with the one
    configured key, then iss, aud, exp and nbf are checked."""

    def __init__(self, public_key_pem, issuer, audience):
        self.key = serialization.load_pem_public_key(public_key_pem)
        self.issuer = issuer
        self.audience = audience

    def verify(self, token):
        try:
            head, body, signature = token.split(".")
            header = json.loads(b64decode(head))
            claims = json.loads(b64decode(body))
            if header.get("alg") != "RS256" or not isinstance(claims, dict):
                return None
            self.key.verify(b64decode(signature), f"{head}.{body}".encode(),
                            padding.PKCS1v15(), hashes.SHA256())
        except (ValueError, InvalidSignature, json.JSONDecodeError):
            return None
        now = time.time()
        audience = claims.get("aud")
        audiences = audience if isinstance(audience, list) else [audience]
        if claims.get("iss") != self.issuer or self.audience not in audiences:
            return None
        exp, nbf = claims.get("exp"), claims.get("nbf", 0)
        if not isinstance(exp, (int, float)) or exp + LEEWAY < now:
            return None
        if not isinstance(nbf, (int, float)) or nbf - LEEWAY > now:
            return None
        if not isinstance(claims.get("sub"), str) or not isinstance(claims.get("org_id"), str):
            return None
        return claims


class Api:
    def __init__(self, tokens, bugs):
        self.tokens = tokens
        self.bugs = set(bugs)
        self.data = seed()
        self.lock = threading.Lock()
        self.consented_tokens = set()

    def consent_active(self, org, user, child):
        consent = self.data["consents"].get((org, user, child))
        now = time.time()
        return bool(consent) and consent["granted"] <= now and (
            consent["revoked"] is None or consent["revoked"] > now)

    def handle(self, method, path, headers, raw_body):
        """Returns (status, json body or None)."""
        if path == "/healthz":
            return (200, {"status": "ok"}) if method == "GET" else (405, {"error": "method"})
        parts = [part for part in path.split("/") if part]
        if not parts or parts[0] != "v1":
            return 404, {"error": "not found"}
        auth = headers.get("Authorization", "")
        scheme, _, token = auth.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return 401, {"error": "missing token"}
        token = token.strip()
        claims = self.tokens.verify(token)
        if claims is None:
            return 401, {"error": "invalid token"}
        body = None
        if method in ("POST", "PATCH"):
            try:
                body = json.loads(raw_body or b"null")
            except json.JSONDecodeError:
                return 400, {"error": "body is not JSON"}
            if not isinstance(body, dict):
                return 400, {"error": "body must be an object"}
            if "role-from-body" in self.bugs:
                claims = {**claims, **body}
        org, user = claims["org_id"], claims["sub"]
        with self.lock:
            role = claims.get("role") if "role-from-body" in self.bugs else None
            member_role = self.data["members"].get((org, user))
            if member_role is None:
                return 403, {"error": "not a member"}
            role = role if isinstance(role, str) and role in READERS else member_role
            return self.route(method, parts[1:], org, user, role, body, token)

    def route(self, method, parts, org, user, role, body, token):
        if parts == ["me"] and method == "GET":
            return 200, {"sub": user, "org_id": org, "role": role}
        if parts == ["projects"] and method == "GET":
            if role not in READERS:
                return 403, {"error": "forbidden"}
            mine = [p for p in self.data["projects"].values() if p["org_id"] == org]
            return 200, {"projects": mine}
        if len(parts) == 2 and parts[0] == "projects":
            if method == "GET":
                return self.get_project(parts[1], org, role)
            if method == "PATCH":
                return self.patch_project(parts[1], org, role, body)
            return 405, {"error": "method not allowed"}
        if len(parts) in (3, 4) and parts[0] == "children" and parts[2] == "records":
            if method != "GET":
                return 405, {"error": "method not allowed"}
            if role not in RECORD_READERS:
                return 403, {"error": "forbidden"}
            if len(parts) == 3:
                return self.child_records(parts[1], org, user, token)
            return self.child_record(parts[1], parts[3], org, user)
        return 404, {"error": "not found"}

    def get_project(self, pid, org, role):
        if role not in READERS:
            return 403, {"error": "forbidden"}
        project = self.data["projects"].get(pid)
        if project is None or ("idor" not in self.bugs and project["org_id"] != org):
            return 404, {"error": "not found"}
        return 200, project

    def patch_project(self, pid, org, role, body):
        if role not in WRITERS:
            return 403, {"error": "forbidden"}
        project = self.data["projects"].get(pid)
        if project is None or project["org_id"] != org:
            return 404, {"error": "not found"}
        if "mass-assignment" in self.bugs:
            project.update(body)
            name = project.get("name")
        else:
            name = body.get("name")
        if not isinstance(name, str) or not name.strip() or len(name) > 200:
            return 400, {"error": "name must be 1 to 200 characters"}
        project["name"] = name.strip()
        return 200, project

    def child_records(self, child, org, user, token):
        if (org, child) not in self.data["children"]:
            return 404, {"error": "not found"}
        cached = "consent-cached" in self.bugs and token in self.consented_tokens
        if not cached:
            if not self.consent_active(org, user, child):
                return 403, {"error": "no consent"}
            if "consent-cached" in self.bugs:
                self.consented_tokens.add(token)
        rows = [r for r in self.data["records"].values()
                if r["org_id"] == org and r["child_ref"] == child]
        return 200, {"child_ref": child, "records": rows}

    def child_record(self, child, rid, org, user):
        if (org, child) not in self.data["children"]:
            return 404, {"error": "not found"}
        if "consent-any-child" in self.bugs:
            allowed = any(self.consent_active(o, u, c) for (o, u, c) in self.data["consents"]
                          if o == org and u == user)
        else:
            allowed = self.consent_active(org, user, child)
        if not allowed:
            return 403, {"error": "no consent"}
        record = self.data["records"].get(rid)
        if record is None or record["org_id"] != org:
            return 404, {"error": "not found"}
        if "consent-any-child" not in self.bugs and record["child_ref"] != child:
            return 404, {"error": "not found"}
        return 200, record


def make_handler(api):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def respond(self, method):
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            path = self.path.split("?", 1)[0]
            status, body = api.handle(method, path, self.headers, raw)
            data = json.dumps(copy.deepcopy(body)).encode() if body is not None else b""
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            self.respond("GET")

        def do_PATCH(self):
            self.respond("PATCH")

        def do_POST(self):
            self.respond("POST")

        def do_DELETE(self):
            self.respond("DELETE")

        def log_message(self, format, *args):
            # Paths only: the request line never holds a token here, headers are not logged.
            sys.stderr.write("access_api: %s\n" % (format % args))

    return Handler


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--public-key", required=True)
    parser.add_argument("--issuer", default="https://issuer.test")
    parser.add_argument("--audience", default="tenant-api")
    parser.add_argument("--bug", action="append", default=[], choices=BUGS)
    args = parser.parse_args()
    with open(args.public_key, "rb") as handle:
        tokens = Tokens(handle.read(), args.issuer, args.audience)
    server = ThreadingHTTPServer(("127.0.0.1", args.port), make_handler(Api(tokens, args.bug)))
    host, port = server.server_address[:2]
    print(f"listening on {host}:{port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
