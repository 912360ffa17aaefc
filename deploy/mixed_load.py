"""Three mcpgw replicas behind HAProxy, with limits in Redis and telemetry to a collector,
under mixed load from the official Python SDK; then the faults a deployment meets.

Starts on loopback: redis-server, rotel (an OpenTelemetry collector, whose debug output
shows what it received), three replicas (limits in that Redis, every signal exported to
rotel), and HAProxy with deploy/haproxy.cfg. Then four phases, each checked:

1. rate: agent `limited` (RATE calls/s) hammered through HAProxy by raw 2026-07-28
   requests; the replicas together allow about RATE per second, not three times it;
2. kill: legacy-session and 2026-07-28 SDK clients call `execute_tool`; halfway through,
   one replica is killed (SIGKILL). 2026-07-28 clients lose at most their in-flight call;
   legacy clients whose session was there lose at most their in-flight call and the 404 that
   tells them the session is gone, then start a new one and go on; the others lose nothing;
3. redis: the same load; Redis is stopped, then started again. No call fails or takes more
   than STUCK seconds; each replica's /ready shows `fallback`, then `shared` again;
4. collector: every call of phase 3 (all replicas alive) has its span at the collector under
   the trace id its client sent, and its audit record as a log record under that trace.

Prints one JSON object (the numbers and every check), exits 1 if a check failed.
Run with the Python SDK venv: .tools/py/bin/python deploy/mixed_load.py --mcpgw BIN
--fixture BIN --rotel BIN [--short]. deploy/test.sh does all of it.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

import anyio
import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOKEN = "token-of-the-load-agent"
LIMITED_TOKEN = "token-of-the-limited-agent"
OPERATOR = "token-of-the-load-operator"
RATE = 20
# A call slower than this is stuck: the gateway's own waits (Redis 250 ms) are far below, and a
# loaded CI machine has room.
STUCK = 10.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, what: str, timeout: float = 30) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    sys.exit(f"mixed_load: {what} did not listen on {port}")


class Stack:
    """The processes, started in a temporary directory and stopped at the end."""

    def __init__(self, args: argparse.Namespace, tmp: str):
        self.args, self.tmp = args, tmp
        self.procs: dict[str, subprocess.Popen] = {}
        self.redis_port = free_port()
        self.otlp_http, self.otlp_grpc = free_port(), free_port()
        self.replica_ports = [free_port() for _ in range(3)]
        self.lb_port = free_port()
        self.collector_out = os.path.join(tmp, "collector.out")

    def start_redis(self) -> None:
        self.procs["redis"] = subprocess.Popen(
            ["redis-server", "--port", str(self.redis_port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL)
        wait_port(self.redis_port, "redis-server")

    def stop_redis(self) -> None:
        p = self.procs.pop("redis")
        p.kill()
        p.wait()

    def start(self) -> None:
        self.start_redis()
        self.procs["rotel"] = subprocess.Popen(
            [self.args.rotel, "start", "--otlp-grpc-endpoint", f"127.0.0.1:{self.otlp_grpc}",
             "--otlp-http-endpoint", f"127.0.0.1:{self.otlp_http}", "--pid-file", os.path.join(self.tmp, "rotel.pid"),
             "--exporter", "blackhole", "--debug-log", "traces", "--debug-log", "logs",
             "--debug-log-verbosity", "detailed"],
            stdout=open(self.collector_out, "w"), stderr=subprocess.STDOUT)
        wait_port(self.otlp_http, "rotel")
        key = secrets.token_hex(32)
        for i, port in enumerate(self.replica_ports, 1):
            self.procs[f"r{i}"] = self.replica(i, port, key)
        for i, port in enumerate(self.replica_ports, 1):
            wait_port(port, f"replica r{i}")
        env = dict(os.environ, MCPGW_LISTEN=f"127.0.0.1:{self.lb_port}",
                   **{f"MCPGW_R{i}": f"127.0.0.1:{p}" for i, p in enumerate(self.replica_ports, 1)})
        self.procs["haproxy"] = subprocess.Popen(
            ["haproxy", "-f", os.path.join(ROOT, "deploy", "haproxy.cfg"), "-db"], env=env,
            stdout=subprocess.DEVNULL, stderr=open(os.path.join(self.tmp, "haproxy.stderr"), "w"))
        wait_port(self.lb_port, "haproxy")
        # HAProxy's health checks need two passes (rise 2, inter 1 s) before a replica serves.
        deadline = time.time() + 15
        while time.time() < deadline and not all(self.stateless_ok(i) for i in range(6)):
            time.sleep(0.2)

    def replica(self, i: int, port: int, key: str) -> subprocess.Popen:
        d = os.path.join(self.tmp, f"r{i}")
        os.makedirs(d)
        section = {
            "http": {"tokens": [{"agent": "dev", "token": TOKEN}, {"agent": "limited", "token": LIMITED_TOKEN}],
                     "admin_tokens": [{"token": OPERATOR}]},
            "redis": {"url": f"redis://127.0.0.1:{self.redis_port}/0"},
        }
        mcp = {"mcpServers": {"fx": {"command": self.args.fixture, "args": ["--name", "fx"]}}, "gateway": section}
        rules = {"agents": {
            # Limits far above the load, so that every call is counted in Redis.
            "dev": {"allow": {"servers": ["fx"]}, "limits": {"requests_per_second": 100000, "max_concurrent_calls": 64}},
            "limited": {"allow": {"servers": ["fx"]}, "limits": {"requests_per_second": RATE}},
        }}
        for name, doc in ((".mcp.json", mcp), ("rules.json", rules)):
            with open(os.path.join(d, name), "w") as f:
                json.dump(doc, f)
        env = dict(os.environ, MCPGW_STATE_KEY=key, OTEL_EXPORTER_OTLP_ENDPOINT=f"http://127.0.0.1:{self.otlp_http}",
                   OTEL_SERVICE_NAME=f"mcpgw-r{i}", OTEL_BSP_SCHEDULE_DELAY="200", OTEL_BLRP_SCHEDULE_DELAY="200",
                   OTEL_METRIC_EXPORT_INTERVAL="2000", RUST_LOG="info")
        return subprocess.Popen(
            [self.args.mcpgw, "serve", "--transport", "http", "--listen", f"127.0.0.1:{port}",
             "--mcp-config", os.path.join(d, ".mcp.json"), "--rules", os.path.join(d, "rules.json"),
             "--audit-log", os.path.join(d, "audit.jsonl"), "--audit-args"],
            env=env, stdout=subprocess.DEVNULL, stderr=open(os.path.join(d, "stderr"), "w"))

    def stateless_ok(self, i: int) -> bool:
        try:
            return stateless(self.lb_port, TOKEN, i)[0] == "ok"
        except OSError:
            return False

    def ready(self, i: int) -> dict:
        c = http.client.HTTPConnection("127.0.0.1", self.replica_ports[i - 1], timeout=5)
        c.request("GET", "/ready", headers={"authorization": f"Bearer {OPERATOR}"})
        body = c.getresponse().read()
        c.close()
        return json.loads(body or b"{}")

    def stop(self) -> None:
        for p in self.procs.values():
            if p.poll() is None:
                p.terminate()
        for p in self.procs.values():
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()


META = {
    "io.modelcontextprotocol/protocolVersion": "2026-07-28",
    "io.modelcontextprotocol/clientCapabilities": {},
    "io.modelcontextprotocol/clientInfo": {"name": "mixed-load", "version": "1"},
}


def stateless(port: int, token: str, i: int) -> tuple[str, float]:
    """One raw 2026-07-28 `list_servers` call: `ok`, `limited` or `failed`, and its time."""
    body = json.dumps({"jsonrpc": "2.0", "id": i, "method": "tools/call",
                       "params": {"name": "list_servers", "arguments": {}, "_meta": META}})
    headers = {"content-type": "application/json", "accept": "application/json, text/event-stream",
               "authorization": f"Bearer {token}", "mcp-protocol-version": "2026-07-28",
               "mcp-method": "tools/call", "mcp-name": "list_servers"}
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    t = time.perf_counter()
    c.request("POST", "/mcp", body, headers)
    r = c.getresponse()
    data = r.read()
    c.close()
    dt = time.perf_counter() - t
    if r.status != 200:
        return "failed", dt
    if b"RATE_LIMITED" in data:
        return "limited", dt
    return ("failed" if b'"isError":true' in data else "ok"), dt


def rate_phase(stack: Stack, seconds: float, threads: int) -> dict:
    counts = {"allowed": 0, "limited": 0, "failed": 0}
    lock = threading.Lock()
    started = time.perf_counter()
    stop = started + seconds

    def run(k: int) -> None:
        i = 0
        while time.perf_counter() < stop:
            outcome, _ = stateless(stack.lb_port, LIMITED_TOKEN, k * 100000 + i)
            i += 1
            with lock:
                counts["allowed" if outcome == "ok" else outcome] += 1

    ts = [threading.Thread(target=run, args=(k,)) for k in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    elapsed = time.perf_counter() - started
    # GCRA: a burst of RATE, then RATE per second. Tolerance: 10 % and two calls for the
    # edges of the measurement.
    most = (RATE + RATE * elapsed) * 1.1 + 2
    least = RATE * elapsed * 0.8
    return {"seconds": round(elapsed, 2), "rate": RATE, **counts, "allowed_at_most": round(most, 1),
            "allowed_at_least": round(least, 1),
            "ok": least <= counts["allowed"] <= most and counts["failed"] == 0}


class Worker:
    """One SDK client's record."""

    def __init__(self, name: str, mode: str):
        self.name, self.mode = name, mode
        self.calls: list[tuple[str, float, float]] = []  # (trace id, started, seconds)
        self.failures: list[tuple[float, str]] = []
        self.sessions = 0


