#!/usr/bin/env python3
"""Drives an MCP server with the official Python SDK 2.x `Client` and reports what it saw.

Run it with the venv that scripts/setup-test-deps.sh makes (.tools/py/bin/python). It connects
to one target, runs the named scenarios one after the other on that one connection, and
prints ONE JSON object on stdout (diagnostics go to stderr):

    {"client": "python", "sdk": "mcp 2.3.0", "mode", "transport", "target",
     "connected": bool, "connect_error": str|null, "protocol_version", "server_info",
     "scenarios": {NAME: {"ok": bool, "error": str|null, "observed": {...}, "extra": {...}}},
     "notifications": [...], "elapsed_ms": int}

`observed` holds only what must be the same through the gateway as directly (no ids, no
timing); `extra` holds what helps a human read a failure. `ok` is false when the scenario
raised (the SDK's error text is in `error`); whether the observation is right is for the
caller (tests/it/sdk_clients.rs) to judge.

Targets: `--command JSON_ARRAY` (a stdio server command line) or `--url URL` (streamable
HTTP, with `--token` for `Authorization: Bearer`). `--gateway SERVER` means the target is
mcpgw: every downstream call goes through its `execute_tool {server, tool, args}` meta-tool
(with `agent_id` when `--agent` is given). Without it the tools are called directly.

Modes are the SDK's own: `auto` (probe `server/discover`, fall back to `initialize`),
`legacy` (always `initialize`), `2026-07-28` (adopt that version with no probe).

Every request has a timeout (`--timeout`, seconds) and the whole run has one too
(`--total-timeout`), so a silent server can never hang the caller.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
import traceback
from typing import Any

import anyio
import httpx2
import mcp_types as types
from mcp import Client, StdioServerParameters
from mcp.client import ClientRequestContext
from mcp.client.extension import advertise
from mcp.client.streamable_http import streamable_http_client

SCENARIOS = [
    "echo",
    "image",
    "structured",
    "gateway_error",
    "elicitation",
    "sampling",
    "roots",
    "log",
    "progress",
    "task",
]
# Run only when asked for: against the project's fixture (`ask` needs the client), not
# server-everything.
FIXTURE_SCENARIOS = ["fixture_input"]
# Run only when asked for: the names `tools/list` shows (direct mode is checked by them).
LIST_SCENARIOS = ["tool_names", "resources_prompts"]
# Run only when asked for: against @modelcontextprotocol/server-memory.
MEMORY_SCENARIOS = ["memory"]
MEMORY_ENTITY = {"name": "Ada", "entityType": "person", "observations": ["wrote the first program"]}
Observation = tuple[dict[str, Any], dict[str, Any]]
TASKS_EXTENSION = "io.modelcontextprotocol/tasks"
# What the callbacks answer; tests/it/sdk_clients.rs checks that the server saw exactly this.
ELICIT_ANSWER = {"name": "Ada Lovelace", "check": True, "integer": 7}
SAMPLING_TEXT = "The answer is 4."
SAMPLING_MODEL = "sdk-test-model"
ROOT_URI = "file:///tmp/mcpgw-sdk-root"
ROOT_NAME = "SDK test root"
SIMULATED_LOG = re.compile(r"(?i)level[- ]message")


def sdk_version() -> str:
    import importlib.metadata

    return f"mcp {importlib.metadata.version('mcp')}"


def describe(exc: BaseException) -> str:
    """One line naming the innermost errors of `exc` (task groups nest them)."""
    if isinstance(exc, BaseExceptionGroup):
        return "; ".join(describe(e) for e in exc.exceptions)
    text = str(exc).strip().replace("\n", " ")
    code = getattr(getattr(exc, "error", None), "code", None)
    name = type(exc).__name__
    if code is not None:
        name = f"{name}({code})"
    line = f"{name}: {text}" if text else name
    return line if len(line) <= 600 else line[:600] + "..."


def dump(model: Any) -> Any:
    if hasattr(model, "model_dump"):
        return model.model_dump(by_alias=True, mode="json", exclude_none=True)
    return model


def norm_result(raw: Any) -> dict[str, Any]:
    """The parts of a CallToolResult a caller uses: content, structuredContent, isError."""
    r = dump(raw)
    return {
        "content": r.get("content", []),
        "structuredContent": r.get("structuredContent"),
        "isError": bool(r.get("isError", False)),
    }


def progress_observation(seen: list[list[float | None]], result: dict[str, Any]) -> dict[str, Any]:
    """What must match through the gateway: progress arrived, in order, against the right
    total. The exact count is not compared: an SDK may drop the last notification when it
    races the response."""
    return {
        "progress": {
            "received": bool(seen),
            "in_order": all(seen[i][0] > seen[i - 1][0] for i in range(1, len(seen))),
            "totals": sorted({p[1] for p in seen}),
            "within_total": all(p[1] is not None and 1 <= p[0] <= p[1] for p in seen),
        },
        "result": result,
    }


class Recorder:
    def __init__(self) -> None:
        self.notifications: list[dict[str, Any]] = []
        self.logs: list[dict[str, Any]] = []
        self.elicitations: list[dict[str, Any]] = []
        self.samplings: list[dict[str, Any]] = []
        self.roots_requests = 0

    async def on_elicit(self, ctx: ClientRequestContext, params: types.ElicitRequestParams) -> types.ElicitResult:
        p = dump(params)
        self.elicitations.append({"mode": p.get("mode", "form"), "message": p.get("message")})
        if p.get("mode") == "url":
            return types.ElicitResult(action="accept")
        schema = p.get("requestedSchema", {}).get("properties", {})
        content = {k: v for k, v in ELICIT_ANSWER.items() if k in schema}
        if "interpretation" in schema:  # simulate-research-query's clarification
            content["interpretation"] = "technical"
        return types.ElicitResult(action="accept", content=content)

    async def on_sampling(
        self, ctx: ClientRequestContext, params: types.CreateMessageRequestParams
    ) -> types.CreateMessageResult:
        p = dump(params)
        self.samplings.append({"messages": p.get("messages"), "maxTokens": p.get("maxTokens")})
        return types.CreateMessageResult(
            role="assistant",
            content=types.TextContent(type="text", text=SAMPLING_TEXT),
            model=SAMPLING_MODEL,
            stop_reason="endTurn",
        )

    async def on_roots(self, ctx: ClientRequestContext) -> types.ListRootsResult:
        self.roots_requests += 1
        return types.ListRootsResult(roots=[types.Root(uri=ROOT_URI, name=ROOT_NAME)])

    async def on_log(self, params: types.LoggingMessageNotificationParams) -> None:
        self.logs.append(dump(params))

    async def on_message(self, message: Any) -> None:
        if isinstance(message, Exception):
            self.notifications.append({"exception": describe(message)})
            return
        m = dump(message)
        self.notifications.append({"method": m.get("method"), "params": m.get("params")})


class Runner:
    def __init__(self, client: Client, rec: Recorder, args: argparse.Namespace) -> None:
        self.client = client
        self.rec = rec
        self.args = args
        self.gateway = args.gateway

    def wrap(self, tool: str, arguments: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        """The tools/call name and arguments for `tool`: through execute_tool on the gateway."""
        if not self.gateway:
            return tool, arguments
        if self.args.direct:
            return f"{self.gateway}__{tool}", arguments
        wrapped: dict[str, Any] = {"server": self.gateway, "tool": tool, "args": arguments}
        if self.args.agent:
            wrapped["agent_id"] = self.args.agent
        return "execute_tool", wrapped

    async def call(self, tool: str, arguments: dict[str, Any], **kw: Any) -> types.CallToolResult:
        name, arguments = self.wrap(tool, arguments)
        return await self.client.call_tool(name, arguments, read_timeout_seconds=self.args.timeout, **kw)

    async def raw(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        """A request the SDK has no typed call for (tasks): stamped like any other request
        (the 2026-07-28 `_meta` envelope and HTTP headers), but its result is returned as
        JSON, unvalidated. Uses the session's private stamp and dispatcher: the SDK's public
        `send_request` validates the result against the core result types."""
        session = self.client.session
        data: dict[str, Any] = {"method": method, "params": dict(params)}
        opts: dict[str, Any] = {}
        session._stamp(data, opts)  # noqa: SLF001
        opts["timeout"] = self.args.timeout
        return await session._dispatcher.send_raw_request(method, data.get("params"), opts)  # noqa: SLF001

    # --- scenarios ------------------------------------------------------------------------

    async def echo(self) -> Observation:
        return {"result": norm_result(await self.call("echo", {"message": "hello from the Python SDK"}))}, {}

    async def image(self) -> Observation:
        return {"result": norm_result(await self.call("get-tiny-image", {}))}, {}

    async def structured(self) -> Observation:
        return {"result": norm_result(await self.call("get-structured-content", {"location": "Chicago"}))}, {}

    async def gateway_error(self) -> Observation:
        if not self.gateway:
            return {"skipped": "the gateway's own errors need the gateway"}, {}
        observed = {}
        for key, tool in (("denied", "get-env"), ("unknown", "no-such-tool")):
            r = norm_result(await self.call(tool, {}))
            error = (r["structuredContent"] or {}).get("error", {})
            observed[key] = {"isError": r["isError"], "code": error.get("code")}
        return observed, {}

    async def elicitation(self) -> Observation:
        r = norm_result(await self.call("trigger-elicitation-request", {}))
        return {"requests": self.rec.elicitations[:], "result": r}, {}

    async def sampling(self) -> Observation:
        r = norm_result(await self.call("trigger-sampling-request", {"prompt": "What is 2+2?", "maxTokens": 50}))
        return {"requests": self.rec.samplings[:], "result": r}, {}

    async def roots(self) -> Observation:
        r = norm_result(await self.call("get-roots-list", {}))
        return {"result": r}, {"roots_requests": self.rec.roots_requests}

    async def tool_names(self) -> Observation:
        listed = await self.client.list_tools()
        return {"names": sorted(t.name for t in listed.tools)}, {}

    async def resources_prompts(self) -> Observation:
        """The protocol's resources and prompts, as the server (or mcpgw in front of it) lists
        them: the first listed resource read, the simple prompt got."""
        resources = await self.client.list_resources()
        uris = [str(r.uri) for r in resources.resources]
        read = await self.client.read_resource(uris[0]) if uris else None
        prompts = await self.client.list_prompts()
        names = [p.name for p in prompts.prompts]
        simple = next((n for n in names if n.endswith("simple-prompt")), None)
        got = await self.client.get_prompt(simple) if simple else None
        return {
            "uris": uris,
            "read": [dump(c) for c in read.contents] if read else None,
            "prompts": names,
            "simple": [dump(m) for m in got.messages] if got else None,
        }, {}

    async def memory(self) -> Observation:
        """server-memory: an entity created, then the graph read back; through the gateway,
        the denied `delete_entities` too (in `extra`, since a server alone allows it)."""
        created = norm_result(await self.call("create_entities", {"entities": [MEMORY_ENTITY]}))
        graph = norm_result(await self.call("read_graph", {}))
        extra: dict[str, Any] = {}
        if self.gateway:
            r = norm_result(await self.call("delete_entities", {"entityNames": ["Ada"]}))
            error = (r["structuredContent"] or {}).get("error", {})
            extra["delete"] = {"isError": r["isError"], "code": error.get("code")}
            extra["graph_after_delete"] = norm_result(await self.call("read_graph", {}))
        return {"created": created, "graph": graph}, extra

    async def fixture_input(self) -> Observation:
        """The fixture's `ask`, once per kind: the answer it saw, as text."""
        answers = {}
        for kind in ("elicitation", "sampling", "roots"):
            r = norm_result(await self.call("ask", {"kind": kind}))
            answers[kind] = {"isError": r["isError"], "text": [c.get("text") for c in r["content"]]}
        return {"answers": answers}, {}

    async def log(self) -> Observation:
        extra: dict[str, Any] = {}
        caps = self.client.server_capabilities
        if self.client.protocol_version < "2026" and caps.logging is not None:
            # Handshake-era delivery is governed by logging/setLevel (2026-07-28 uses the
            # per-request logLevel the Client stamps from `log_level=`).
            try:
                await self.client.set_logging_level("debug")
                extra["set_level"] = "debug"
            except Exception as e:  # noqa: BLE001 - reported, the scenario goes on
                extra["set_level_error"] = describe(e)
        before = len(self.rec.logs)
        on = norm_result(await self.call("toggle-simulated-logging", {}))
        extra["toggle_on"] = on
        with anyio.move_on_after(3):
            while not any(SIMULATED_LOG.search(str(m.get("data"))) for m in self.rec.logs[before:]):
                await anyio.sleep(0.05)
        got = [m for m in self.rec.logs[before:] if SIMULATED_LOG.search(str(m.get("data")))]
        extra["logs"] = self.rec.logs[before:]
        off = norm_result(await self.call("toggle-simulated-logging", {}))
        extra["toggle_off"] = off
        return {"simulated_log_received": bool(got), "toggle_is_error": [on["isError"], off["isError"]]}, extra

    async def progress(self) -> Observation:
        seen: list[list[float | None]] = []

        async def on_progress(progress: float, total: float | None, message: str | None) -> None:
            seen.append([progress, total])

        r = norm_result(
            await self.call("trigger-long-running-operation", {"duration": 1, "steps": 4}, progress_callback=on_progress)
        )
        with anyio.move_on_after(1):
            while len(seen) < 4:
                await anyio.sleep(0.02)
        return progress_observation(seen, r), {"arrival_order": seen}

    async def task(self) -> Observation:
        modern = not self.client.protocol_version < "2026"
        completed, extra_done = await self.run_task("rust", cancel=False, modern=modern)
        cancelled, extra_cancel = await self.run_task("python", cancel=True, modern=modern)
        return {"completed": completed, "cancelled": cancelled}, {"completed": extra_done, "cancelled": extra_cancel}

    async def run_task(self, topic: str, cancel: bool, modern: bool) -> tuple[dict[str, Any], dict[str, Any]]:
        """One simulate-research-query task. 2025-11-25: tools/call with `task` params, then
        tasks/get, tasks/result, tasks/cancel. 2026-07-28 (tasks extension): a plain
        tools/call answered with resultType "task", then tasks/get (the result inline) and
        tasks/cancel."""
        name, arguments = self.wrap("simulate-research-query", {"topic": topic})
        params: dict[str, Any] = {"name": name, "arguments": arguments}
        if not modern:
            params["task"] = {"ttl": 60000}
        created = await self.raw("tools/call", params)
        extra: dict[str, Any] = {"created": created}
        task = created.get("task", created) if not modern else created
        task_id = task.get("taskId") if isinstance(task, dict) else None
        if not task_id:
            return {"task_created": False, "final_status": None, "result": norm_result(created)}, extra
        statuses = [task.get("status")]
        if cancel:
            ack = await self.raw("tasks/cancel", {"taskId": task_id})
            extra["cancel"] = ack
        state: dict[str, Any] = {}
        with anyio.move_on_after(self.args.timeout):
            while True:
                state = await self.raw("tasks/get", {"taskId": task_id})
                statuses.append(state.get("status"))
                if state.get("status") in ("completed", "failed", "cancelled"):
                    break
                await anyio.sleep(0.25)
        extra["statuses"] = statuses
        extra["last_get"] = state
        observed: dict[str, Any] = {"task_created": True, "final_status": state.get("status")}
        if state.get("status") == "completed" and not cancel:
            if modern:
                result = state.get("result")
            else:
                result = await self.raw("tasks/result", {"taskId": task_id})
            observed["result"] = norm_result(result or {})
        return observed, extra


