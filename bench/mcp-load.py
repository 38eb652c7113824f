"""Load for bench/mcp: C concurrent MCP sessions calling one tool over Streamable HTTP.

    python mcp-load.py URL TOOL CONNECTIONS SECONDS [--auth 'Bearer x']

Each connection opens its own session (initialize, notifications/initialized; the 2025-11-25
revision, which FastMCP, ContextForge and Triplegate all serve), then calls TOOL back to back
until the time is up. Answers may be JSON or SSE. Prints one JSON line: calls, calls/s, p50 and
p99 in ms, errors.
"""
import argparse
import asyncio
import json
import time

import httpx

p = argparse.ArgumentParser()
p.add_argument("url")
p.add_argument("tool")
p.add_argument("connections", type=int)
p.add_argument("seconds", type=float)
p.add_argument("--auth")
a = p.parse_args()


def parse(resp):
    if resp.headers.get("content-type", "").startswith("text/event-stream"):
        for line in resp.text.splitlines():
            if line.startswith("data:"):
                return json.loads(line[5:])
        return None
    return resp.json() if resp.content else None


async def session(client, deadline, latencies, errors):
    h = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
    if a.auth:  # an empty --auth sends none
        h["Authorization"] = a.auth
    init = {"jsonrpc": "2.0", "id": 0, "method": "initialize",
            "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "bench", "version": "1"}}}
    r = await client.post(a.url, json=init, headers=h)
    r.raise_for_status()
    sid = r.headers.get("mcp-session-id")
    if sid:
        h["Mcp-Session-Id"] = sid
    h["MCP-Protocol-Version"] = "2025-11-25"
    await client.post(a.url, json={"jsonrpc": "2.0", "method": "notifications/initialized"}, headers=h)
    i = 1
    while time.monotonic() < deadline:
        call = {"jsonrpc": "2.0", "id": i, "method": "tools/call", "params": {"name": a.tool, "arguments": {"text": "hi"}}}
        started = time.perf_counter()
        try:
            r = await client.post(a.url, json=call, headers=h)
            body = parse(r)
            if r.status_code != 200 or not body or "result" not in body:
                errors.append(r.status_code)
            else:
                latencies.append(time.perf_counter() - started)
        except httpx.HTTPError as e:
            errors.append(str(e))
        i += 1


async def main():
    latencies, errors = [], []
    limits = httpx.Limits(max_connections=a.connections, max_keepalive_connections=a.connections)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:
        deadline = time.monotonic() + a.seconds
        started = time.monotonic()
        await asyncio.gather(*(session(client, deadline, latencies, errors) for _ in range(a.connections)))
        elapsed = time.monotonic() - started
    latencies.sort()
    q = lambda f: latencies[min(len(latencies) - 1, int(f * len(latencies)))] * 1000 if latencies else 0
    print(json.dumps({"calls": len(latencies), "rps": len(latencies) / elapsed, "p50": q(0.5), "p99": q(0.99), "errors": len(errors)}))


asyncio.run(main())