def describe(e: BaseException) -> str:
    """The innermost error of a task group's exception group, as a short line."""
    while isinstance(e, BaseExceptionGroup) and e.exceptions:
        e = e.exceptions[0]
    return f"{type(e).__name__}: {str(e)[:200]}"


async def sdk_worker(url: str, w: Worker, stop_at: float) -> None:
    while time.monotonic() < stop_at:
        http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {TOKEN}"}, timeout=httpx2.Timeout(10, read=20))
        try:
            async with Client(streamable_http_client(url, http_client=http), mode=w.mode,
                              read_timeout_seconds=10) as client:
                w.sessions += 1
                while time.monotonic() < stop_at:
                    trace = secrets.token_hex(16)
                    meta = {"traceparent": f"00-{trace}-{secrets.token_hex(8)}-01"}
                    t0 = time.monotonic()
                    r = await client.call_tool("execute_tool", {"server": "fx", "tool": "echo",
                                                                "args": {"text": w.name}}, meta=meta)
                    dt = time.monotonic() - t0
                    text = r.content[0].text if r.content and hasattr(r.content[0], "text") else ""
                    if r.is_error or text != w.name:
                        w.failures.append((t0, f"bad result: {text[:200]}"))
                        continue
                    w.calls.append((trace, t0, dt))
        except Exception as e:  # noqa: BLE001 - a lost call is a result, counted
            w.failures.append((time.monotonic(), describe(e)))
            await anyio.sleep(0.05)
        finally:
            with anyio.move_on_after(2, shield=True):
                await http.aclose()


