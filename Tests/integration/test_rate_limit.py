"""The rate_limit policy over real sockets: 429 with Retry-After and RateLimit-* headers,
headers on allowed responses, one bucket per key, counters kept across a reload."""
import json
import os

from conftest import request, wait_for


def config(up, limit_yaml):
    return f"""services:
  - name: s
    upstream: {{ targets: [{{ url: {up.url} }}] }}
    policies:
      - rate_limit: {limit_yaml}
    routes: [{{ name: r, paths: [/] }}]
"""


def test_limit_refuses_with_429_and_headers(gateway, upstreams):
    up = upstreams()
    gw = gateway(config(up, "{ minute: 3 }"))
    answers = [request(gw.port, "GET", "/x") for _ in range(4)]
    assert [a[0] for a in answers] == [200, 200, 200, 429]
    assert [a[1]["ratelimit-remaining"] for a in answers[:3]] == ["2", "1", "0"]
    assert all(a[1]["ratelimit-limit"] == "3" for a in answers)
    status, headers, body = answers[3]
    assert headers["content-type"] == "application/problem+json"
    assert 1 <= int(headers["retry-after"]) <= 60
    problem = json.loads(body)
    assert problem["title"] == "Rate limit exceeded" and problem["request_id"] == headers["x-request-id"]
    assert up.requests == 3  # the refused request never reached the upstream


def test_each_header_value_has_its_own_bucket(gateway, upstreams):
    up = upstreams()
    gw = gateway(config(up, "{ by: header:X-User, minute: 2 }"))
    alice = [request(gw.port, "GET", "/", headers={"X-User": "alice"})[0] for _ in range(3)]
    bob = [request(gw.port, "GET", "/", headers={"X-User": "bob"})[0] for _ in range(2)]
    assert alice == [200, 200, 429]
    assert bob == [200, 200]


def test_a_reload_keeps_the_counters(gateway, upstreams):
    up = upstreams()
    gw = gateway(config(up, "{ minute: 2 }"))
    assert [request(gw.port, "GET", "/")[0] for _ in range(2)] == [200, 200]
    text = gw.config.read_text().replace("routes: [{ name: r, paths: [/] }]", "routes: [{ name: r, paths: [/] }, { name: extra, paths: [/extra] }]")
    tmp = gw.config.with_suffix(".tmp")
    tmp.write_text(text)
    os.replace(tmp, gw.config)
    wait_for("reload", lambda: "config reloaded" in gw.logs())
    assert request(gw.port, "GET", "/")[0] == 429
