"""jwt, oauth2_introspection and mtls_auth through the real binary, against a fake identity
provider (JWKS and RFC 7662 endpoints) and certificates made by openssl."""
import base64
import hashlib
import hmac
import json
import subprocess

import pytest

from authserver import AuthServer, SigningKey
from conftest import request, wait_for
from test_identity import keys


@pytest.fixture
def idp():
    s = AuthServer()
    yield s
    s.stop()


def jwt_config(up, idp, extra=""):
    return f"""consumers:
  - {{ name: web-app, team: growth, groups: [group-user] }}
  - {{ name: ops-console, team: platform, groups: [group-admin] }}
auth:
  jwt:
    issuer: https://auth.example.com/
    audiences: [triplegate]
    jwks_url: {idp.url}/.well-known/jwks.json
    claims_to_verify: [exp]
    maximum_expiration: 3600
    consumer_claim: sub
    groups_claim: groups
{extra}services:
  - name: admin-service
    upstream: {{ targets: [{{ url: {up.url} }}] }}
    policies:
      - jwt: {{}}
      - acl: {{ allow: [group-admin] }}
    routes: [{{ paths: [/admin-api] }}]
  - name: app
    upstream: {{ targets: [{{ url: {up.url} }}] }}
    policies: [{{ jwt: {{}} }}]
    routes: [{{ paths: [/app] }}]
"""


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_jwt_from_jwks_maps_claims_and_refuses_bad_tokens(gateway, upstreams, idp):
    up = upstreams()
    key = SigningKey("k1")
    idp.keys = [key]
    gw = gateway(jwt_config(up, idp))

    # The consumer's declared groups and the token's groups both count for the ACL.
    status, _, body = request(gw.port, "GET", "/admin-api/x", headers=bearer(key.token(sub="ops-console")))
    assert status == 200, body
    assert json.loads(body)["headers"]["authorization"].startswith("Bearer ")  # passed on by default
    assert request(gw.port, "GET", "/admin-api/x", headers=bearer(key.token(sub="web-app")))[0] == 403
    assert request(gw.port, "GET", "/admin-api/x", headers=bearer(key.token(sub="partner", groups=["group-admin"])))[0] == 200
    assert request(gw.port, "GET", "/app", headers=bearer(key.token(sub="partner", groups=[])))[0] == 200

    def refused(token, why):
        status, headers, body = request(gw.port, "GET", "/app", headers=bearer(token))
        assert status == 401, (why, status, body)
        assert headers["www-authenticate"].startswith('Bearer realm="triplegate", error="invalid_token"'), headers
        assert why in json.loads(body)["detail"], body

    refused(key.token(lifetime=-120), "expired")
    refused(key.token(lifetime=7200), "too far in the future")  # maximum_expiration
    refused(key.token(aud="someone-else"), "audience")
    refused(key.token(iss="https://evil.example.com/"), "issuer")
    header, payload, sig = key.token().split(".")
    forged_payload = b64(json.dumps({"sub": "ops-console", "iss": "https://auth.example.com/", "aud": "triplegate",
                                     "exp": 4102444800, "groups": ["group-admin"]}).encode())
    refused(f"{header}.{forged_payload}.{sig}", "signature")
    # alg none, and HS256 signed with the RSA public key as the secret (algorithm confusion).
    none = b64(json.dumps({"alg": "none", "kid": "k1"}).encode()) + "." + forged_payload + "."
    refused(none, "algorithm none")
    confused_head = b64(json.dumps({"alg": "HS256", "kid": "k1", "typ": "JWT"}).encode())
    mac = hmac.new(key.public_pem, f"{confused_head}.{forged_payload}".encode(), hashlib.sha256).digest()
    refused(f"{confused_head}.{forged_payload}.{b64(mac)}", "algorithm HS256")
    refused("not-a-jwt", "malformed")

    status, headers, _ = request(gw.port, "GET", "/app")
    assert status == 401 and headers["www-authenticate"] == 'Bearer realm="triplegate"'
    metrics = request(gw.admin_port, "GET", "/metrics")[2].decode()
    assert 'triplegate_auth_failures_total{reason="jwt_expired"} 1' in metrics
    assert 'triplegate_auth_failures_total{reason="jwt_signature"} 1' in metrics


