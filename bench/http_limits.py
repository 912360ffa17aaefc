#!/usr/bin/env python3
"""The HTTP limits of issue 12, at scale, against the real mcpgw (run by bench/http-limits.sh).

Python 3 standard library only. Every gateway is started on 127.0.0.1 with two agents
(alice, bob: one bearer token each) and an operator token, and a downstream server that is
never started (nothing here calls a tool: sessions and connections are what is measured).

Scenarios, each against a fresh gateway:

  sessions-default  20,000 sessions (alternating alice and bob) under the default caps
                    (256 per agent, 4,096 in all): the oldest idle ones are evicted, the
                    count and the RSS stay bounded.
  sessions-raised   20,000 sessions held at once (caps raised to 10,000 per agent, 20,000 in
                    all, idle expiry 15 s): the RSS while they are held, after they expired,
                    and after a second 20,000 (the memory freed is reused, not leaked).
  slowloris-under   connections below the cap, each sending one header byte every 2 s: the
                    header timeout (10 s) closes them; /health keeps answering.
  slowloris-over-once
                    more connections than the cap (2,048), each opened once: those past the
                    cap and its overflow (256) are closed at once, the rest by the timeouts.
  slowloris-over    the same, but every connection is reopened 0.5 s after it is closed (an
                    attacker that keeps up the pressure): the gateway's descriptors stay
                    under the cap plus the overflow.

In the slowloris runs /health is probed every 0.25 s on the main listener and on the
operator's listener (--admin-listen), and alice tries an `initialize` every second.

Each gateway's config and log live in a temporary directory, removed afterwards unless
HTTP_LIMITS_KEEP is set. Gateway RSS (VmRSS) and open descriptors are sampled from /proc every 0.5 s. One JSON line
per scenario is written to stdout, a readable summary to stderr.
"""

import argparse
import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time

ALICE = "alice-token-bench-0000000001"
BOB = "bob-token-bench-00000000000002"
OPERATOR = "operator-token-bench-000000003"
AGENTS = [ALICE, BOB]

INIT = json.dumps({
    "jsonrpc": "2.0", "id": 1, "method": "initialize",
    "params": {"protocolVersion": "2025-11-25", "capabilities": {},
               "clientInfo": {"name": "http-limits-bench", "version": "0"}},
}).encode()
INITIALIZED = json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"}).encode()
PING = json.dumps({"jsonrpc": "2.0", "id": 2, "method": "ping"}).encode()


