#!/usr/bin/env python3
"""A small bearer-token resource server, the second target of relgate's `jwt` probe.

Written from the RFCs (JWS RFC 7515, JWA RFC 7518, JWT RFC 7519, JWT BCP RFC 8725), not from
relgate or tenant-api: it verifies HS256 (hmac) or RS256 (`cryptography`) tokens on every path
but /healthz and answers 200 with the caller, or 401.

Strict by default. Each `--bug NAME` (repeatable) switches on one realistic mistake:

  alg-from-header      verify with the algorithm the header names, any of the configured
                       algorithm's family (HS384/HS512 with the HMAC secret; RS384/RS512/PS*
                       with the RSA key) instead of only the configured one (RFC 8725 §3.1)
  ignore-crit          ignore the `crit` header instead of refusing unknown extensions
                       (RFC 7515 §4.1.11)
  no-iat-check         accept tokens whose `iat` is in the future
  last-duplicate-wins  parse the payload with plain json.loads, where the last of two equal
                       member names wins, instead of refusing duplicates (RFC 7519 §4)
  any-typ              do not check `typ` against --typ (RFC 8725 §3.11)
  typ-from-cty         take the token type from `cty` as well as `typ` (`cty` is the
                       payload's content type, RFC 7515 §4.1.10, not the token's type)
  kid-any-audience     a partner key (--partner-key) is selected by `kid`, but `aud` may be any
                       trusted audience instead of the partner's own

Usage: jwt_verifier.py --port 0 --alg RS256 --key-file issuer.pub.pem --issuer I --audience A
Prints `listening on http://127.0.0.1:PORT` on stdout once it accepts connections.
"""

import argparse
import base64
import binascii
import hashlib
import hmac
import json
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

BUGS = (
    "alg-from-header",
    "ignore-crit",
    "no-iat-check",
    "last-duplicate-wins",
    "any-typ",
    "typ-from-cty",
    "kid-any-audience",
)
LEEWAY = 10
HMAC_FAMILY = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}
RSA_HASHES = {"256": hashes.SHA256, "384": hashes.SHA384, "512": hashes.SHA512}
RSA_FAMILY = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512")


class Refused(Exception):
    """The token is not accepted; the message says why (never the token)."""


def b64url_decode(text):
    """base64url without padding (RFC 7515 §2); anything else is refused."""
    if not text or "=" in text or any(c not in _B64URL for c in text) or len(text) % 4 == 1:
        raise Refused("segment is not base64url")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as error:
        raise Refused("segment is not base64url") from error


_B64URL = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def unique_object(pairs):
    """object_pairs_hook that refuses a member name given twice."""
    seen = {}
    for name, value in pairs:
        if name in seen:
            raise Refused(f"member name {name!r} appears twice")
        seen[name] = value
    return seen


def parse_json(data, strict):
    try:
        text = data.decode("utf-8")
        value = json.loads(text, object_pairs_hook=unique_object) if strict else json.loads(text)
    except (UnicodeDecodeError, ValueError) as error:
        raise Refused("segment is not JSON") from error
    if not isinstance(value, dict):
        raise Refused("segment is not a JSON object")
    return value


def media_type(value):
    """typ compared without case, `application/` optional (RFC 7515 §4.1.9)."""
    value = value.lower()
    return value[len("application/"):] if value.startswith("application/") else value


class Key:
    """A verification key: an HMAC secret or an RSA public key, and the audience it signs for."""

    def __init__(self, alg, path, audience):
        with open(path, "rb") as handle:
            data = handle.read()
        self.audience = audience
        if alg.startswith("HS"):
            self.secret = data.strip()
            self.public = None
        else:
            self.secret = None
            self.public = serialization.load_pem_public_key(data)
            if not isinstance(self.public, rsa.RSAPublicKey):
                raise SystemExit(f"{path}: not an RSA public key")

    def verify(self, alg, signing_input, signature):
        if alg in HMAC_FAMILY:
            if self.secret is None:
                return False
            mac = hmac.new(self.secret, signing_input, HMAC_FAMILY[alg]).digest()
            return hmac.compare_digest(mac, signature)
        if alg in RSA_FAMILY and self.public is not None:
            digest = RSA_HASHES[alg[2:]]()
            if alg.startswith("RS"):
                scheme = padding.PKCS1v15()
            else:
                # RFC 7518 §3.5: MGF1 with the same hash, salt as long as the hash.
                scheme = padding.PSS(mgf=padding.MGF1(digest), salt_length=digest.digest_size)
            try:
                self.public.verify(signature, signing_input, scheme, digest)
                return True
            except InvalidSignature:
                return False
        return False