def test_unknown_kid_refreshes_jwks_once_and_jwks_down_keeps_known_keys(gateway, upstreams, idp):
    up = upstreams()
    old = SigningKey("old")
    idp.keys = [old]
    gw = gateway(jwt_config(up, idp, extra="    jwks_min_refresh: 1h\n"))
    assert request(gw.port, "GET", "/app", headers=bearer(old.token()))[0] == 200
    assert idp.jwks_hits == 1

    # The issuer rotates: a token with the new kid makes the gateway fetch the JWKS once more.
    new = SigningKey("new", "ES256")
    idp.keys = [old, new]
    assert request(gw.port, "GET", "/app", headers=bearer(new.token()))[0] == 200
    assert idp.jwks_hits == 2
    # Made-up kids do not turn the gateway against the issuer: the refresh is rate-limited.
    stranger = SigningKey("made-up")
    for _ in range(5):
        status, _, body = request(gw.port, "GET", "/app", headers=bearer(stranger.token()))
        assert status == 401 and "unknown signing key" in json.loads(body)["detail"]
    assert idp.jwks_hits == 2

    # The JWKS server goes down: known keys keep working, the process keeps serving.
    idp.stop()
    assert request(gw.port, "GET", "/app", headers=bearer(old.token()))[0] == 200
    assert request(gw.port, "GET", "/app", headers=bearer(new.token()))[0] == 200


def test_jwks_down_from_the_start_refuses_with_401_and_recovers(gateway, upstreams, idp):
    up = upstreams()
    key = SigningKey("k1")
    idp.keys = [key]
    port = idp.port
    idp.stop()
    cfg = jwt_config(up, idp, extra="    jwks_min_refresh: 100ms\n")
    gw = gateway(cfg)
    status, _, body = request(gw.port, "GET", "/app", headers=bearer(key.token()))
    assert status == 401, body
    assert "JWKS fetch failed" in gw.logs()
    # The identity provider comes back on the same port; the next refresh finds the key.
    back = AuthServer(port=port)
    back.keys = [key]
    try:
        wait_for("the JWKS to be fetched again", lambda: request(gw.port, "GET", "/app", headers=bearer(key.token()))[0] == 200)
    finally:
        back.stop()


def introspection_config(up, idp):
    return f"""consumers:
  - {{ name: ops-console, team: platform, groups: [group-admin] }}
auth:
  introspection:
    url: {idp.url}/introspect
    client_id: triplegate
    client_secret: s3cret
    cache_ttl: 1h
services:
  - name: writes
    upstream: {{ targets: [{{ url: {up.url} }}] }}
    policies:
      - oauth2_introspection: {{ scopes: [write, admin], mandatory_scope: true }}
    routes: [{{ paths: [/write] }}]
  - name: reads
    upstream: {{ targets: [{{ url: {up.url} }}] }}
    policies:
      - oauth2_introspection: {{}}
      - acl: {{ allow: [group-admin] }}
    routes: [{{ paths: [/read] }}]
"""


