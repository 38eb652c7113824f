"""key_auth and acl through the real binary, with keys made by `triplegate keys`."""
import json
import subprocess
import time

from conftest import BIN, request, wait_for


def make_config(up, store):
    return f"""store: {store if isinstance(store, str) else f"sqlite:{store}"}
consumers:
  - {{ name: web-app, team: growth, groups: [group-user] }}
  - {{ name: ops-console, team: platform, groups: [group-admin] }}
services:
  - name: admin-service
    upstream: {{ targets: [{{ url: {up.url} }}] }}
    policies:
      - key_auth: {{}}
      - acl: {{ allow: [group-admin] }}
    routes: [{{ paths: [/admin-api] }}]
  - name: app
    upstream: {{ targets: [{{ url: {up.url} }}] }}
    policies:
      - key_auth: {{}}
    routes: [{{ paths: [/app] }}]
  - name: public
    upstream: {{ targets: [{{ url: {up.url} }}] }}
    policies:
      - key_auth: {{ anonymous: true }}
    routes: [{{ paths: [/public] }}]
"""


def keys(*args, config=None):
    out = subprocess.run([BIN, "keys", *args, "--config", str(config)], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_keys_authenticate_acl_authorizes_and_credentials_stay_here(gateway, upstreams, tmp_path):
    up = upstreams()
    store = tmp_path / "keys.db"
    gw = gateway(make_config(up, store))
    admin_key = keys("create", "--consumer", "ops-console", config=gw.config)
    user_key = keys("create", "--consumer", "web-app", config=gw.config)
    assert admin_key.startswith("tg-") and admin_key != user_key
    # The store holds digests only: neither key appears in the file.
    wait_for("keys to load", lambda: request(gw.port, "GET", "/app", headers={"X-Api-Key": user_key})[0] == 200)
    raw = store.read_bytes() + (store.with_name("keys.db-wal").read_bytes() if store.with_name("keys.db-wal").exists() else b"")
    assert admin_key.encode() not in raw and user_key.encode() not in raw

    status, _, body = request(gw.port, "GET", "/admin-api/x", headers={"Authorization": f"Bearer {admin_key}"})
    assert status == 200
    seen = json.loads(body)["headers"]
    assert "authorization" not in seen  # hide_credentials
    status, headers, body = request(gw.port, "GET", "/admin-api/x", headers={"X-Api-Key": user_key})
    assert status == 403 and json.loads(body)["title"] == "Consumer is not allowed here"
    status, headers, _ = request(gw.port, "GET", "/admin-api/x")
    assert status == 401 and headers["www-authenticate"] == 'Bearer realm="triplegate"'
    status, headers, _ = request(gw.port, "GET", "/app", headers={"X-Api-Key": "tg-made-up"})
    assert status == 401 and 'error="invalid_token"' in headers["www-authenticate"]
    assert request(gw.port, "GET", "/public")[0] == 200
    assert request(gw.port, "GET", "/public", headers={"X-Api-Key": "tg-made-up"})[0] == 401


def test_a_revoked_key_is_refused_within_a_second_by_every_gateway_sharing_the_store(gateway, upstreams, store):
    up = upstreams()
    a = gateway(make_config(up, store.spec))
    b = gateway(make_config(up, store.spec))
    key = keys("create", "--consumer", "web-app", config=a.config)
    for gw in (a, b):
        wait_for("key to load", lambda: request(gw.port, "GET", "/app", headers={"X-Api-Key": key})[0] == 200)
    listing = keys("list", config=a.config)
    key_id = listing.splitlines()[1].split("\t")[0]
    assert key not in listing
    keys("revoke", key_id, config=a.config)
    revoked_at = time.monotonic()
    for gw in (a, b):
        wait_for("revocation", lambda: request(gw.port, "GET", "/app", headers={"X-Api-Key": key})[0] == 401, timeout=1.0)
    assert time.monotonic() - revoked_at < 1.0
    assert "revoked" in keys("list", config=a.config)


def test_keys_create_refuses_a_consumer_the_config_does_not_have(tmp_path, upstreams):
    up = upstreams()
    cfg = tmp_path / "c.yaml"
    cfg.write_text(make_config(up, tmp_path / "k.db"))
    out = subprocess.run([BIN, "keys", "create", "--consumer", "nobody", "--config", str(cfg)], capture_output=True, text=True)
    assert out.returncode != 0 and "nobody" in out.stderr


def test_rate_limit_by_consumer_counts_each_consumer_alone(gateway, upstreams, tmp_path):
    up = upstreams()
    gw = gateway(f"""store: sqlite:{tmp_path / 'k.db'}
consumers: [{{ name: a }}, {{ name: b }}]
services:
  - name: s
    upstream: {{ targets: [{{ url: {up.url} }}] }}
    policies:
      - key_auth: {{}}
      - rate_limit: {{ by: consumer, minute: 2 }}
    routes: [{{ paths: [/] }}]
""")
    ka = keys("create", "--consumer", "a", config=gw.config)
    kb = keys("create", "--consumer", "b", config=gw.config)
    wait_for("keys", lambda: request(gw.port, "GET", "/", headers={"X-Api-Key": kb})[0] == 200)
    assert [request(gw.port, "GET", "/", headers={"X-Api-Key": ka})[0] for _ in range(3)] == [200, 200, 429]
    assert request(gw.port, "GET", "/", headers={"X-Api-Key": kb})[0] == 200  # b's second request
    assert request(gw.port, "GET", "/", headers={"X-Api-Key": kb})[0] == 429