async def load(stack: Stack, phase: str, seconds: float, legacy: int, modern: int, at_half) -> list[Worker]:
    """`legacy` and `modern` SDK clients calling for `seconds`; `at_half` runs halfway. The
    clients' names (which their calls echo, and the audit records) carry the `phase`."""
    url = f"http://127.0.0.1:{stack.lb_port}/mcp"
    workers = [Worker(f"{phase}-legacy-{k}", "legacy") for k in range(legacy)]
    workers += [Worker(f"{phase}-modern-{k}", "2026-07-28") for k in range(modern)]
    stop_at = time.monotonic() + seconds
    async with anyio.create_task_group() as tg:
        for w in workers:
            tg.start_soon(sdk_worker, url, w, stop_at)
        await anyio.sleep(seconds / 2)
        await anyio.to_thread.run_sync(at_half)
    return workers


def kill_phase(stack: Stack, seconds: float, legacy: int, modern: int) -> dict:
    killed_at = [0.0]

    def kill() -> None:
        killed_at[0] = time.monotonic()
        stack.procs["r2"].send_signal(signal.SIGKILL)
        stack.procs["r2"].wait()

    workers = anyio.run(load, stack, "kill", seconds, legacy, modern, kill)
    t = killed_at[0]
    # Which clients the killed replica served: its audit log has their echo texts.
    served_by_r2 = set()
    with open(os.path.join(stack.tmp, "r2", "audit.jsonl")) as f:
        for line in f:
            rec = json.loads(line)
            if rec.get("operation") == "execute_tool":
                served_by_r2.add((rec.get("args") or {}).get("text"))
    rows = []
    ok = True
    for w in workers:
        before = [c for c in w.calls if c[1] < t]
        after = [c for c in w.calls if c[1] > t + 0.1]
        lost = len(w.failures)
        # A 2026-07-28 client: at most its in-flight call. A legacy client whose session was on
        # the killed replica: that, and the 404 that tells it the session is gone. A legacy
        # client whose session was elsewhere: nothing.
        on_r2 = w.name in served_by_r2
        allowed = 1 if w.mode == "2026-07-28" else (2 if on_r2 else 0)
        row = {"client": w.name, "session_on_killed_replica": on_r2 if w.mode == "legacy" else None,
               "calls_before": len(before), "calls_after": len(after), "lost": lost, "allowed_to_lose": allowed,
               "sessions": w.sessions, "failures": [f for _, f in w.failures][:3]}
        row["ok"] = lost <= allowed and len(before) > 0 and len(after) > 0
        ok &= row["ok"]
        rows.append(row)
    return {"seconds": seconds, "legacy_clients": legacy, "modern_clients": modern,
            "calls": sum(len(w.calls) for w in workers), "lost": sum(len(w.failures) for w in workers),
            "clients": rows, "ok": ok}


