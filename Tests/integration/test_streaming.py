"""Bodies stream both ways: SSE events arrive one by one, and 1 GiB passes in each direction
while the gateway's peak RSS stays under 100 MiB."""
import http.client
import json
import zlib

from conftest import request, service

GIB = 1 << 30
RSS_LIMIT_KIB = 100 * 1024


def test_sse_event_arrives_while_the_upstream_holds_the_response_open(gateway, upstreams):
    up = upstreams()
    gw = gateway("services:\n" + service("s", up.url, ["/"]))
    c = http.client.HTTPConnection("127.0.0.1", gw.port, timeout=10)
    c.request("GET", "/sse?n=3", headers={"Accept": "text/event-stream"})
    r = c.getresponse()
    assert r.status == 200
    assert r.getheader("content-type") == "text/event-stream"
    # The upstream sent event 0 and now waits for `release`: event 0 must already be here.
    first = r.read1(65536)
    assert first == b"data: event-0\n\n", first
    assert not up.release.is_set()
    up.release.set()
    assert r.read() == b"data: event-1\n\ndata: event-2\n\n"
    c.close()


def test_sse_through_h2c_streams_too(gateway, upstreams):
    import subprocess
    up = upstreams()
    gw = gateway("services:\n" + service("s", up.url, ["/"]))
    p = subprocess.Popen(["curl", "-sN", "--http2-prior-knowledge", f"{gw.url}/sse?n=2"], stdout=subprocess.PIPE)
    line = p.stdout.readline()
    assert line == b"data: event-0\n"
    assert not up.release.is_set()
    up.release.set()
    out = p.stdout.read()
    p.wait(10)
    assert b"data: event-1" in out


def test_one_gib_download_streams_with_bounded_memory(gateway, upstreams):
    up = upstreams()
    gw = gateway("services:\n" + service("s", up.url, ["/"]))
    c = http.client.HTTPConnection("127.0.0.1", gw.port, timeout=60)
    c.request("GET", f"/big?bytes={GIB}")
    r = c.getresponse()
    assert r.status == 200
    assert r.getheader("content-length") == str(GIB)
    total = 0
    while True:
        chunk = r.read(1 << 20)
        if not chunk:
            break
        total += len(chunk)
    c.close()
    assert total == GIB
    assert gw.rss_peak_kib() < RSS_LIMIT_KIB, gw.rss_peak_kib()


def test_one_gib_upload_streams_with_bounded_memory(gateway, upstreams):
    up = upstreams()
    gw = gateway("services:\n" + service("s", up.url, ["/"]))
    block = bytes(range(256)) * 256  # 64 KiB
    crc = 0
    def body():
        nonlocal crc
        for _ in range(GIB // len(block)):
            crc = zlib.crc32(block, crc)
            yield block
    c = http.client.HTTPConnection("127.0.0.1", gw.port, timeout=60)
    c.request("POST", "/upload", body=body(), headers={"Content-Length": str(GIB)})
    r = c.getresponse()
    assert r.status == 200
    assert json.loads(r.read()) == {"bytes": GIB, "crc32": crc}
    c.close()
    assert gw.rss_peak_kib() < RSS_LIMIT_KIB, gw.rss_peak_kib()


def test_chunked_upload_streams_and_arrives_whole(gateway, upstreams):
    up = upstreams()
    gw = gateway("services:\n" + service("s", up.url, ["/"]))
    parts = [b"a" * 1000, b"b" * 50_000, b"c" * 7]
    c = http.client.HTTPConnection("127.0.0.1", gw.port, timeout=10)
    c.request("POST", "/upload", body=iter(parts), encode_chunked=True, headers={"Transfer-Encoding": "chunked"})
    r = c.getresponse()
    expected = zlib.crc32(b"".join(parts))
    assert json.loads(r.read()) == {"bytes": 51_007, "crc32": expected}


def test_a_stream_that_goes_silent_is_cut_after_the_read_timeout(gateway, upstreams):
    import time
    up = upstreams()
    gw = gateway(f"""services:
  - name: s
    upstream: {{ targets: [{{ url: {up.url} }}], timeouts: {{ read: 500ms }} }}
    routes: [{{ paths: [/] }}]
""")
    c = http.client.HTTPConnection("127.0.0.1", gw.port, timeout=10)
    c.request("GET", "/sse?n=2")
    r = c.getresponse()
    assert r.read1(65536) == b"data: event-0\n\n"
    t0 = time.monotonic()
    # The upstream now says nothing: the gateway cuts the response instead of ending it.
    try:
        rest = r.read()
        cut = not rest.endswith(b"event-1\n\n")
    except http.client.IncompleteRead:
        cut = True
    assert cut
    assert 0.4 < time.monotonic() - t0 < 3
    up.release.set()
    assert request(gw.port, "GET", "/after")[0] == 200