def test_oauth2_introspection_caches_until_exp_and_checks_scopes(gateway, upstreams, idp):
    import time
    up = upstreams()
    exp = int(time.time()) + 600
    idp.tokens = {
        "tok-writer": {"active": True, "sub": "ops-console", "scope": "read write", "exp": exp, "client_id": "cli"},
        "tok-reader": {"active": True, "username": "ops-console", "scope": "read", "exp": exp},
        "tok-revoked": {"active": False},
        "tok-soon": {"active": True, "sub": "ops-console", "scope": "write", "exp": int(time.time()) + 2},
    }
    gw = gateway(introspection_config(up, idp))
    status, _, body = request(gw.port, "GET", "/write/x", headers=bearer("tok-writer"))
    assert status == 200, body
    assert "authorization" not in json.loads(body)["headers"]  # hide_credentials by default
    for _ in range(5):
        assert request(gw.port, "GET", "/write/x", headers=bearer("tok-writer"))[0] == 200
    assert idp.introspections == 1  # cached

    status, headers, body = request(gw.port, "GET", "/write/x", headers=bearer("tok-reader"))
    assert status == 403 and 'error="insufficient_scope"' in headers["www-authenticate"], body
    assert request(gw.port, "GET", "/read/x", headers=bearer("tok-reader"))[0] == 200  # consumer ops-console, group-admin

    status, headers, _ = request(gw.port, "GET", "/write/x", headers=bearer("tok-revoked"))
    assert status == 401 and 'error="invalid_token"' in headers["www-authenticate"]

    # A token close to its exp is cached no longer than its exp: after it, the server is asked again.
    assert request(gw.port, "GET", "/write/x", headers=bearer("tok-soon"))[0] == 200
    calls = idp.introspections
    idp.tokens["tok-soon"] = {"active": False}
    wait_for("the cached answer to end at exp", lambda: request(gw.port, "GET", "/write/x", headers=bearer("tok-soon"))[0] == 401, timeout=10)
    assert idp.introspections > calls

    # The authorization server goes away: an uncached token gets 503, cached ones still pass.
    idp.stop()
    status, headers, _ = request(gw.port, "GET", "/write/x", headers=bearer("tok-new"))
    assert status == 503 and headers["retry-after"] == "1"
    assert request(gw.port, "GET", "/write/x", headers=bearer("tok-writer"))[0] == 200


def make_pki(tmp_path):
    """A CA, a server certificate for localhost, two client certificates from the CA and one from a stranger CA."""
    def run(*args):
        subprocess.run(["openssl", *args], check=True, capture_output=True)
    d = tmp_path
    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{d}/ca.key", "-out", f"{d}/ca.pem", "-days", "2", "-subj", "/CN=Test CA")
    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{d}/other.key", "-out", f"{d}/other.pem", "-days", "2", "-subj", "/CN=Other CA")
    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{d}/server.key", "-out", f"{d}/server.pem", "-days", "2",
        "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost")

    def client(name, subject, san=None, ca="ca"):
        run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{d}/{name}.key", "-out", f"{d}/{name}.csr", "-subj", subject)
        ext = d / f"{name}.ext"
        ext.write_text(f"subjectAltName={san}\n" if san else "basicConstraints=CA:FALSE\n")
        run("x509", "-req", "-in", f"{d}/{name}.csr", "-CA", f"{d}/{ca}.pem", "-CAkey", f"{d}/{ca}.key", "-CAcreateserial",
            "-out", f"{d}/{name}.pem", "-days", "2", "-extfile", str(ext))
    client("by-cn", "/CN=ops-console/O=Example")
    client("by-san", "/CN=some-host", san="DNS:web-app.clients.example.com")
    client("nobody", "/CN=nobody")
    client("stranger", "/CN=ops-console", ca="other")
    client("two-cns", "/CN=web-app.clients.example.com/CN=ops-console")  # which one? neither
    client("by-email", "/CN=some-host", san="email:ops-console")
    return d


def curl(port, pki, cert=None, path="/m/x"):
    args = ["curl", "-sS", "--cacert", f"{pki}/server.pem", "-o", "-", "-w", "\n%{http_code}", f"https://localhost:{port}{path}",
            "--resolve", f"localhost:{port}:127.0.0.1"]
    if cert:
        args += ["--cert", f"{pki}/{cert}.pem", "--key", f"{pki}/{cert}.key"]
    return subprocess.run(args, capture_output=True, text=True, timeout=20)


