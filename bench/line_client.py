"""A plain line client: raw JSON-RPC over a child's pipes, no SDK (issue 14's independent
client). It measures one target, an MCP server command, calling one tool:

- sequential latency (p50/p99 of `--calls` calls, after 50 warm-up calls);
- throughput with `--in-flight` calls outstanding for `--seconds`;
- the CPU the target process itself spent per call during the throughput run (user + system,
  from /proc/PID/stat; live children are not in it), and with `--downstream NAME` the same for
  the server processes the target started whose command line contains NAME.

Usage: line_client.py --tool NAME --args JSON [--wrap JSON] [--downstream NAME] -- COMMAND...
`--wrap` puts the arguments under `args` of that object (mcpgw's execute_tool). Prints one
JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import select
import subprocess
import sys
import time

TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system time of `pid`, with its waited-for children."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return sum(int(x) for x in fields[11:15]) / TICK


def pids_matching(needle: str, parent: int) -> list[int]:
    """Descendants of `parent` whose command line contains `needle`."""
    children: dict[int, list[int]] = {}
    cmdline: dict[int, str] = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{d}/cmdline", "rb") as f:
                cmdline[int(d)] = f.read().replace(b"\0", b" ").decode(errors="replace")
            children.setdefault(ppid, []).append(int(d))
        except OSError:
            continue
    out, todo = [], [parent]
    while todo:
        p = todo.pop()
        for c in children.get(p, []):
            todo.append(c)
            if needle in cmdline.get(c, ""):
                out.append(c)
    return out


class Pipe:
    def __init__(self, command: list[str]):
        self.p = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self.buf = b""
        self.next_id = 0

    def send(self, msg: dict) -> None:
        self.p.stdin.write(json.dumps(msg, separators=(",", ":")).encode() + b"\n")
        self.p.stdin.flush()

    def read(self, timeout: float = 30) -> dict:
        fd = self.p.stdout.fileno()
        while b"\n" not in self.buf:
            ready, _, _ = select.select([fd], [], [], timeout)
            if not ready:
                sys.exit("line_client: no answer within the timeout")
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                sys.exit("line_client: the target closed its stdout")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def response(self) -> dict:
        while True:
            m = self.read()
            if "id" in m and "method" not in m:
                return m

    def request(self, method: str, params: dict) -> dict:
        self.next_id += 1
        self.send({"jsonrpc": "2.0", "id": self.next_id, "method": method, "params": params})
        return self.response()


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, max(0, int(round(q * len(xs))) - 1))]


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--tool", required=True)
    p.add_argument("--args", required=True)
    p.add_argument("--wrap")
    p.add_argument("--downstream")
    p.add_argument("--calls", type=int, default=1000)
    p.add_argument("--in-flight", type=int, default=32)
    p.add_argument("--seconds", type=float, default=5)
    p.add_argument("command", nargs="+")
    a = p.parse_args()
    args = json.loads(a.args)
    arguments = {**json.loads(a.wrap), "args": args} if a.wrap else args
    params = {"name": a.tool, "arguments": arguments}
    t = Pipe(a.command)
    init = t.request("initialize", {"protocolVersion": "2025-11-25", "capabilities": {},
                                    "clientInfo": {"name": "line-client", "version": "1"}})
    if "result" not in init:
        sys.exit(f"line_client: initialize failed: {init}")
    t.send({"jsonrpc": "2.0", "method": "notifications/initialized"})

    def check(r: dict) -> None:
        if "result" not in r or r["result"].get("isError"):
            sys.exit(f"line_client: the call failed: {json.dumps(r)[:300]}")

    for _ in range(50):
        check(t.request("tools/call", params))
    lat = []
    for _ in range(a.calls):
        s = time.perf_counter()
        check(t.request("tools/call", params))
        lat.append((time.perf_counter() - s) * 1000)
    downstream = pids_matching(a.downstream, t.p.pid) if a.downstream else []
    cpu0 = cpu_seconds(t.p.pid)
    down0 = sum(cpu_seconds(d) for d in downstream)
    done, outstanding = 0, 0
    start = time.perf_counter()
    end = start + a.seconds
    while time.perf_counter() < end or outstanding:
        while outstanding < a.in_flight and time.perf_counter() < end:
            t.next_id += 1
            t.send({"jsonrpc": "2.0", "id": t.next_id, "method": "tools/call", "params": params})
            outstanding += 1
        check(t.response())
        outstanding -= 1
        done += 1
    elapsed = time.perf_counter() - start
    cpu = cpu_seconds(t.p.pid) - cpu0
    down = sum(cpu_seconds(d) for d in downstream) - down0
    t.p.stdin.close()
    t.p.wait(10)
    out = {"target": " ".join(os.path.basename(c) for c in a.command[:1]), "calls": a.calls,
           "p50_ms": round(pct(lat, 0.5), 4), "p99_ms": round(pct(lat, 0.99), 4),
           "in_flight": a.in_flight, "calls_per_s": round(done / elapsed),
           "cpu_us_per_call": round(cpu / done * 1e6, 1)}
    if a.downstream:
        out["downstream_cpu_us_per_call"] = round(down / done * 1e6, 1)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
