"""Streaming part of bench/llm: time to first and last byte through each case, sequential and at
8 concurrent streams, and a check that every upstream event arrived (the usage chunk included).

Usage: llm-stream.py REQUEST_JSON UPSTREAM_STREAM name=port=path=key ...

With WAKE_LITELLM=PID, the stopped LiteLLM process is woken (SIGCONT) for its own case only and
stopped again after it, as in the non-streaming cases: it shares the proxies' core and its
background loops would otherwise run during the others.
"""
import http.client
import os
import signal
import statistics
import sys
import threading
import time

body = open(sys.argv[1], "rb").read()
expected = open(sys.argv[2]).read().count("data: ")
cases = [c.split("=", 3) for c in sys.argv[3:]]


def stream(conn, path, key):
    began = time.perf_counter()
    conn.request("POST", path, body=body, headers={"content-type": "application/json", "authorization": f"Bearer {key}"})
    r = conn.getresponse()
    first = r.read1(65536)
    ttfb = time.perf_counter() - began
    data = first + r.read()
    ttlb = time.perf_counter() - began
    assert r.status == 200, (r.status, data[:200])
    return ttfb, ttlb, data.count(b"data: "), b'"usage": {"prompt_tokens"' in data or b'"usage":{"prompt_tokens"' in data


def run(port, path, key, n):
    conn = http.client.HTTPConnection("127.0.0.1", int(port), timeout=30)
    out = [stream(conn, path, key) for _ in range(n)]
    conn.close()
    return out


results = {}
wake = int(os.environ.get("WAKE_LITELLM", "0"))
for name, port, path, key in cases:
    n = 40 if name == "litellm" else 400
    if name == "litellm" and wake:
        os.kill(wake, signal.SIGCONT)
    run(port, path, key, 5)  # warm-up
    seq = run(port, path, key, n)
    conc = []
    lock = threading.Lock()

    def worker():
        got = run(port, path, key, n // 8)
        with lock:
            conc.extend(got)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    events_ok = all(e == expected and u for _, _, e, u in seq + conc)
    results[name] = (seq, conc, events_ok)
    if name == "litellm" and wake:
        os.kill(wake, signal.SIGSTOP)

ms = lambda xs, i, q: 1000 * (statistics.median(x[i] for x in xs) if q == 50 else sorted(x[i] for x in xs)[int(len(xs) * 0.99) - 1])
print(f"\nstreaming ({expected} events per stream)")
print(f"{'case':<12}{'TTFB p50':>10}{'TTLB p50':>10}{'TTLB p99':>10}{'8-conc TTFB p50':>17}{'8-conc TTLB p50':>17}{'all events':>12}")
for name, (seq, conc, ok) in results.items():
    print(f"{name:<12}{ms(seq,0,50):>10.3f}{ms(seq,1,50):>10.3f}{ms(seq,1,99):>10.3f}{ms(conc,0,50):>17.3f}{ms(conc,1,50):>17.3f}{str(ok):>12}")
d = results["direct"]
for name in ("nginx", "triplegate", "litellm"):
    if name in results:
        r = results[name]
        print(f"{name} adds {ms(r[0],0,50) - ms(d[0],0,50):.3f} ms to TTFB and {ms(r[0],1,50) - ms(d[0],1,50):.3f} ms to TTLB (sequential p50); "
              f"{ms(r[1],1,50) - ms(d[1],1,50):.3f} ms TTLB at 8 concurrent")