def log(msg):
    print(time.strftime("%H:%M:%S ") + msg, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------
# The gateway under test


class Gateway:
    """A running mcpgw over HTTP, with its /proc sampled in a thread."""

    def __init__(self, mcpgw, limits, workdir, admin=False):
        self.dir = tempfile.mkdtemp(prefix="mcpgw-limits-", dir=workdir)
        cfg = os.path.join(self.dir, "cfg")
        logs = os.path.join(self.dir, "logs")
        os.makedirs(cfg)
        os.makedirs(logs)
        with open(os.path.join(cfg, ".mcp.json"), "w") as f:
            json.dump({
                "mcpServers": {"shared": {"command": "/bin/cat"}},
                "gateway": {"http": {
                    "tokens": [{"agent": "alice", "token": ALICE}, {"agent": "bob", "token": BOB}],
                    "admin_tokens": [{"token": OPERATOR}],
                    "limits": limits,
                }},
            }, f)
        with open(os.path.join(cfg, "rules.json"), "w") as f:
            json.dump({"agents": {"alice": {"allow": {"servers": ["shared"]}},
                                  "bob": {"allow": {"servers": ["shared"]}}}}, f)
        self.stderr_path = os.path.join(logs, "mcpgw.err")
        self.err = open(self.stderr_path, "w+")
        self.proc = subprocess.Popen(
            [mcpgw, "serve", "--transport", "http", "--listen", "127.0.0.1:0",
             "--mcp-config", os.path.join(cfg, ".mcp.json"), "--rules", os.path.join(cfg, "rules.json"),
             "--audit-log", os.path.join(logs, "audit.jsonl")]
            + (["--admin-listen", "127.0.0.1:0"] if admin else []),
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self.err,
            env=dict(os.environ, RUST_LOG=os.environ.get("RUST_LOG", "warn")))
        self.pid = self.proc.pid
        deadline = time.time() + 20
        self.port = None
        self.admin_port = None
        while time.time() < deadline and self.port is None:
            time.sleep(0.05)
            with open(self.stderr_path) as f:
                text = f.read()
            m = re.search(r"Gateway is ready on http://127\.0\.0\.1:(\d+)/mcp", text)
            if m:
                self.port = int(m.group(1))
            m = re.search(r"Operator endpoints on http://127\.0\.0\.1:(\d+)", text)
            if m:
                self.admin_port = int(m.group(1))
            if self.proc.poll() is not None:
                break
        if self.port is None:
            with open(self.stderr_path) as f:
                raise SystemExit("mcpgw did not start:\n" + f.read())
        self.samples = []  # (t, rss_kb, hwm_kb, fds)
        self.t0 = time.time()
        self._stop = threading.Event()
        self._sampler = threading.Thread(target=self._sample, daemon=True)
        self._sampler.start()

    def proc_status(self):
        rss = hwm = 0
        try:
            with open(f"/proc/{self.pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        rss = int(line.split()[1])
                    elif line.startswith("VmHWM:"):
                        hwm = int(line.split()[1])
            fds = len(os.listdir(f"/proc/{self.pid}/fd"))
        except (FileNotFoundError, ProcessLookupError):
            return None
        return rss, hwm, fds

    def _sample(self):
        while not self._stop.is_set():
            s = self.proc_status()
            if s:
                self.samples.append((time.time() - self.t0, *s))
            self._stop.wait(0.5)

    def window(self, since, until=None):
        """Samples between two times (seconds since start)."""
        return [s for s in self.samples if s[0] >= since and (until is None or s[0] <= until)]

    def now(self):
        return time.time() - self.t0

    def stop(self):
        self._stop.set()
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.err.close()
        if not os.environ.get("HTTP_LIMITS_KEEP"):
            shutil.rmtree(self.dir, ignore_errors=True)

    def log_tail(self, n=5):
        with open(self.stderr_path) as f:
            return f.read().splitlines()[-n:]


# ---------------------------------------------------------------------------------------
# A minimal HTTP/1.1 client (keep-alive, content-length or chunked bodies)


async def read_response(reader):
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
    if "content-length" in headers:
        body = await reader.readexactly(int(headers["content-length"]))
    elif headers.get("transfer-encoding", "").lower() == "chunked":
        body = b""
        while True:
            size = int((await reader.readline()).strip().split(b";")[0], 16)
            if size == 0:
                await reader.readline()
                break
            body += await reader.readexactly(size)
            await reader.readline()
    else:
        body = b""
    return status, headers, body


def request(method, path, port, headers=(), body=b""):
    h = [f"{method} {path} HTTP/1.1", f"host: 127.0.0.1:{port}"]
    h += [f"{k}: {v}" for k, v in headers]
    if body or method == "POST":
        h.append(f"content-length: {len(body)}")
    return ("\r\n".join(h) + "\r\n\r\n").encode() + body


def mcp_post(port, token, body, session=None):
    headers = [("authorization", f"Bearer {token}"), ("content-type", "application/json"),
               ("accept", "application/json")]
    if session:
        headers.append(("mcp-session-id", session))
    return request("POST", "/mcp", port, headers, body)


async def one_shot(port, raw, timeout=10.0):
    """One request on a fresh connection: (status or None, seconds, body)."""
    t = time.perf_counter()
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), timeout)
        try:
            writer.write(raw)
            status, _, body = await asyncio.wait_for(read_response(reader), timeout)
        finally:
            writer.close()
        return status, time.perf_counter() - t, body
    except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError, ValueError, IndexError):
        return None, time.perf_counter() - t, b""


