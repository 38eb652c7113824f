"""The JSON access log: one line per request with the configured fields."""
import json

from conftest import raw, request, wait_for


def test_one_json_line_per_request_with_route_consumer_status_and_timings(gateway, upstreams, tmp_path):
    up = upstreams()
    log = tmp_path / "access.log"
    gw = gateway(f"""telemetry: {{ access_log: {{ path: {log} }} }}
services:
  - name: api
    upstream: {{ targets: [{{ url: {up.url} }}] }}
    policies: [{{ rate_limit: {{ minute: 2 }} }}]
    routes: [{{ name: items, paths: [/items] }}]
""")
    request(gw.port, "POST", "/items?secret=1", body=b"abc")
    request(gw.port, "GET", "/items")
    request(gw.port, "GET", "/items")  # refused by the limit
    request(gw.port, "GET", "/nowhere")
    raw(gw.port, b"BROKEN\r\n\r\n")
    lines = wait_for("5 log lines", lambda: (l := log.read_text().splitlines()) and len(l) >= 5 and l)
    entries = [json.loads(l) for l in lines]
    first = entries[0]
    assert first["method"] == "POST" and first["path"] == "/items"  # no query string
    assert first["service"] == "api" and first["route"] == "items"
    assert first["status"] == 200 and first["bytes"] > 0
    assert first["upstream"] == f"127.0.0.1:{up.port}"
    assert first["upstream_ms"] >= 0 and first["total_ms"] >= first["upstream_ms"]
    assert first["limit"] == "allowed"
    assert first["request_id"]
    assert [e["status"] for e in entries] == [200, 200, 429, 404, 400]
    assert entries[2]["limit"] == "refused" and entries[2]["upstream"] is None
    assert list(first.keys()) == ["time", "request_id", "consumer", "team", "service", "route", "method", "path",
                                  "status", "bytes", "upstream", "upstream_ms", "total_ms", "limit", "gen_ai"]


def test_fields_are_configurable(gateway, upstreams, tmp_path):
    up = upstreams()
    log = tmp_path / "access.log"
    gw = gateway(f"""telemetry: {{ access_log: {{ path: {log}, fields: [status, route, total_ms] }} }}
services:
  - {{ name: s, upstream: {{ targets: [{{ url: {up.url} }}] }}, routes: [{{ name: r, paths: [/] }}] }}
""")
    request(gw.port, "GET", "/x")
    line = wait_for("a log line", lambda: log.read_text().strip())
    entry = json.loads(line)
    assert list(entry.keys()) == ["status", "route", "total_ms"]
    assert entry["status"] == 200 and entry["route"] == "r"
