"""An MCP agent for the MCP gate's tests: the official Python SDK of either generation.

    python agent.py URL OPS_JSON [--key KEY] [--transport streamable-http|sse] [--mode auto|legacy]

Runs the operations in OPS_JSON (a list of {"op": ...}) over one connection and prints one JSON
object: {"sdk": "1"|"2", "results": [...]}. Errors become {"error": {"code", "message"}}.
"""
import argparse
import asyncio
import json

import mcp

parser = argparse.ArgumentParser()
parser.add_argument("url")
parser.add_argument("ops")
parser.add_argument("--key")
parser.add_argument("--transport", default="streamable-http")
parser.add_argument("--mode", default="auto")
args = parser.parse_args()
headers = {"Authorization": f"Bearer {args.key}"} if args.key else {}
try:
    from mcp.client import Client  # noqa: F401  (2.x only)
    SDK2 = True
except ImportError:
    SDK2 = False


def dump_result(r):
    out = {"isError": bool(getattr(r, "is_error", getattr(r, "isError", False)))}
    texts = [c.text for c in r.content if getattr(c, "type", "") == "text"]
    out["text"] = "\n".join(texts)
    out["structured"] = getattr(r, "structured_content", getattr(r, "structuredContent", None))
    return out


async def run(session, ops):
    results = []
    for op in ops:
        try:
            kind = op["op"]
            if kind == "list_tools":
                results.append(sorted(t.name for t in (await session.list_tools()).tools))
            elif kind == "tools":
                results.append({t.name: t.model_dump(by_alias=True, exclude_none=True) for t in (await session.list_tools()).tools})
            elif kind == "call":
                events = []

                async def on_progress(p, t, m, events=events):
                    events.append(p)

                cb = on_progress if op.get("progress") else None
                # A 2026-07-28 request opts in to log messages in its _meta.
                meta = {"io.modelcontextprotocol/logLevel": op["log_level"]} if "log_level" in op else None
                LOGS.clear()
                r = await session.call_tool(op["name"], op.get("args", {}), progress_callback=cb, meta=meta)
                d = dump_result(r)
                if op.get("progress"):
                    d["progress"] = events
                if op.get("logs"):
                    d["logs"] = list(LOGS)
                results.append(d)
            elif kind == "list_prompts":
                results.append(sorted(p.name for p in (await session.list_prompts()).prompts))
            elif kind == "get_prompt":
                r = await session.get_prompt(op["name"], op.get("args", {}))
                results.append([m.content.text for m in r.messages])
            elif kind == "list_resources":
                results.append(sorted(str(x.uri) for x in (await session.list_resources()).resources))
            elif kind == "list_templates":
                r = await session.list_resource_templates()
                if SDK2:
                    results.append(sorted(x.uri_template for x in r.resource_templates))
                else:
                    results.append(sorted(x.uriTemplate for x in r.resourceTemplates))
            elif kind == "read":
                r = await session.read_resource(op["uri"])
                results.append([c.text for c in r.contents])
            elif kind == "wait_list_changed":
                await asyncio.wait_for(LIST_CHANGED.wait(), timeout=op.get("timeout", 10))
                results.append("changed")
            elif kind == "subscribe":
                await session.subscribe_resource(op["uri"])
                results.append("subscribed")
            elif kind == "wait_updated":
                await asyncio.wait_for(UPDATED_EVENT.wait(), timeout=op.get("timeout", 10))
                results.append(UPDATED)
            elif kind == "complete":
                from mcp.types import PromptReference, ResourceTemplateReference
                if "prompt" in op:
                    ref = PromptReference(type="ref/prompt", name=op["prompt"])
                else:
                    ref = ResourceTemplateReference(type="ref/resource", uri=op["template"])
                r = await session.complete(ref, {"name": op["arg"], "value": op["value"]})
                results.append(r.completion.values)
            elif kind == "set_level":
                await session.set_logging_level(op["level"])
                results.append("set")
            elif kind == "ping":
                await session.send_ping()
                results.append("pong")
            else:
                results.append({"error": {"code": 0, "message": f"unknown op {kind}"}})
        except Exception as e:  # noqa: BLE001 - reported to the test
            err = getattr(e, "error", None)
            code = getattr(err, "code", None) if err is not None else getattr(e, "code", None)
            results.append({"error": {"code": code, "message": str(e), "type": type(e).__name__}})
    return results


async def on_sampling(context, params):
    from mcp.types import CreateMessageResult, TextContent
    text = params.messages[0].content.text
    return CreateMessageResult(role="assistant", content=TextContent(type="text", text=text.upper()), model="fake-model")


async def on_elicitation(context, params):
    from mcp.types import ElicitResult
    return ElicitResult(action="accept", content={"ok": True})


async def on_roots(context):
    from mcp.types import ListRootsResult, Root
    return ListRootsResult(roots=[Root(uri="file:///work/project", name="project")])


LOGS = []


async def on_log(params):
    LOGS.append(f"{params.level}:{params.data}")


LIST_CHANGED = asyncio.Event()
UPDATED = []
UPDATED_EVENT = asyncio.Event()


async def on_message(message):
    root = getattr(message, "root", message)
    if getattr(root, "method", None) == "notifications/tools/list_changed":
        LIST_CHANGED.set()
    if getattr(root, "method", None) == "notifications/resources/updated":
        UPDATED.append(str(root.params.uri))
        UPDATED_EVENT.set()


CALLBACKS = {"sampling_callback": on_sampling, "elicitation_callback": on_elicitation, "list_roots_callback": on_roots,
             "message_handler": on_message, "logging_callback": on_log}


async def main():
    ops = json.loads(args.ops)
    if SDK2:
        import httpx2
        from mcp.client import Client
        from mcp.client.streamable_http import streamable_http_client
        http = httpx2.AsyncClient(headers=headers, timeout=30)
        if args.transport == "sse":
            from mcp.client.sse import sse_client
            transport = sse_client(args.url, headers=headers)
        else:
            transport = streamable_http_client(args.url, http_client=http)
        async with Client(transport, mode=args.mode, **CALLBACKS) as client:
            era = "modern" if getattr(client.session, "discover_result", None) is not None else "handshake"
            results = await run(client, ops)
        print(json.dumps({"sdk": "2", "era": era, "results": results}))
    else:
        from mcp import ClientSession
        if args.transport == "sse":
            from mcp.client.sse import sse_client
            ctx = sse_client(args.url, headers=headers)
        else:
            from mcp.client.streamable_http import streamablehttp_client
            ctx = streamablehttp_client(args.url, headers=headers)
        async with ctx as streams:
            async with ClientSession(streams[0], streams[1], **CALLBACKS) as session:
                init = await session.initialize()
                results = await run(session, ops)
        print(json.dumps({"sdk": "1", "era": init.protocolVersion, "results": results}))


asyncio.run(main())
