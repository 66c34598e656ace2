#!/usr/bin/env python3
"""A small webhook receiver, written from the providers' public documentation, to try
relgate's `webhook` probe against an implementation that is not the reference service.

Routes (POST): /svix, /stripe, /github. GET /healthz answers 200.

- Svix (https://docs.svix.com/receiving/verifying-payloads/how-manual): the signed content is
  `{svix-id}.{svix-timestamp}.{body}`, the key the base64 after `whsec_`, `svix-signature` a
  space-separated list of `v1,<base64>`; the timestamp must be within 5 minutes of now, and a
  delivery id seen before is refused.
- Stripe (https://docs.stripe.com/webhooks#verify-manually): `Stripe-Signature: t=..,v1=..`,
  the signed content `{t}.{body}`, the key the whole `whsec_...` secret, expected signature the
  lowercase hex HMAC-SHA256, compared with every `v1` entry; the timestamp within 5 minutes.
- GitHub (https://docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries):
  `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body>`, compared as a whole string.

Every signature comparison is `hmac.compare_digest` on the text the provider sends. The default
mode is strict. `--bug NAME` (repeatable) switches on one realistic mistake each:

  prefix-compare       compares only as many characters (bytes for Svix) as the sender gave:
                       an empty or truncated signature passes
  startswith           accepts a signature that starts with the expected one: padding passes
  off-by-one           hand-written comparison loop that stops one character short
  strip-and-lower      strips and lowercases both sides before comparing
  any-version          ignores the version tag (`v2,` / `v2=` count as v1)
  several-format-only  with several signatures in the header, checks only that each is well
                       formed (the loop tests the wrong variable)
  timestamp-optional   a missing or non-numeric timestamp is taken as now
  ms-timestamps        a timestamp above 10^11 is taken as milliseconds
  strip-whitespace     removes every space and tab from the signature header before reading
                       it (Svix entries are then found by their `v<n>,` tags)

Accepted deliveries get 204, refused ones 400 (malformed) or 401 (not authentic).
"""

import argparse
import base64
import binascii
import hashlib
import hmac
import json
import re
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

BUGS = (
    "prefix-compare",
    "startswith",
    "off-by-one",
    "strip-and-lower",
    "any-version",
    "several-format-only",
    "timestamp-optional",
    "ms-timestamps",
    "strip-whitespace",
)
TOLERANCE = 5 * 60


class Refused(Exception):
    def __init__(self, status, why):
        super().__init__(why)
        self.status = status