async def ready_detail(port):
    status, _, body = await one_shot(port, request("GET", "/ready", port, [("authorization", f"Bearer {OPERATOR}")]))
    try:
        return json.loads(body)
    except ValueError:
        return {"status": status}


# ---------------------------------------------------------------------------------------
# Sessions


async def open_sessions(gw, n, connections=16):
    """Opens n sessions (initialize + notifications/initialized), alternating the agents,
    over `connections` kept-alive connections. Returns counts and the first ids."""
    counter = iter(range(n))
    statuses = {}
    first_ids = {}
    lock = asyncio.Lock()

    async def worker():
        reader, writer = await asyncio.open_connection("127.0.0.1", gw.port)
        try:
            for i in counter:
                token = AGENTS[i % 2]
                writer.write(mcp_post(gw.port, token, INIT))
                status, headers, _ = await read_response(reader)
                statuses[status] = statuses.get(status, 0) + 1
                sid = headers.get("mcp-session-id")
                if status == 200 and sid:
                    if i < 2:
                        async with lock:
                            first_ids[token] = sid
                    writer.write(mcp_post(gw.port, token, INITIALIZED, sid))
                    status, _, _ = await read_response(reader)
                    if status != 202:
                        statuses[f"initialized {status}"] = statuses.get(f"initialized {status}", 0) + 1
                if headers.get("connection", "").lower() == "close":
                    writer.close()
                    reader, writer = await asyncio.open_connection("127.0.0.1", gw.port)
        finally:
            writer.close()

    t = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(connections)))
    return {"seconds": round(time.perf_counter() - t, 2), "statuses": statuses}, first_ids


async def ping_status(gw, token, sid):
    status, _, _ = await one_shot(gw.port, mcp_post(gw.port, token, PING, sid))
    return status


def rss_summary(samples):
    if not samples:
        return {}
    return {"rss_min_mib": round(min(s[1] for s in samples) / 1024, 1),
            "rss_max_mib": round(max(s[1] for s in samples) / 1024, 1),
            "rss_last_mib": round(samples[-1][1] / 1024, 1),
            "fds_max": max(s[3] for s in samples)}


async def sessions_scenario(args, name, limits, expire):
    gw = Gateway(args.mcpgw, limits, args.workdir)
    out = {"bench": name, "limits": limits, "sessions": args.sessions}
    try:
        await asyncio.sleep(1.0)
        idle = gw.proc_status()
        out["idle_rss_mib"] = round(idle[0] / 1024, 1)
        log(f"{name}: gateway pid {gw.pid} on port {gw.port}, idle RSS {out['idle_rss_mib']} MiB")
        start = gw.now()
        opened, first = await open_sessions(gw, args.sessions)
        end = gw.now()
        out["open"] = opened
        out["during"] = rss_summary(gw.window(start, end))
        detail = await ready_detail(gw.port)
        out["sessions_open_after"] = detail.get("sessions")
        out["first_alice_session_ping"] = await ping_status(gw, ALICE, first.get(ALICE))
        await asyncio.sleep(1.0)
        out["rss_after_open_mib"] = round(gw.proc_status()[0] / 1024, 1)
        log(f"{name}: {args.sessions} sessions in {opened['seconds']} s, statuses {opened['statuses']}; "
            f"open now {out['sessions_open_after']}; RSS during {out['during']}; "
            f"first session of alice answers {out['first_alice_session_ping']}")
        if expire:
            t = time.time()
            while time.time() - t < 120:
                n = (await ready_detail(gw.port)).get("sessions")
                if n == 0:
                    break
                await asyncio.sleep(1.0)
            out["expired_after_s"] = round(time.time() - t, 1)
            out["sessions_open_after_expiry"] = n
            await asyncio.sleep(1.0)
            out["rss_after_expiry_mib"] = round(gw.proc_status()[0] / 1024, 1)
            log(f"{name}: sessions {n} after {out['expired_after_s']} s; RSS {out['rss_after_expiry_mib']} MiB")
            start = gw.now()
            again, _ = await open_sessions(gw, args.sessions)
            out["second_round"] = {"open": again, "during": rss_summary(gw.window(start, gw.now())),
                                   "sessions_open_after": (await ready_detail(gw.port)).get("sessions")}
            log(f"{name}: second {args.sessions} sessions: {again}, RSS during {out['second_round']['during']}")
        out["peak_rss_mib"] = round(gw.proc_status()[1] / 1024, 1)
        out["alive"] = gw.proc.poll() is None
    finally:
        gw.stop()
    return out


