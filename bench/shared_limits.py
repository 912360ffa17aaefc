"""The cost of a limit shared in Redis (DESIGN section 15), and calls/s behind HAProxy.

Starts, on loopback:
- a redis-server (in memory only);
- gateway L: agent `dev` with `requests_per_second` high enough never to refuse, limited
  locally;
- gateway R: the same limit, counted in that Redis (`gateway.redis.url`);
- gateways R2, R3 and HAProxy with deploy/haproxy.cfg in front of R, R2 and R3 (also the
  one-replica case: HAProxy in front of R alone).
Then alternates rounds of sequential 2026-07-28 `list_servers` calls (one HTTP connection per
call, as the stateless transport does) between L and R, and reports p50/p99 and the added p50
of the Redis check; then calls/s through HAProxy with N concurrent clients, one replica
against three. Prints one JSON object.

Usage: python3 bench/shared_limits.py --mcpgw BIN --fixture BIN [--calls N] [--rounds R]
"""

import argparse
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOKEN = "token-of-the-bench-agent"
META = {
    "io.modelcontextprotocol/protocolVersion": "2026-07-28",
    "io.modelcontextprotocol/clientCapabilities": {},
    "io.modelcontextprotocol/clientInfo": {"name": "bench", "version": "1"},
}
HEADERS = {
    "content-type": "application/json",
    "accept": "application/json, text/event-stream",
    "authorization": f"Bearer {TOKEN}",
    "mcp-protocol-version": "2026-07-28",
    "mcp-method": "tools/call",
    "mcp-name": "list_servers",
}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, what, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    sys.exit(f"shared_limits: {what} did not listen on {port}")


def gateway(args, tmp, name, redis_port):
    d = os.path.join(tmp, name)
    os.makedirs(os.path.join(d, "logs"))
    section = {"http": {"tokens": [{"agent": "dev", "token": TOKEN}]}}
    if redis_port:
        section["redis"] = {"url": f"redis://127.0.0.1:{redis_port}/0"}
    mcp = {"mcpServers": {"fx": {"command": args.fixture, "args": ["--name", "fx"]}}, "gateway": section}
    rules = {"agents": {"dev": {"allow": {"servers": ["fx"]}, "limits": {"requests_per_second": 1000000}}}}
    with open(os.path.join(d, ".mcp.json"), "w") as f:
        json.dump(mcp, f)
    with open(os.path.join(d, "rules.json"), "w") as f:
        json.dump(rules, f)
    port = free_port()
    p = subprocess.Popen(
        [args.mcpgw, "serve", "--transport", "http", "--listen", f"127.0.0.1:{port}",
         "--mcp-config", os.path.join(d, ".mcp.json"), "--rules", os.path.join(d, "rules.json"),
         "--audit-log", os.path.join(d, "logs", "audit.jsonl")],
        stdout=subprocess.DEVNULL, stderr=open(os.path.join(d, "stderr"), "w"))
    wait_port(port, name)
    return p, port


def call(port, i):
    body = json.dumps({"jsonrpc": "2.0", "id": i, "method": "tools/call",
                       "params": {"name": "list_servers", "arguments": {}, "_meta": META}})
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    t = time.perf_counter()
    c.request("POST", "/mcp", body, HEADERS)
    r = c.getresponse()
    data = r.read()
    dt = time.perf_counter() - t
    c.close()
    if r.status != 200 or b'"isError":true' in data:
        sys.exit(f"shared_limits: call failed: {r.status} {data[:300]!r}")
    return dt


def pct(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def throughput(port, clients, seconds):
    done = [0] * clients
    stop = time.time() + seconds

    def run(k):
        i = 0
        while time.time() < stop:
            call(port, i)
            i += 1
            done[k] += 1

    threads = [threading.Thread(target=run, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(done) / seconds


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--mcpgw", required=True)
    p.add_argument("--fixture", required=True)
    p.add_argument("--calls", type=int, default=300)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--clients", type=int, default=8)
    p.add_argument("--seconds", type=float, default=5)
    args = p.parse_args()
    procs = []
    with tempfile.TemporaryDirectory() as tmp:
        try:
            redis_port = free_port()
            procs.append(subprocess.Popen(
                ["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
                stdout=subprocess.DEVNULL))
            wait_port(redis_port, "redis-server")
            lp, local = gateway(args, tmp, "local", None)
            rp, shared = gateway(args, tmp, "redis", redis_port)
            procs += [lp, rp]
            for port in (local, shared):
                for i in range(50):
                    call(port, i)
            lat = {"local": [], "redis": []}
            for _ in range(args.rounds):
                for name, port in (("local", local), ("redis", shared)):
                    lat[name] += [call(port, i) for i in range(args.calls)]
            out = {name: {"p50_ms": round(pct(v, 0.5) * 1000, 3), "p99_ms": round(pct(v, 0.99) * 1000, 3),
                          "calls": len(v)} for name, v in lat.items()}
            out["redis_added_p50_ms"] = round((pct(lat["redis"], 0.5) - pct(lat["local"], 0.5)) * 1000, 3)
            extra = [gateway(args, tmp, f"replica{i}", redis_port) for i in (2, 3)]
            procs += [e[0] for e in extra]
            ports = [shared] + [e[1] for e in extra]

            def haproxy(replicas):
                listen = free_port()
                env = dict(os.environ, MCPGW_LISTEN=f"127.0.0.1:{listen}")
                for i in range(3):
                    env[f"MCPGW_R{i + 1}"] = f"127.0.0.1:{replicas[i % len(replicas)]}"
                h = subprocess.Popen(["haproxy", "-f", os.path.join(ROOT, "deploy/haproxy.cfg"), "-db"],
                                     env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                wait_port(listen, "haproxy")
                time.sleep(3)  # two health checks
                return h, listen

            for label, replicas in (("haproxy_1_replica", [shared]), ("haproxy_3_replicas", ports)):
                h, listen = haproxy(replicas)
                try:
                    lat_h = [call(listen, i) for i in range(args.calls)]
                    out[label] = {
                        "p50_ms": round(pct(lat_h, 0.5) * 1000, 3),
                        "p99_ms": round(pct(lat_h, 0.99) * 1000, 3),
                        "calls_per_s": round(throughput(listen, args.clients, args.seconds), 1),
                        "clients": args.clients,
                    }
                finally:
                    h.terminate()
                    h.wait()
            print(json.dumps(out))
        finally:
            for pr in procs:
                pr.terminate()
            for pr in procs:
                try:
                    pr.wait(5)
                except subprocess.TimeoutExpired:
                    pr.kill()


if __name__ == "__main__":
    main()
