"""A hostile upstream MCP server (Streamable HTTP, answers as JSON or SSE), misbehaving as MODE says.

    python hostile_server.py MODE PORT

Modes:
  bad_utf8   its tools/list has a description whose bytes are not UTF-8
  trailing   it answers tools/call on an SSE stream, then goes on writing messages on that
             stream after the answer (a log message, a progress notification, a request of its
             own) and holds it open for up to 20 s (bounded); GET /stats says how many such
             streams are still open
  inventive  it sends, before its answer to tools/call, notifications no revision defines
             (`notifications/evil/custom`), one only 2025-11-25 defines
             (`notifications/elicitation/complete`), and defined ones
  huge_list  its tools/list has 100 pages of 3 MiB each
  null_id    it answers tools/call with an `id: null` parse error
  flood      it answers tools/call on an SSE stream with 150 MB of progress notifications (1,500
             of 100 KB) as fast as the client takes them, then the answer; GET /stats says how
             many it wrote and when all was sent
  pile       during tools/call it sends 100 roots/list requests on the call's stream, then
             answers how many were refused ("refused N", once all came back or after 10 s)
  trickle    it answers tools/call on an SSE stream with a progress notification every 0.5 s
             and the answer after 20 s (a byte a second keeps an idle timer happy); GET /stats
             says how many such streams are open and how many the client cut
Every mode answers initialize and ping; its one tool is `probe`, answering "hostile".
"""
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

mode, port = sys.argv[1], int(sys.argv[2])
# Streams still open after their answer (GET /stats shows it): the gateway should close them.
open_streams = 0
cut_streams = 0
flood_sent = False
flood_events = 0
refusals = 0
lock = threading.Lock()


def result(msg, value):
    return {"jsonrpc": "2.0", "id": msg["id"], "result": value}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def send_json(self, raw):
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.send_header("Mcp-Session-Id", "hostile-session")
        self.end_headers()
        self.wfile.write(raw)

    def start_sse(self, session=False):
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        if session:
            self.send_header("Mcp-Session-Id", "hostile-session")
        self.end_headers()

    def event(self, obj):
        data = b"event: message\ndata: " + json.dumps(obj).encode() + b"\n\n"
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def do_DELETE(self):
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self):
        if self.path == "/stats":
            with lock:
                return self.send_json(json.dumps({"open": open_streams, "cut": cut_streams, "sent": flood_sent, "events": flood_events}).encode())
        self.send_response(405)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_POST(self):
        global open_streams, cut_streams, flood_sent, flood_events, refusals
        msg = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        method = msg.get("method")
        if method is None:  # a response to a request of ours
            with lock:
                refusals += "error" in msg
            self.send_response(202)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if "id" not in msg:
            self.send_response(202)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if method == "initialize":
            return self.send_json(json.dumps(result(msg, {
                "protocolVersion": msg["params"].get("protocolVersion", "2025-06-18"), "capabilities": {"tools": {}},
                "serverInfo": {"name": "hostile", "version": "1"}})).encode())
        if method == "tools/list" and mode == "huge_list":
            page = int((msg.get("params") or {}).get("cursor") or 0)
            tool = {"name": f"probe{page}", "description": "d" * (3 << 20), "inputSchema": {"type": "object"}}
            body = {"tools": [tool]}
            if page < 99:
                body["nextCursor"] = str(page + 1)
            return self.send_json(json.dumps(result(msg, body)).encode())
        if method == "tools/list":
            tool = {"name": "probe", "description": "DESC", "inputSchema": {"type": "object"}}
            raw = json.dumps(result(msg, {"tools": [tool]})).encode()
            if mode == "bad_utf8":
                raw = raw.replace(b"DESC", b"caf\xe9 \xff\xfe")
            return self.send_json(raw)
        if method == "tools/call" and mode == "inventive":
            self.start_sse()
            token = msg["params"].get("_meta", {}).get("progressToken")
            for method_ in ("notifications/evil/custom", "notifications/elicitation/complete", "notifications/resources/updated"):
                self.event({"jsonrpc": "2.0", "method": method_, "params": {"uri": "memo://x", "elicitationId": "e1"}})
            self.event({"jsonrpc": "2.0", "method": "notifications/progress", "params": {"progressToken": token, "progress": 1}})
            self.event(result(msg, {"content": [{"type": "text", "text": "hostile"}]}))
            self.wfile.write(b"0\r\n\r\n")
            return
        if method == "tools/call" and mode == "trailing":
            self.start_sse(session=True)
            token = msg["params"].get("_meta", {}).get("progressToken")
            if token is not None:
                self.event({"jsonrpc": "2.0", "method": "notifications/progress", "params": {"progressToken": token, "progress": 1}})
            self.event(result(msg, {"content": [{"type": "text", "text": "hostile"}]}))
            with lock:
                open_streams += 1
            try:
                self.event({"jsonrpc": "2.0", "method": "notifications/message", "params": {"level": "error", "data": "after the answer"}})
                self.event({"jsonrpc": "2.0", "method": "notifications/progress", "params": {"progressToken": token, "progress": 9}})
                self.event({"jsonrpc": "2.0", "id": "srv-1", "method": "roots/list"})
                deadline = time.time() + 20
                while time.time() < deadline:
                    time.sleep(0.5)
                    self.event({"jsonrpc": "2.0", "method": "notifications/message", "params": {"level": "info", "data": "still here"}})
            except OSError:
                pass
            finally:
                with lock:
                    open_streams -= 1
            self.close_connection = True
            return
        if method == "tools/call" and mode == "flood":
            self.start_sse()
            token = msg["params"].get("_meta", {}).get("progressToken")
            pad = "p" * 100_000
            for i in range(1500):
                self.event({"jsonrpc": "2.0", "method": "notifications/progress",
                            "params": {"progressToken": token, "progress": i, "message": pad}})
                with lock:
                    flood_events += 1
            self.event(result(msg, {"content": [{"type": "text", "text": "hostile"}]}))
            self.wfile.write(b"0\r\n\r\n")
            with lock:
                flood_sent = True
            return
        if method == "tools/call" and mode == "pile":
            self.start_sse()
            for i in range(100):
                self.event({"jsonrpc": "2.0", "id": f"pile-{i}", "method": "roots/list"})
            deadline = time.time() + 10
            while time.time() < deadline and refusals < 68:
                time.sleep(0.05)
            self.event(result(msg, {"content": [{"type": "text", "text": f"refused {refusals}"}]}))
            self.wfile.write(b"0\r\n\r\n")
            return
        if method == "tools/call" and mode == "trickle":
            self.start_sse()
            token = msg["params"].get("_meta", {}).get("progressToken")
            with lock:
                open_streams += 1
            try:
                for i in range(40):
                    self.event({"jsonrpc": "2.0", "method": "notifications/progress", "params": {"progressToken": token, "progress": i}})
                    time.sleep(0.5)
                self.event(result(msg, {"content": [{"type": "text", "text": "hostile"}]}))
                self.wfile.write(b"0\r\n\r\n")
            except OSError:
                with lock:
                    cut_streams += 1
                self.close_connection = True
            finally:
                with lock:
                    open_streams -= 1
            return
        if method == "tools/call" and mode == "null_id":
            return self.send_json(json.dumps({"jsonrpc": "2.0", "id": None, "error": {
                "code": -32700, "message": "Parse error", "data": "from upstream"}}).encode())
        if method == "tools/call":
            return self.send_json(json.dumps(result(msg, {"content": [{"type": "text", "text": "hostile"}]})).encode())
        return self.send_json(json.dumps(result(msg, {})).encode())


ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
