"""rate_limit with store: redis: one limit across gateway processes, and what happens when
Redis goes away (fault_tolerant on: count locally; off: 503)."""
import json
import time

from conftest import request, wait_for


def config(up, redis, limit_yaml):
    return f"""redis: {redis.url}
services:
  - name: s
    upstream: {{ targets: [{{ url: {up.url} }}] }}
    policies:
      - rate_limit: {limit_yaml}
    routes: [{{ name: r, paths: [/] }}]
"""


def away_from_a_minute_boundary():
    # A sliding window weighs the previous minute in; starting well inside a minute keeps the
    # expected count exact. (A condition with a deadline, not a fixed sleep.)
    wait_for("a point well inside a minute", lambda: 3 <= time.time() % 60 <= 35, timeout=40)


def test_two_gateways_sharing_redis_enforce_one_limit_exactly(gateway, upstreams, redis_server):
    up = upstreams()
    text = config(up, redis_server, "{ by: route, minute: 100, store: redis }")
    a, b = gateway(text), gateway(text)
    away_from_a_minute_boundary()
    statuses = []
    for i in range(1000):
        gw = a if i % 2 == 0 else b
        statuses.append(request(gw.port, "GET", "/x")[0])
    assert statuses.count(200) == 100
    assert statuses.count(429) == 900
    assert up.requests == 100


def test_redis_decisions_carry_the_headers(gateway, upstreams, redis_server):
    up = upstreams()
    gw = gateway(config(up, redis_server, "{ minute: 2, store: redis }"))
    away_from_a_minute_boundary()
    answers = [request(gw.port, "GET", "/") for _ in range(3)]
    assert [s for s, _, _ in answers] == [200, 200, 429]
    assert answers[0][1]["ratelimit-remaining"] == "1" and answers[0][1]["ratelimit-limit"] == "2"
    refused = answers[2]
    assert int(refused[1]["retry-after"]) >= 1 and json.loads(refused[2])["title"] == "Rate limit exceeded"


def test_redis_down_with_fault_tolerance_counts_locally_and_says_so(gateway, upstreams, redis_server):
    up = upstreams()
    gw = gateway(config(up, redis_server, "{ minute: 3, store: redis, fault_tolerant: true }"))
    assert request(gw.port, "GET", "/")[0] == 200
    redis_server.stop()
    statuses = [request(gw.port, "GET", "/")[0] for _ in range(4)]
    assert statuses == [200, 200, 200, 429]  # the local limiter took over, from zero
    metrics = request(gw.admin_port, "GET", "/metrics")[2].decode()
    assert 'triplegate_limiter_store_errors_total{store="redis",action="fallback_local"}' in metrics
    wait_for("the warning", lambda: "redis limiter store unavailable; counting locally" in gw.logs())


def test_redis_down_without_fault_tolerance_refuses_with_503(gateway, upstreams, redis_server):
    up = upstreams()
    gw = gateway(config(up, redis_server, "{ minute: 100, store: redis, fault_tolerant: false }"))
    assert request(gw.port, "GET", "/")[0] == 200
    redis_server.stop()
    status, _, body = request(gw.port, "GET", "/")
    assert status == 503 and json.loads(body)["title"] == "Rate limiter unavailable"
    assert up.requests == 1


def test_a_request_body_waits_while_redis_decides(gateway, upstreams, redis_server):
    up = upstreams()
    gw = gateway(config(up, redis_server, "{ minute: 100, store: redis }"))
    body = b"z" * 300_000  # more than one read: parts arrive while the policy is suspended
    status, _, answer = request(gw.port, "POST", "/upload", body=body)
    assert status == 200 and json.loads(answer)["bytes"] == len(body)


def test_redis_token_bucket_is_shared_and_refills(gateway, upstreams, redis_server):
    # 60 a minute with a burst of 5: two gateways together get exactly the burst at once, then
    # one token a second (Redis's clock, not either process's).
    up = upstreams()
    text = config(up, redis_server, "{ by: route, minute: 60, burst: 5, algorithm: token_bucket, store: redis }")
    a, b = gateway(text), gateway(text)
    answers = [request((a if i % 2 == 0 else b).port, "GET", "/") for i in range(8)]
    statuses = [s for s, _, _ in answers]
    assert statuses[:5] == [200] * 5 and statuses[5:] == [429] * 3, statuses
    assert answers[0][1]["ratelimit-limit"] == "5" and answers[0][1]["ratelimit-remaining"] == "4"
    assert answers[5][1]["retry-after"] == "1"
    # A token comes back within about a second, on either gateway.
    wait_for("a refilled token", lambda: request(b.port, "GET", "/")[0] == 200, timeout=5)