class Verifier:
    def __init__(self, options):
        self.alg = options.alg
        self.issuer = options.issuer
        self.audience = options.audience
        self.typ = options.typ
        self.bugs = set(options.bug or ())
        self.key = Key(options.alg, options.key_file, options.audience)
        self.partner_kid = options.partner_kid
        self.partner = (
            Key(options.alg, options.partner_key_file, options.partner_audience)
            if options.partner_key_file
            else None
        )

    def family(self):
        return tuple(HMAC_FAMILY) if self.alg in HMAC_FAMILY else RSA_FAMILY

    def verify(self, token):
        parts = token.split(".")
        if len(parts) != 3:
            raise Refused("not three segments")
        header = parse_json(b64url_decode(parts[0]), strict=True)
        alg = header.get("alg")
        if "alg-from-header" in self.bugs:
            if alg not in self.family():
                raise Refused("algorithm not accepted")
        elif alg != self.alg:
            raise Refused("algorithm not accepted")
        if "crit" in header and "ignore-crit" not in self.bugs:
            # This verifier implements no JWS extension, so any crit is not understood.
            raise Refused("crit names an extension this verifier does not understand")
        if self.typ is not None and "any-typ" not in self.bugs:
            names = ["typ", "cty"] if "typ-from-cty" in self.bugs else ["typ"]
            if not any(self._names_type(header.get(name)) for name in names):
                raise Refused("wrong token type")
        key = self.key
        audiences = [self.audience]
        if self.partner is not None and header.get("kid") == self.partner_kid:
            key = self.partner
            audiences = [self.partner.audience]
            if "kid-any-audience" in self.bugs:
                audiences = [self.audience, self.partner.audience]
        signing_input = f"{parts[0]}.{parts[1]}".encode("ascii")
        if not key.verify(alg, signing_input, b64url_decode(parts[2])):
            raise Refused("bad signature")
        claims = parse_json(
            b64url_decode(parts[1]), strict="last-duplicate-wins" not in self.bugs
        )
        return self.check_claims(claims, audiences)

    def _names_type(self, value):
        """Whether a header value names the required type."""
        return isinstance(value, str) and media_type(value) == media_type(self.typ)

    def check_claims(self, claims, audiences):
        now = time.time()

        def number(name):
            value = claims.get(name)
            if value is None:
                return None
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise Refused(f"{name} is not a NumericDate")
            return value

        exp = number("exp")
        if exp is None or now > exp + LEEWAY:
            raise Refused("expired or no exp")
        nbf = number("nbf")
        if nbf is not None and nbf > now + LEEWAY:
            raise Refused("not yet valid")
        iat = number("iat")
        if iat is not None and iat > now + LEEWAY and "no-iat-check" not in self.bugs:
            raise Refused("issued in the future")
        if claims.get("iss") != self.issuer:
            raise Refused("wrong issuer")
        aud = claims.get("aud")
        listed = aud if isinstance(aud, list) else [aud]
        if not any(wanted in listed for wanted in audiences):
            raise Refused("wrong audience")
        sub = claims.get("sub")
        if not isinstance(sub, str) or not sub:
            raise Refused("no subject")
        return {"sub": sub, "aud": aud}


def handler(verifier):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format, *args):  # the request line only; never headers
            sys.stderr.write("%s %s\n" % (self.command, self.path))

        def answer(self, status, body):
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            if status == 401:
                self.send_header("WWW-Authenticate", 'Bearer error="invalid_token"')
            self.end_headers()
            self.wfile.write(data)

        def handle_any(self):
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            if self.path == "/healthz":
                return self.answer(200, {"ok": True})
            authorization = self.headers.get("Authorization", "")
            scheme, _, token = authorization.partition(" ")
            if scheme.lower() != "bearer" or not token:
                return self.answer(401, {"error": "no bearer token"})
            try:
                caller = verifier.verify(token.strip())
            except Refused as why:
                sys.stderr.write(f"refused: {why}\n")
                return self.answer(401, {"error": "invalid_token"})
            return self.answer(200, caller)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = handle_any

    return Handler


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--alg", choices=("HS256", "RS256"), default="RS256")
    parser.add_argument("--key-file", required=True, help="HMAC secret or RSA public key PEM")
    parser.add_argument("--issuer", required=True)
    parser.add_argument("--audience", required=True)
    parser.add_argument("--typ", help="required typ header, e.g. at+jwt")
    parser.add_argument("--partner-key-file", help="a second key, for --partner-audience only")
    parser.add_argument("--partner-kid", default="partner")
    parser.add_argument("--partner-audience", default="partner-api")
    parser.add_argument("--bug", action="append", choices=BUGS)
    options = parser.parse_args()
    if options.host not in ("127.0.0.1", "localhost", "::1"):
        parser.error("listens on a loopback address only")
    server = ThreadingHTTPServer((options.host, options.port), handler(Verifier(options)))
    server.daemon_threads = True
    host, port = server.server_address[:2]
    print(f"listening on http://{host}:{port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