# ---------------------------------------------------------------------------------------
# Slowloris

SLOW_HEAD = b"GET /health HTTP/1.1\r\nhost: 127.0.0.1\r\nx-slow: "


async def slowloris_scenario(args, name, count, reconnect, limits):
    gw = Gateway(args.mcpgw, limits, args.workdir, admin=True)
    out = {"bench": name, "limits": limits, "connections": count, "reconnect": reconnect,
           "byte_every_s": args.byte_every, "duration_s": args.duration}
    stop_at = time.time() + args.duration
    outcomes = {}           # how a connection ended -> its lifetimes (connect to end), seconds
    opened = [0]
    connect_errors = [0]

    async def attacker(k):
        # Spread the connects over the first 2 s.
        await asyncio.sleep((k % 200) * 0.01)
        while time.time() < stop_at:
            t = time.time()
            try:
                reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", gw.port), 5)
            except (OSError, asyncio.TimeoutError):
                connect_errors[0] += 1
                await asyncio.sleep(1.0)
                continue
            opened[0] += 1
            got = b""
            i = 0
            try:
                while time.time() < stop_at:
                    byte = SLOW_HEAD[i:i + 1] if i < len(SLOW_HEAD) else b"a"
                    i += 1
                    writer.write(byte)
                    await writer.drain()
                    try:
                        chunk = await asyncio.wait_for(reader.read(256), args.byte_every)
                    except asyncio.TimeoutError:
                        continue
                    got += chunk
                    break  # an answer or the close
                else:
                    outcomes.setdefault("still open at the end", []).append(time.time() - t)
                    writer.close()
                    return
            except (OSError, ConnectionError):
                pass
            writer.close()
            if got:
                end = got.split(b"\r\n", 1)[0].decode("latin-1")
            else:
                end = "closed unanswered within 0.5 s" if time.time() - t < 0.5 else "closed unanswered later"
            outcomes.setdefault(end, []).append(time.time() - t)
            if not reconnect:
                return
            await asyncio.sleep(args.reconnect_delay)

    health = []             # (t, status, seconds)
    admin_health = []       # the same on the operator's listener (--admin-listen)
    agent = []              # (t, status, seconds): an agent's initialize under the flood

    async def prober(port, into):
        while time.time() < stop_at:
            status, secs, _ = await one_shot(port, request("GET", "/health", port), timeout=5)
            into.append((time.time(), status, secs))
            await asyncio.sleep(0.25)

    async def agent_prober():
        while time.time() < stop_at:
            status, secs, _ = await one_shot(gw.port, mcp_post(gw.port, ALICE, INIT), timeout=5)
            agent.append((time.time(), status, secs))
            await asyncio.sleep(1.0)

    try:
        await asyncio.sleep(1.0)
        before = gw.proc_status()
        out["before"] = {"rss_mib": round(before[0] / 1024, 1), "fds": before[2]}
        log(f"{name}: gateway pid {gw.pid} on port {gw.port}; {count} slow connections for {args.duration} s"
            f"{' (reconnecting)' if reconnect else ''}")
        start = gw.now()
        await asyncio.gather(*(attacker(k) for k in range(count)), prober(gw.port, health),
                             prober(gw.admin_port, admin_health), agent_prober())
        flood = gw.window(start, gw.now())
        await asyncio.sleep(2.0)
        after = gw.proc_status()

        def at(xs, p):
            return xs[min(len(xs) - 1, int(p * len(xs)))]

        def pct(xs, p):
            return round(at(xs, p), 2) if xs else None

        def ms(xs, p):
            return round(at(xs, p) * 1000, 1) if xs else None

        def probes(hs):
            ok = [h for h in hs if h[1] == 200]
            lat = sorted(h[2] for h in ok)
            failed = {str(k): sum(1 for h in hs if h[1] == k) for k in {h[1] for h in hs if h[1] != 200}}
            return {"probes": len(hs), "ok": len(ok), "failed": failed,
                    "p50_ms": ms(lat, 0.5), "p99_ms": ms(lat, 0.99), "max_ms": ms(lat, 1.0)}
        out.update({
            "connects": opened[0],
            "connect_errors": connect_errors[0],
            "ended": {k: {"count": len(v), "lifetime_s": {"min": pct(v, 0), "p50": pct(v, 0.5),
                                                          "p99": pct(v, 0.99), "max": pct(v, 1.0)}}
                      for k, v in ((k, sorted(v)) for k, v in outcomes.items())},
            "during": rss_summary(flood),
            "health": probes(health),
            "admin_health": probes(admin_health),
            "agent_initialize": {str(k): sum(1 for a in agent if a[1] == k) for k in {a[1] for a in agent}},
            "after": {"rss_mib": round(after[0] / 1024, 1), "fds": after[2]},
            "peak_rss_mib": round(after[1] / 1024, 1),
            "alive": gw.proc.poll() is None,
        })
        out["health_after"] = (await one_shot(gw.port, request("GET", "/health", gw.port)))[0]
        log(f"{name}: {opened[0]} connects; how they ended: {json.dumps(out['ended'])}; "
            f"gateway fds max {out['during'].get('fds_max')}, RSS max {out['during'].get('rss_max_mib')} MiB; "
            f"/health {out['health']}; /health on --admin-listen {out['admin_health']}; "
            f"alice's initialize {out['agent_initialize']}; after: {out['after']}")
    finally:
        gw.stop()
    return out