class Receiver:
    def __init__(self, secret, bugs):
        self.secret = secret
        self.bugs = set(bugs)
        self.seen = set()
        self.lock = threading.Lock()

    # -- comparison -------------------------------------------------------------------------

    def same(self, given, expected):
        """Whether the signature text `given` is the expected one (with the bugs switched on)."""
        if "strip-and-lower" in self.bugs:
            given, expected = given.strip().lower(), expected.strip().lower()
        if "prefix-compare" in self.bugs:
            return expected.startswith(given)
        if "startswith" in self.bugs:
            return given.startswith(expected)
        if "off-by-one" in self.bugs:
            if len(given) != len(expected):
                return False
            diff = 0
            for i in range(len(expected) - 1):
                diff |= ord(given[i]) ^ ord(expected[i])
            return diff == 0
        return hmac.compare_digest(given.encode(), expected.encode())

    def same_base64(self, given, expected):
        """Svix: the hand-written comparisons work on decoded bytes (a validating decode of
        what was sent), as a receiver that compares MACs rather than their text does."""
        if self.bugs & {"prefix-compare", "startswith", "off-by-one"}:
            try:
                sent = base64.b64decode(given, validate=True)
            except (binascii.Error, ValueError):
                return False
            wanted = base64.b64decode(expected)
            if "prefix-compare" in self.bugs:
                return wanted.startswith(sent)
            if "startswith" in self.bugs:
                return sent.startswith(wanted)
            if len(sent) != len(wanted):
                return False
            return all(sent[i] == wanted[i] for i in range(len(wanted) - 1))
        return self.same(given, expected)

    def timestamp(self, text):
        """The timestamp as seconds, or a refusal."""
        if text is None or not text.strip().lstrip("-").isdigit():
            if "timestamp-optional" in self.bugs:
                return int(time.time())
            raise Refused(400, "missing or malformed timestamp")
        value = int(text)
        if "ms-timestamps" in self.bugs and value > 10**11:
            value //= 1000
        if abs(time.time() - value) > TOLERANCE:
            raise Refused(401, "timestamp outside the tolerance")
        return value

    # -- schemes ----------------------------------------------------------------------------

    def svix(self, headers, body):
        msg_id = headers.get("svix-id")
        ts_text = headers.get("svix-timestamp")
        if not msg_id:
            raise Refused(400, "missing svix-id")
        self.timestamp(ts_text)
        encoded = self.secret[len("whsec_"):] if self.secret.startswith("whsec_") else self.secret
        key = base64.b64decode(encoded)
        signed = f"{msg_id}.{ts_text or ''}.".encode() + body
        expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
        raw = headers.get("svix-signature") or ""
        if "strip-whitespace" in self.bugs:
            compact = re.sub(r"\s+", "", raw)
            pairs = re.findall(r"(v\d+),(.*?)(?=v\d+,|$)", compact)
        else:
            pairs = [entry.partition(",")[::2] for entry in raw.split(" ")]
        entries = []
        for version, signature in pairs:
            if version == "v1" or ("any-version" in self.bugs and version.startswith("v")):
                entries.append(signature)
        if "several-format-only" in self.bugs and len(entries) > 1:
            ok = True
            for signature in entries:
                try:
                    well_formed = len(base64.b64decode(signature, validate=True)) == 32
                except (binascii.Error, ValueError):
                    well_formed = False
                ok = ok and well_formed
            if ok:
                return self.remember(msg_id)
        if not any(self.same_base64(signature, expected) for signature in entries):
            raise Refused(401, "no valid signature")
        self.remember(msg_id)

    def unspaced(self, header):
        """The signature header, without its whitespace under `--bug strip-whitespace`."""
        if "strip-whitespace" in self.bugs:
            return re.sub(r"\s+", "", header)
        return header

    def remember(self, msg_id):
        with self.lock:
            if msg_id in self.seen:
                raise Refused(400, "replayed svix-id")
            self.seen.add(msg_id)

    def stripe(self, headers, body):
        header = self.unspaced(headers.get("Stripe-Signature") or "")
        ts_text = None
        signatures = []
        for item in header.split(","):
            name, _, value = item.partition("=")
            if name == "t":
                ts_text = value
            elif name == "v1" or ("any-version" in self.bugs and name.startswith("v")):
                signatures.append(value)
        self.timestamp(ts_text)
        signed = f"{ts_text or ''}.".encode() + body
        expected = hmac.new(self.secret.encode(), signed, hashlib.sha256).hexdigest()
        if "several-format-only" in self.bugs and len(signatures) > 1:
            if all(len(s) == 64 and all(c in "0123456789abcdef" for c in s) for s in signatures):
                return
        if not any(self.same(signature, expected) for signature in signatures):
            raise Refused(401, "no valid signature")

    def github(self, headers, body):
        header = self.unspaced(headers.get("X-Hub-Signature-256") or "")
        if not header.startswith("sha256="):
            raise Refused(401, "no sha256 signature")
        expected = hmac.new(self.secret.encode(), body, hashlib.sha256).hexdigest()
        if not self.same(header[len("sha256="):], expected):
            raise Refused(401, "no valid signature")


def handler(receiver, log):
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            self.answer(200 if self.path == "/healthz" else 404)

        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            route = {"/svix": receiver.svix, "/stripe": receiver.stripe, "/github": receiver.github}
            verify = route.get(self.path)
            if verify is None:
                return self.answer(404)
            try:
                verify(self.headers, body)
                try:
                    json.loads(body)
                except ValueError:
                    raise Refused(400, "body is not JSON")
            except Refused as refused:
                log(f"{self.path}: {refused.status} {refused}")
                return self.answer(refused.status)
            log(f"{self.path}: 204 accepted")
            self.answer(204)

        def answer(self, status):
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    return Handler


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: any)")
    parser.add_argument("--secret-file", required=True, help="file holding the whsec_... secret")
    parser.add_argument("--bug", action="append", default=[], choices=BUGS)
    args = parser.parse_args()
    with open(args.secret_file, encoding="utf-8") as file:
        secret = file.read().strip()
    receiver = Receiver(secret, args.bug)

    def log(line):
        print(line, file=sys.stderr, flush=True)

    server = ThreadingHTTPServer(("127.0.0.1", args.port), handler(receiver, log))
    print(f"listening on 127.0.0.1:{server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