def test_mtls_client_certificate_names_the_consumer(gateway, upstreams, tmp_path):
    up = upstreams()
    pki = make_pki(tmp_path)
    gw = gateway(f"""server:
  tls: {{ certificate: {pki}/server.pem, key: {pki}/server.key, client_ca_file: {pki}/ca.pem, client_auth: optional }}
consumers:
  - {{ name: ops-console, groups: [group-admin] }}
  - {{ name: web-app.clients.example.com, groups: [group-user] }}
services:
  - name: m
    upstream: {{ targets: [{{ url: {up.url} }}] }}
    policies: [{{ mtls_auth: {{}} }}, {{ acl: {{ allow: [group-admin, group-user] }} }}]
    routes: [{{ paths: [/m] }}]
  - name: admin
    upstream: {{ targets: [{{ url: {up.url} }}] }}
    policies: [{{ mtls_auth: {{ consumer_by: [subject] }} }}, {{ acl: {{ allow: [group-admin] }} }}]
    routes: [{{ paths: [/admin] }}]
""")
    out = curl(gw.port, pki, "by-cn")
    assert out.stdout.endswith("\n200"), out
    assert curl(gw.port, pki, "by-san").stdout.endswith("\n200")
    assert curl(gw.port, pki, "by-cn", path="/admin/x").stdout.endswith("\n200")
    assert curl(gw.port, pki, "by-san", path="/admin/x").stdout.endswith("\n401")  # subject CN some-host is nobody here
    assert curl(gw.port, pki, "nobody").stdout.endswith("\n401")
    out = curl(gw.port, pki)
    assert out.stdout.endswith("\n401") and "No client certificate" in out.stdout
    # A certificate from a CA the listener does not trust fails the handshake.
    out = curl(gw.port, pki, "stranger")
    assert out.returncode != 0, out
    assert curl(gw.port, pki, "by-cn").stdout.endswith("\n200")  # still serving
    # Several common names: refused, not the last (or first) one taken.
    out = curl(gw.port, pki, "two-cns")
    assert out.stdout.endswith("\n401") and "ambiguous" in out.stdout
    # An e-mail SAN equal to a consumer's name counts only where consumer_by says san_email.
    assert curl(gw.port, pki, "by-email").stdout.endswith("\n401")


def test_several_authenticators_one_identity(gateway, upstreams, tmp_path):
    """The rule for several authenticators on one route: the first identity wins, a later
    authenticator's credential is not required, and one that names another consumer is refused."""
    up = upstreams()
    pki = make_pki(tmp_path)
    gw = gateway(f"""server:
  tls: {{ certificate: {pki}/server.pem, key: {pki}/server.key, client_ca_file: {pki}/ca.pem, client_auth: optional }}
store: sqlite:{tmp_path}/k.db
consumers:
  - {{ name: ops-console }}
  - {{ name: bob }}
services:
  - name: m
    upstream: {{ targets: [{{ url: {up.url} }}] }}
    policies: [{{ mtls_auth: {{ anonymous: true }} }}, {{ key_auth: {{}} }}]
    routes: [{{ paths: [/m] }}]
""")
    ops_key = keys("create", "--consumer", "ops-console", config=gw.config)
    bob_key = keys("create", "--consumer", "bob", config=gw.config)

    def call(cert=None, key=None):
        args = ["-H", f"authorization: Bearer {key}"] if key else []
        out = subprocess.run(["curl", "-sS", "--cacert", f"{pki}/server.pem", "-o", "-", "-w", "\n%{http_code}", *args,
                              f"https://localhost:{gw.port}/m/x", "--resolve", f"localhost:{gw.port}:127.0.0.1"]
                             + (["--cert", f"{pki}/{cert}.pem", "--key", f"{pki}/{cert}.key"] if cert else []),
                             capture_output=True, text=True, timeout=20)
        return out.stdout.rsplit("\n", 1)

    wait_for("keys", lambda: call(key=bob_key)[1] == "200")
    assert call(cert="by-cn")[1] == "200"                      # the certificate alone identifies
    assert call(cert="by-cn", key=ops_key)[1] == "200"         # its own key too
    body, status = call(cert="by-cn", key=bob_key)             # Alice's certificate, Bob's key
    assert status == "403" and "Conflicting identities" in body
    assert call(cert="by-cn", key="not-a-key")[1] == "401"     # a key shown must be valid
    assert call(key=bob_key)[1] == "200" and call()[1] == "401"
    metrics = request(gw.admin_port, "GET", "/metrics")[2].decode()
    assert 'reason="conflicting_identities"' in metrics