# ---------------------------------------------------------------------------------------


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--mcpgw", required=True)
    p.add_argument("--workdir", default=tempfile.gettempdir())
    p.add_argument("--sessions", type=int, default=20_000)
    p.add_argument("--slow-under", type=int, default=1500, help="slow connections below the cap")
    p.add_argument("--slow-over", type=int, default=4000, help="slow connections above the cap")
    p.add_argument("--byte-every", type=float, default=2.0)
    p.add_argument("--duration", type=float, default=40.0, help="seconds of each slowloris run")
    p.add_argument("--reconnect-delay", type=float, default=0.5)
    p.add_argument("scenarios", nargs="*",
                   default=["sessions-default", "sessions-raised", "slowloris-under", "slowloris-over-once",
                            "slowloris-over"])
    args = p.parse_args()
    for s in args.scenarios:
        if s == "sessions-default":
            r = asyncio.run(sessions_scenario(args, s, {}, expire=False))
        elif s == "sessions-raised":
            limits = {"sessions_per_agent": 10_000, "sessions_total": 20_000, "session_idle_ms": 15_000}
            r = asyncio.run(sessions_scenario(args, s, limits, expire=True))
        elif s == "slowloris-under":
            r = asyncio.run(slowloris_scenario(args, s, args.slow_under, False, {}))
        elif s == "slowloris-over":
            r = asyncio.run(slowloris_scenario(args, s, args.slow_over, True, {}))
        elif s == "slowloris-over-once":
            r = asyncio.run(slowloris_scenario(args, s, args.slow_over, False, {}))
        else:
            raise SystemExit(f"unknown scenario {s}")
        print(json.dumps(r), flush=True)


if __name__ == "__main__":
    main()