async def run_scenario(runner: Runner, name: str, limit: float) -> dict[str, Any]:
    entry: dict[str, Any] = {"ok": False, "error": None, "observed": None, "extra": None}
    try:
        with anyio.fail_after(limit):
            observed, extra = await getattr(runner, name)()
        entry.update(ok=True, observed=observed, extra=extra)
    except TimeoutError:
        entry["error"] = f"timed out after {limit:g} s"
    except Exception as e:  # noqa: BLE001 - recorded, the next scenario goes on
        entry["error"] = describe(e)
        print(f"py_client: {name}: {traceback.format_exc()}", file=sys.stderr)
    return entry


async def run(args: argparse.Namespace, out: dict[str, Any]) -> None:
    """Connects, runs the scenarios and fills `out` as it goes (so a run cut short by
    --total-timeout still reports what it finished)."""
    out.update({
        "client": "python",
        "sdk": sdk_version(),
        "mode": args.mode,
        "transport": "http" if args.url else "stdio",
        "target": "gateway" if args.gateway else "direct",
        "connected": False,
        "connect_error": None,
        "protocol_version": None,
        "server_info": None,
        "scenarios": {},
        "notifications": [],
    })
    rec = Recorder()
    http = None
    if args.url:
        headers = {"Authorization": f"Bearer {args.token}"} if args.token else {}
        http = httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(args.timeout, read=args.timeout * 4))
        server: Any = streamable_http_client(args.url, http_client=http)
    else:
        command = json.loads(args.command)
        env = dict(e.split("=", 1) for e in args.env)
        server = StdioServerParameters(command=command[0], args=command[1:], env=env or None)
    extensions = [advertise(TASKS_EXTENSION)] if "task" in args.scenarios else None
    client = Client(
        server,
        mode=args.mode,
        read_timeout_seconds=args.timeout,
        elicitation_callback=rec.on_elicit,
        sampling_callback=rec.on_sampling,
        list_roots_callback=rec.on_roots,
        logging_callback=rec.on_log,
        message_handler=rec.on_message,
        log_level="debug",
        extensions=extensions,
        client_info=types.Implementation(name="mcpgw-sdk-test-python", version="1"),
    )
    try:
        # No cancel scope of our own around the connection: entering the Client starts its task
        # group, and a scope left while that group is open would break anyio's nesting. The
        # handshake is bounded by read_timeout_seconds, the whole run by --total-timeout.
        async with client:
            out["connected"] = True
            out["protocol_version"] = client.protocol_version
            out["server_info"] = dump(client.server_info) if client.server_info else None
            runner = Runner(client, rec, args)
            for name in args.scenarios:
                out["scenarios"][name] = await run_scenario(runner, name, args.timeout * 3)
    except Exception as e:  # noqa: BLE001 - a failed connection is a result, not a crash
        key = "close_error" if out["connected"] else "connect_error"
        out[key] = describe(e)
    finally:
        out["notifications"] = rec.notifications
        if http is not None:
            with anyio.move_on_after(5, shield=True):
                await http.aclose()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    target = p.add_mutually_exclusive_group(required=True)
    target.add_argument("--command", help="the stdio server's command line, as a JSON array")
    target.add_argument("--url", help="the streamable HTTP endpoint")
    p.add_argument("--token", help="bearer token for --url")
    p.add_argument("--env", action="append", default=[], help="KEY=VALUE for the stdio server (repeatable)")
    p.add_argument("--mode", default="auto", choices=["auto", "legacy", "2026-07-28"])
    p.add_argument("--gateway", metavar="SERVER", help="the target is mcpgw: call tools of SERVER via execute_tool")
    p.add_argument("--direct", action="store_true", help="with --gateway: call SERVER__TOOL (mcpgw's direct mode)")
    p.add_argument("--agent", help="agent_id for execute_tool (leave out when the identity is bound)")
    p.add_argument("--scenarios", default=",".join(SCENARIOS), help="comma-separated, run in order")
    p.add_argument("--timeout", type=float, default=15.0, help="seconds for each request")
    p.add_argument("--total-timeout", type=float, default=240.0, help="seconds for the whole run")
    args = p.parse_args()
    args.scenarios = [s for s in args.scenarios.split(",") if s]
    known = SCENARIOS + FIXTURE_SCENARIOS + LIST_SCENARIOS + MEMORY_SCENARIOS
    unknown = [s for s in args.scenarios if s not in known]
    if unknown:
        p.error(f"unknown scenarios {unknown}; known: {known}")
    started = time.monotonic()

    out: dict[str, Any] = {"client": "python", "connected": False}

    async def guarded() -> None:
        with anyio.fail_after(args.total_timeout):
            await run(args, out)

    try:
        anyio.run(guarded)
    except TimeoutError:
        out["run_error"] = f"the whole run timed out after {args.total_timeout:g} s"
        if not out.get("connected"):
            out["connect_error"] = out["run_error"]
    out["elapsed_ms"] = int((time.monotonic() - started) * 1000)
    sys.stdout.write(json.dumps(out) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
