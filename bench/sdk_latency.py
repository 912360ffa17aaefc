"""Per-call latency of the official Python MCP SDK's default client (`Client`, mode `auto`)
calling server-everything's `echo`, directly and through mcpgw (meta-tools and direct mode);
with `--rotel BIN`, also through mcpgw exporting every signal to that OpenTelemetry collector
(started on loopback, discarding what it gets), for the cost of telemetry.

Usage: sdk_latency.py --mcpgw BIN --everything INDEX_JS --workdir DIR [--calls N] [--rounds R]
       [--rotel BIN]

Each round runs every variant once, in turn, so that a noisy machine slows them alike; the
report gives per-variant p50/p99 over all rounds and the ratios to `direct` taken from the same
run. Prints one JSON object per variant and round on stdout, then a Markdown table on stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time

from mcp import Client, StdioServerParameters


def variants(args: argparse.Namespace, otlp: str | None) -> dict[str, tuple[list[str], str, dict, str, dict]]:
    """name -> (command line, tool name, arguments wrapper, client mode, environment). The client's default
    mode (`auto`) negotiates 2026-07-28 with mcpgw and 2025-11-25 with server-everything, so
    the gateway is measured in `legacy` mode too, for the same protocol on both sides."""
    mcp = os.path.join(args.workdir, ".mcp.json")
    rules = os.path.join(args.workdir, "rules.json")
    with open(mcp, "w") as f:
        json.dump({"mcpServers": {"everything": {"command": "node", "args": [args.everything, "stdio"]}}}, f)
    with open(rules, "w") as f:
        json.dump({"agents": {"bench": {"allow": {"servers": ["everything"]}}}}, f)
    gw = [args.mcpgw, "--mcp-config", mcp, "--rules", rules, "--agent", "bench",
          "--audit-log", os.path.join(args.workdir, "logs", "audit.jsonl")]
    # The audit log in a directory of its own, as by default: the gateway watches its config's.
    os.makedirs(os.path.join(args.workdir, "logs"), exist_ok=True)
    wrap = {"server": "everything", "tool": "echo"}
    out = {
        "direct": (["node", args.everything, "stdio"], "echo", {}, "auto", {}),
        "mcpgw execute_tool": (gw, "execute_tool", wrap, "auto", {}),
        "mcpgw execute_tool, legacy client": (gw, "execute_tool", wrap, "legacy", {}),
        "mcpgw direct mode": (gw + ["--expose", "direct"], "everything__echo", {}, "auto", {}),
        "mcpgw direct mode, legacy client": (gw + ["--expose", "direct"], "everything__echo", {}, "legacy", {}),
    }
    if otlp:
        env = {"OTEL_EXPORTER_OTLP_ENDPOINT": otlp, "PATH": os.environ.get("PATH", "")}
        out["mcpgw execute_tool, OTel export on"] = (gw, "execute_tool", wrap, "auto", env)
    if args.agw:
        # The Python gateway watches its config's directory, so its files and its logs live
        # apart from everything else's (a log written beside the config makes it log its own
        # file events in a loop).
        conf, logs = os.path.join(args.workdir, "agw"), os.path.join(args.workdir, "agw-logs")
        os.makedirs(conf, exist_ok=True)
        os.makedirs(logs, exist_ok=True)
        for name in (".mcp.json", "rules.json"):
            with open(os.path.join(args.workdir, name)) as src, open(os.path.join(conf, name), "w") as dst:
                dst.write(src.read())
        env = {"GATEWAY_MCP_CONFIG": os.path.join(conf, ".mcp.json"), "GATEWAY_RULES": os.path.join(conf, "rules.json"),
               "GATEWAY_AUDIT_LOG": os.path.join(logs, "audit.jsonl"), "PATH": os.environ.get("PATH", ""),
               "HOME": os.environ.get("HOME", "")}
        out["agent-mcp-gateway execute_tool"] = ([args.agw], "execute_tool", {"agent_id": "bench", **wrap}, "auto", env)
    return out


async def one_run(command: list[str], tool: str, wrap: dict, mode: str, env: dict, calls: int) -> tuple[list[float], str]:
    params = StdioServerParameters(command=command[0], args=command[1:], env=env or None)
    samples = []
    async with Client(params, mode=mode, read_timeout_seconds=30) as client:
        version = client.protocol_version
        args = {"message": "bench"}
        arguments = {**wrap, "args": args} if wrap else args
        for _ in range(20):  # warm-up: the downstream starts, caches fill
            await client.call_tool(tool, arguments)
        for _ in range(calls):
            t = time.perf_counter()
            r = await client.call_tool(tool, arguments)
            samples.append((time.perf_counter() - t) * 1000)
            if r.is_error:
                raise RuntimeError(f"{tool} failed: {r}")
    return samples, version


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, max(0, int(round(q * len(xs))) - 1))]


async def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--mcpgw", required=True)
    p.add_argument("--everything", required=True)
    p.add_argument("--workdir", required=True)
    p.add_argument("--calls", type=int, default=500)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--rotel")
    p.add_argument("--agw", help="the Python gateway's agent-mcp-gateway entry point, measured beside mcpgw")
    args = p.parse_args()
    otlp, collector = None, None
    if args.rotel:
        import socket
        import subprocess
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        grpc = port + 1 if port < 65000 else port - 1
        collector = subprocess.Popen(
            [args.rotel, "start", "--otlp-http-endpoint", f"127.0.0.1:{port}", "--otlp-grpc-endpoint",
             f"127.0.0.1:{grpc}", "--pid-file", os.path.join(args.workdir, "rotel.pid"), "--exporter", "blackhole"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        otlp = f"http://127.0.0.1:{port}"
    all_samples: dict[str, list[float]] = {}
    versions: dict[str, str] = {}
    for r in range(args.rounds):
        for name, (command, tool, wrap, mode, env) in variants(args, otlp).items():
            samples, version = await one_run(command, tool, wrap, mode, env, args.calls)
            all_samples.setdefault(name, []).extend(samples)
            versions[name] = version
            print(json.dumps({"round": r, "variant": name, "version": version,
                              "p50_ms": pct(samples, 0.5), "p99_ms": pct(samples, 0.99)}), flush=True)
    base50 = pct(all_samples["direct"], 0.5)
    base99 = pct(all_samples["direct"], 0.99)
    lines = ["| variant | protocol | calls | p50 ms | p99 ms | added p50 ms | p50 / direct |",
             "|---|---|---:|---:|---:|---:|---:|"]
    for name, xs in all_samples.items():
        p50, p99 = pct(xs, 0.5), pct(xs, 0.99)
        lines.append(f"| {name} | {versions[name]} | {len(xs)} | {p50:.3f} | {p99:.3f} | "
                     f"{p50 - base50:+.3f} | {p50 / base50:.2f}x |")
    print("\n".join(lines), file=sys.stderr)
    print(f"(direct p99 {base99:.3f} ms; mean of all direct calls {statistics.mean(all_samples['direct']):.3f} ms)",
          file=sys.stderr)
    if collector is not None:
        collector.terminate()


if __name__ == "__main__":
    asyncio.run(main())
