"""A fake identity provider on 127.0.0.1: a JWKS endpoint whose keys the test rotates, and an
RFC 7662 token-introspection endpoint. It counts its calls so tests can check caching and
refresh rate limits, and can be stopped to play "down"."""
import base64
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

ISSUER = "https://auth.example.com/"


def b64url_uint(n):
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


class SigningKey:
    def __init__(self, kid, kind="RS256"):
        self.kid = kid
        self.alg = kind
        if kind.startswith("RS") or kind.startswith("PS"):
            self.private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            pub = self.private.public_key().public_numbers()
            self.jwk = {"kty": "RSA", "kid": kid, "use": "sig", "alg": kind, "n": b64url_uint(pub.n), "e": b64url_uint(pub.e)}
        else:
            self.private = ec.generate_private_key(ec.SECP256R1())
            pub = self.private.public_key().public_numbers()
            self.jwk = {"kty": "EC", "kid": kid, "use": "sig", "crv": "P-256",
                        "x": base64.urlsafe_b64encode(pub.x.to_bytes(32, "big")).rstrip(b"=").decode(),
                        "y": base64.urlsafe_b64encode(pub.y.to_bytes(32, "big")).rstrip(b"=").decode()}
        self.public_pem = self.private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)

    def token(self, sub="web-app", groups=("group-user",), lifetime=600, aud="triplegate", iss=ISSUER, **extra):
        now = int(time.time())
        claims = {"sub": sub, "iss": iss, "aud": aud, "iat": now, "exp": now + lifetime, "groups": list(groups), **extra}
        return jwt.encode(claims, self.private, algorithm=self.alg, headers={"kid": self.kid})


class AuthServer:
    def __init__(self, port=0):
        self.keys = []
        self.jwks_hits = 0
        self.introspections = 0
        self.tokens = {}  # opaque token -> introspection answer
        self.client = ("triplegate", "s3cret")
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _answer(self, status, body):
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                if self.path == "/.well-known/jwks.json":
                    with server.lock:
                        server.jwks_hits += 1
                        keys = [k.jwk for k in server.keys]
                    self._answer(200, {"keys": keys})
                else:
                    self._answer(404, {})

            def do_POST(self):
                length = int(self.headers.get("Content-Length", "0"))
                form = parse_qs(self.rfile.read(length).decode())
                if self.path != "/introspect":
                    return self._answer(404, {})
                expected = "Basic " + base64.b64encode(f"{server.client[0]}:{server.client[1]}".encode()).decode()
                if self.headers.get("Authorization") != expected:
                    return self._answer(401, {"error": "invalid_client"})
                with server.lock:
                    server.introspections += 1
                    answer = server.tokens.get(form.get("token", [""])[0], {"active": False})
                self._answer(200, answer)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()