def redis_phase(stack: Stack, seconds: float, legacy: int, modern: int) -> tuple[dict, list[Worker]]:
    states: dict[str, list[str]] = {"during": [], "after": []}

    def outage() -> None:
        stack.stop_redis()
        time.sleep(min(3.0, seconds / 4))
        states["during"] = [stack.ready(i).get("shared_limits", {}).get("state", "?") for i in (1, 2, 3)]
        stack.start_redis()

    workers = anyio.run(load, stack, "redis", seconds, legacy, modern, outage)
    # Back to Redis at the first call it answers; give the live replicas a few.
    deadline = time.time() + 10
    while time.time() < deadline:
        for i in range(6):
            stack.stateless_ok(i)
        states["after"] = [stack.ready(i).get("shared_limits", {}).get("state", "?") for i in (1, 2, 3)]
        if states["after"] == ["shared"] * 3:
            break
        time.sleep(0.2)
    slowest = max((c[2] for w in workers for c in w.calls), default=0.0)
    lost = sum(len(w.failures) for w in workers)
    calls = sum(len(w.calls) for w in workers)
    ok = lost == 0 and slowest < STUCK and states["during"] == ["fallback"] * 3 \
        and states["after"] == ["shared"] * 3 and calls > 0
    return ({"seconds": seconds, "calls": calls, "lost": lost, "slowest_s": round(slowest, 3),
             "ready_during_outage": states["during"], "ready_after": states["after"],
             "failures": [f for w in workers for _, f in w.failures][:5], "ok": ok}, workers)


SPAN = re.compile(r"Trace ID\s*: ([0-9a-f]{32})\n(?:.*\n){0,3}?\s*Name\s*: execute_tool\n")
LOG = re.compile(r"EventName: mcpgw\.audit\n(?:.*\n)*?\s*Trace ID\s*: ([0-9a-f]{32})\n")


def collector_phase(stack: Stack, workers: list[Worker]) -> dict:
    want = {c[0] for w in workers for c in w.calls}
    deadline = time.time() + 20
    while True:
        with open(stack.collector_out) as f:
            text = f.read()
        spans = set(SPAN.findall(text)) & want
        logs = set(LOG.findall(text)) & want
        if (len(spans) == len(want) and len(logs) == len(want)) or time.time() > deadline:
            break
        time.sleep(0.5)
    return {"calls": len(want), "spans_with_callers_trace": len(spans), "audit_logs_with_callers_trace": len(logs),
            "ok": len(want) > 0 and len(spans) == len(want) and len(logs) == len(want)}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--mcpgw", required=True)
    p.add_argument("--fixture", required=True)
    p.add_argument("--rotel", required=True)
    p.add_argument("--short", action="store_true", help="the CI-sized run (about 30 s)")
    args = p.parse_args()
    seconds = 6.0 if args.short else 60.0
    legacy, modern = (3, 3) if args.short else (8, 8)
    out: dict = {"machine": {"cores": os.cpu_count(), "load": open("/proc/loadavg").read().split()[:3]},
                 "short": args.short}
    with tempfile.TemporaryDirectory() as tmp:
        stack = Stack(args, tmp)
        try:
            stack.start()
            out["rate"] = rate_phase(stack, 3.0 if args.short else 10.0, 4)
            # The collector check uses the phase where every replica lives (a killed replica
            # loses the spans still in its export queue, as any process does).
            out["redis"], calm = redis_phase(stack, seconds, legacy, modern)
            out["collector"] = collector_phase(stack, calm)
            out["kill"] = kill_phase(stack, seconds, legacy, modern)
        finally:
            stack.stop()
    phases = ("rate", "redis", "collector", "kill")
    out["ok"] = all(out.get(k, {}).get("ok") for k in phases)
    print(json.dumps(out, indent=1))
    sys.exit(0 if out["ok"] else 1)


if __name__ == "__main__":
    main()
