"""Secrets stay secret and the admin API is not a web page's to use: a key sent in the query
never goes upstream, a Redis password is a password (not part of a host name), secret-bearing
config is redacted wherever config is shown, and the admin listener checks Host and Origin."""
import json
import subprocess

import pytest

from conftest import BIN, RedisServer, request, wait_for
from test_identity import keys


def test_a_key_in_the_query_is_not_forwarded(gateway, upstreams, tmp_path):
    up = upstreams()
    gw = gateway(f"""store: sqlite:{tmp_path}/keys.db
consumers: [{{ name: app }}]
services:
  - name: s
    upstream: {{ targets: [{{ url: {up.url} }}] }}
    policies: [key_auth: {{ query_names: [api_key] }}]
    routes: [{{ paths: [/] }}]
""")
    key = keys("create", "--consumer", "app", config=gw.config)
    wait_for("key", lambda: request(gw.port, "GET", f"/echo?api_key={key}")[0] == 200)
    status, _, body = request(gw.port, "GET", f"/echo?a=1&api_key={key}&b=2&api_key=again")
    assert status == 200
    seen = json.loads(body)
    assert key not in json.dumps(seen) and "api_key" not in seen["path"]
    assert seen["path"] == "/echo?a=1&b=2"
    status, _, body = request(gw.port, "GET", f"/echo?api_key={key}")
    assert json.loads(body)["path"] == "/echo"


@pytest.fixture
def redis_with_password(tmp_path):
    r = RedisServer(tmp_path)
    out = subprocess.run(["redis-cli", "-p", str(r.port), "CONFIG", "SET", "requirepass", "s3cr:t@pw"], capture_output=True, text=True)
    assert out.stdout.strip() == "OK", out
    yield r
    r.stop()


def limit_config(redis_url, up):
    return f"""redis: "{redis_url}"
services:
  - name: s
    upstream: {{ targets: [{{ url: {up.url} }}] }}
    policies: [rate_limit: {{ by: route, minute: 2, store: redis, fault_tolerant: false }}]
    routes: [{{ paths: [/] }}]
"""


def test_a_redis_password_is_used_to_log_in_and_never_shown(gateway, upstreams, redis_with_password):
    up = upstreams()
    url = f"redis://:s3cr%3At%40pw@127.0.0.1:{redis_with_password.port}/3"
    g1, g2 = gateway(limit_config(url, up)), gateway(limit_config(url, up))
    # Shared through Redis (db 3): two gateways count one limit.
    assert request(g1.port, "GET", "/ok")[0] == 200
    assert request(g2.port, "GET", "/ok")[0] == 200
    assert request(g1.port, "GET", "/ok")[0] == 429
    out = subprocess.run(["redis-cli", "-p", str(redis_with_password.port), "-a", "s3cr:t@pw", "--no-auth-warning", "-n", "3", "DBSIZE"],
                         capture_output=True, text=True)
    assert int(out.stdout.strip()) >= 1
    status, _, body = request(g1.admin_port, "GET", "/admin/config")
    assert status == 200 and "s3cr" not in body.decode()
    assert json.loads(body)["redis"] == f"redis://:[redacted]@127.0.0.1:{redis_with_password.port}/3"
    assert "s3cr" not in g1.logs()


def test_a_wrong_redis_password_fails_closed_without_leaking(gateway, upstreams, redis_with_password):
    up = upstreams()
    g = gateway(limit_config(f"redis://:wrong-pass@127.0.0.1:{redis_with_password.port}", up))
    assert request(g.port, "GET", "/ok")[0] == 503  # fault_tolerant: false
    assert "wrong-pass" not in g.logs()


@pytest.mark.parametrize("url", ["redis://:pw@", "redis://h:99999", "http://h", "redis://h/x", "redis://h?password=x", "redis://a@b@"])
def test_an_unparseable_redis_url_is_a_config_error_that_does_not_echo_it(tmp_path, url):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f'redis: "{url}"\nservices: []\n')
    out = subprocess.run([BIN, "check", str(cfg)], capture_output=True, text=True, timeout=30)
    assert out.returncode == 1 and "redis: must be redis://" in out.stdout + out.stderr
    assert url not in out.stdout + out.stderr


def test_secret_bearing_config_is_redacted(gateway, upstreams, tmp_path):
    up = upstreams()
    gw = gateway(f"""services:
  - name: s
    upstream: {{ targets: [{{ url: "http://user:up-pass@127.0.0.1:{up.port}" }}] }}
    routes: [{{ paths: [/] }}]
mcp:
  servers:
    - {{ name: tools, command: ["/bin/true", "--token", "mcp-token"], env: {{ TOKEN: env-token }} }}
    - {{ name: remote, url: "http://127.0.0.1:1/mcp", headers: {{ Authorization: "Bearer url-token" }} }}
  access: [{{ allow: ["*"] }}]
  policies: [{{ key_auth: {{ anonymous: true }} }}]
""")
    _, _, body = request(gw.admin_port, "GET", "/admin/config")
    text = body.decode()
    for secret in ["up-pass", "mcp-token", "env-token", "url-token"]:
        assert secret not in text, secret
    out = subprocess.run([BIN, "check", "--explain", str(gw.config)], capture_output=True, text=True, timeout=30)
    assert "up-pass" not in out.stdout and "[redacted]" in out.stdout


@pytest.mark.parametrize("headers,status", [
    ({}, 200),
    ({"Host": "localhost:9901"}, 200),
    ({"Host": "evil.example"}, 403),                                   # DNS rebinding
    ({"Host": "127.0.0.1", "Origin": "https://evil.example"}, 403),     # a cross-site page
    ({"Host": "127.0.0.1", "Origin": "null"}, 403),
    ({"Host": "127.0.0.1", "Sec-Fetch-Site": "cross-site"}, 403),
    ({"Host": "admin.internal"}, 200),                                  # named in allowed_hosts
])
def test_the_admin_listener_checks_host_and_origin(gateway, upstreams, headers, status):
    up = upstreams()
    gw = gateway(f"""admin: {{ allowed_hosts: [admin.internal] }}
services:
  - name: s
    upstream: {{ targets: [{{ url: {up.url} }}] }}
    routes: [{{ paths: [/] }}]
""")
    h = dict(headers)
    if "Host" in h and h["Host"].startswith("127.0.0.1"):
        h["Host"] = f"127.0.0.1:{gw.admin_port}"
        if "Origin" in h and h["Origin"] == "same":
            h["Origin"] = f"http://127.0.0.1:{gw.admin_port}"
    got, _, _ = request(gw.admin_port, "GET", "/admin/config", headers=h)
    assert got == status
    same = {"Host": f"127.0.0.1:{gw.admin_port}", "Origin": f"http://127.0.0.1:{gw.admin_port}"}
    assert request(gw.admin_port, "GET", "/admin/config", headers=same)[0] == 200
