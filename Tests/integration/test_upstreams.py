"""Weighted and hashed balancing, failures (502/503/504) and retries, over real sockets."""
import json
import time

from conftest import request, service
from upstream import free_port


def who(port, path="/", headers=None):
    status, _, body = request(port, "GET", path, headers=headers)
    assert status == 200, body
    return json.loads(body)["upstream"]


def test_weighted_canary_gets_its_share(gateway, upstreams):
    stable, canary = upstreams("stable"), upstreams("canary")
    gw = gateway(f"""services:
  - name: users
    upstream:
      targets:
        - {{ url: {stable.url}, weight: 95 }}
        - {{ url: {canary.url}, weight: 5 }}
    routes: [{{ paths: [/] }}]
""")
    counts = {"stable": 0, "canary": 0}
    for _ in range(1000):
        counts[who(gw.port)] += 1
    # Each event loop runs smooth weighted round robin: per loop the split is exact.
    assert 930 <= counts["stable"] <= 970, counts


def test_weight_zero_gets_nothing_and_all_zero_is_503(gateway, upstreams):
    a, b = upstreams("a"), upstreams("b")
    gw = gateway(f"""services:
  - name: s
    upstream: {{ targets: [{{ url: {a.url}, weight: 0 }}, {{ url: {b.url}, weight: 10 }}] }}
    routes: [{{ paths: [/s] }}]
  - name: drained
    upstream: {{ targets: [{{ url: {a.url}, weight: 0 }}] }}
    routes: [{{ paths: [/drained] }}]
""")
    assert {who(gw.port, "/s") for _ in range(50)} == {"b"}
    status, headers, body = request(gw.port, "GET", "/drained")
    assert status == 503
    assert headers["content-type"] == "application/problem+json"
    assert a.requests == 0


def test_hash_on_header_keeps_a_key_on_one_target(gateway, upstreams):
    ups = [upstreams(f"u{i}") for i in range(3)]
    targets = ", ".join(f"{{ url: {u.url} }}" for u in ups)
    gw = gateway(f"""services:
  - name: s
    upstream: {{ targets: [{targets}], balance: hash, hash_on: {{ header: X-User }} }}
    routes: [{{ paths: [/] }}]
""")
    seen = {}
    for user in range(30):
        owners = {who(gw.port, headers={"X-User": f"user-{user}"}) for _ in range(5)}
        assert len(owners) == 1
        seen[user] = owners.pop()
    assert len(set(seen.values())) == 3  # keys spread over all targets


def test_least_connections_avoids_a_busy_target(gateway, upstreams):
    import threading
    busy, free = upstreams("busy"), upstreams("free")
    gw = gateway(f"""server: {{ event_loops: 1 }}
services:
  - name: s
    upstream: {{ targets: [{{ url: {busy.url} }}, {{ url: {free.url} }}], balance: least_connections }}
    routes: [{{ paths: [/] }}]
""")
    # Hold one slow request on each target, then 2 more slow ones on "busy" by pinning? No:
    # hold requests open on whichever target they land on, then check new ones go elsewhere.
    holders = [threading.Thread(target=request, args=(gw.port, "GET", "/slow?ms=1500")) for _ in range(3)]
    for t in holders:
        t.start()
    from conftest import wait_for
    wait_for("3 slow requests in flight", lambda: busy.requests + free.requests >= 3)
    # 3 in flight: one target has 2, the other 1; the next picks must go to the one with 1.
    lighter = "busy" if busy.requests < free.requests else "free"
    assert who(gw.port, "/quick") == lighter
    for t in holders:
        t.join()


def test_refused_connection_is_502_problem(gateway):
    gw = gateway("services:\n" + service("s", f"http://127.0.0.1:{free_port()}", ["/"]))
    status, headers, body = request(gw.port, "GET", "/x")
    assert status == 502
    assert json.loads(body)["title"] == "Upstream connection failed"


def test_connect_failure_retries_on_another_target(gateway, upstreams):
    live = upstreams("live")
    gw = gateway(f"""server: {{ event_loops: 1 }}
services:
  - name: s
    upstream:
      targets: [{{ url: http://127.0.0.1:{free_port()} }}, {{ url: {live.url} }}]
      retries: {{ attempts: 2, backoff: {{ base: 1ms, max: 2ms }} }}
    routes: [{{ paths: [/] }}]
""")
    for _ in range(10):
        assert who(gw.port) == "live"
    # POST is retried too when the connection was never made (nothing was sent).
    status, _, _ = request(gw.port, "POST", "/p", body=b"data")
    assert status == 200


def test_listed_status_is_retried_for_get_but_not_for_post(gateway, upstreams):
    up = upstreams()
    gw = gateway(f"""services:
  - name: s
    upstream:
      targets: [{{ url: {up.url} }}]
      retries: {{ attempts: 2, on: [503], backoff: {{ base: 1ms, max: 2ms }} }}
    routes: [{{ paths: [/] }}]
""")
    status, _, body = request(gw.port, "GET", "/status/503")
    assert status == 503 and json.loads(body) == {"status": "as asked"}  # the last answer is forwarded
    assert up.requests == 3
    status, _, _ = request(gw.port, "POST", "/status/503", body=b"x")
    assert status == 503
    assert up.requests == 4


def test_slow_upstream_is_504(gateway, upstreams):
    up = upstreams()
    gw = gateway(f"""services:
  - name: s
    upstream: {{ targets: [{{ url: {up.url} }}], timeouts: {{ per_try: 300ms, total: 1s }} }}
    routes: [{{ paths: [/] }}]
""")
    t0 = time.monotonic()
    status, _, body = request(gw.port, "GET", "/slow?ms=3000")
    assert status == 504
    assert json.loads(body)["title"] == "Upstream timed out"
    assert time.monotonic() - t0 < 2.5


def test_upstream_closing_without_answer_is_502(gateway, upstreams):
    up = upstreams()
    gw = gateway("services:\n" + service("s", up.url, ["/"]))
    status, _, body = request(gw.port, "POST", "/close", body=b"x")
    assert status == 502
    status, _, body = request(gw.port, "GET", "/malformed")
    assert status == 502
    assert json.loads(body)["title"] == "Malformed upstream response"
    assert request(gw.port, "GET", "/fine")[0] == 200


def test_hash_on_cookie_keeps_a_session_on_one_target(gateway, upstreams):
    ups = [upstreams(f"u{i}") for i in range(3)]
    targets = ", ".join(f"{{ url: {u.url} }}" for u in ups)
    gw = gateway(f"""services:
  - name: s
    upstream: {{ targets: [{targets}], balance: hash, hash_on: {{ cookie: session }} }}
    routes: [{{ paths: [/] }}]
""")
    owners = {}
    for sid in range(30):
        seen = {who(gw.port, headers={"Cookie": f"theme=dark; session=s{sid}; lang=en"}) for _ in range(4)}
        assert len(seen) == 1
        owners[sid] = seen.pop()
    assert len(set(owners.values())) >= 2
    # Without the cookie, requests are spread by weight.
    assert len({who(gw.port) for _ in range(30)}) == 3


def test_hash_on_client_ip_pins_one_client(gateway, upstreams):
    ups = [upstreams(f"u{i}") for i in range(3)]
    targets = ", ".join(f"{{ url: {u.url} }}" for u in ups)
    gw = gateway(f"""services:
  - name: s
    upstream: {{ targets: [{targets}], balance: hash, hash_on: {{ client_ip: true }} }}
    routes: [{{ paths: [/] }}]
""")
    assert len({who(gw.port) for _ in range(30)}) == 1  # every request comes from 127.0.0.1
