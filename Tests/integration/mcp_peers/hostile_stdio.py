"""A hostile stdio MCP server: line-delimited JSON-RPC on stdin/stdout, misbehaving on command.

    python hostile_stdio.py

Tools: `endless` writes 40 MiB on stdout with no newline (then waits); `noisy` writes 200,000
lines on stderr, then answers "noisy"; `ok` answers "ok". Every write is bounded.
"""
import json
import sys
import time


def send(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


for line in sys.stdin:
    msg = json.loads(line)
    method, mid = msg.get("method"), msg.get("id")
    if mid is None:
        continue
    if method == "initialize":
        send({"jsonrpc": "2.0", "id": mid, "result": {"protocolVersion": msg["params"].get("protocolVersion", "2025-06-18"),
                                                      "capabilities": {"tools": {}}, "serverInfo": {"name": "hostile-stdio", "version": "1"}}})
    elif method == "tools/list":
        send({"jsonrpc": "2.0", "id": mid, "result": {"tools": [
            {"name": n, "inputSchema": {"type": "object"}} for n in ("endless", "noisy", "ok")]}})
    elif method == "tools/call":
        name = msg["params"]["name"]
        if name == "endless":
            chunk = "x" * (1 << 20)
            try:
                for _ in range(40):
                    sys.stdout.write(chunk)
                sys.stdout.flush()
            except BrokenPipeError:
                sys.exit(0)
            time.sleep(30)
            sys.exit(0)
        if name == "noisy":
            for i in range(200_000):
                sys.stderr.write(f"noise line {i} " + "n" * 100 + "\n")
            sys.stderr.flush()
        send({"jsonrpc": "2.0", "id": mid, "result": {"content": [{"type": "text", "text": name}]}})
    else:
        send({"jsonrpc": "2.0", "id": mid, "result": {}})
