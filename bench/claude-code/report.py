#!/usr/bin/env python3
"""Summarizes what the stand-in recorded, and prints the tables of bench/claude-code.sh.

  python3 report.py summarize RUNDIR KEY=VALUE...   one JSON line for one Claude Code run
  python3 report.py table RESULTS.jsonl             the markdown tables

Counting (every number comes from the recorded request bodies):

- bytes: the body of each request as Claude Code sent it; tokens = bytes / 4, rounded up.
  Claude's tokenizer is not public; bytes / 4 is the convention of docs/PERFORMANCE.md and of
  issue 16, and it is applied to every path alike, so the comparisons hold whatever the exact
  ratio is (JSON-heavy text runs at about 3-4 bytes per token).
- turns: the model requests of the main conversation (the stand-in's kind "main"); a task's
  total is the sum of their bytes, since every turn resends the whole context.
- definitions: in the last main request, the JSON of every MCP tool in `tools` (mcp__*: loaded,
  or fetched by ToolSearch) plus the deferred MCP names listed for ToolSearch (one line each).
- discovery: in the last main request, the tool_use and tool_result blocks of the discovery
  steps (ToolSearch, list_servers, get_server_tools, search_tools), as compact JSON.
- side requests: every other request to /v1/messages (none counted in the totals).
"""
import json
import os
import sys

DISCOVERY = ("list_servers", "get_server_tools", "search_tools")


def tokens(n):
    return (n + 3) // 4


def compact(obj):
    return len(json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode())


def is_discovery(name):
    return name == "ToolSearch" or any(name.endswith("__" + d) for d in DISCOVERY)


def blocks(m):
    c = m.get("content")
    return [{"type": "text", "text": c}] if isinstance(c, str) else (c or [])


def breakdown(req, deferred):
    defs = sum(compact(t) for t in req.get("tools", []) if t.get("name", "").startswith("mcp__"))
    defs += sum(len(n.encode()) + 1 for n in deferred if n.startswith("mcp__"))
    disc_ids, disc = set(), 0
    for m in req.get("messages", []):
        for b in blocks(m):
            if b.get("type") == "tool_use" and is_discovery(b.get("name", "")):
                disc_ids.add(b["id"])
                disc += compact(b)
            elif b.get("type") == "tool_result" and b.get("tool_use_id") in disc_ids:
                disc += compact(b)
    return defs, disc


def summarize(rundir, extra):
    lines = [json.loads(l) for l in open(os.path.join(rundir, "requests.jsonl"))]
    main = [l for l in lines if l.get("kind") == "main"]
    side = [l for l in lines if l.get("kind") == "side"]
    out = dict(extra)
    result_path = os.path.join(rundir, "result.json")
    result = json.load(open(result_path)) if os.path.exists(result_path) else {"ok": False, "error": "no answer given"}
    out["ok"] = bool(result.get("ok"))
    if result.get("error"):
        out["error"] = result["error"]
    incomplete = out.pop("incomplete", "").strip()
    if incomplete:
        out["ok"] = False
        out["error"] = "mcpgw left out or could not start: %s%s" % (incomplete, "; " + out["error"] if out.get("error") else "")
    out["turns"] = len(main)
    out["bytes"] = sum(l["bytes"] for l in main)
    out["tokens"] = sum(l["tokens"] for l in main)
    out["first_bytes"] = main[0]["bytes"] if main else 0
    out["per_turn_bytes"] = [l["bytes"] for l in main]
    out["steps"] = [l["answer"].get("tool_use", "answer") for l in main]
    out["side_requests"] = len(side)
    out["side_bytes"] = sum(l["bytes"] for l in side)
    out["side_models"] = sorted({l.get("model") or "?" for l in side})
    if main:
        first = json.load(open(os.path.join(rundir, "req-%03d.json" % main[0]["seq"])))
        last = json.load(open(os.path.join(rundir, "req-%03d.json" % main[-1]["seq"])))
        out["first_defs_bytes"], _ = breakdown(first, main[0]["deferred_tools"])
        out["defs_bytes"], out["discovery_bytes"] = breakdown(last, main[-1]["deferred_tools"])
        out["first_loaded_mcp"] = [n for n in main[0]["loaded_tools"] if n.startswith("mcp__")]
        out["first_deferred_mcp"] = len([n for n in main[0]["deferred_tools"] if n.startswith("mcp__")])
        out["n_tools_first"] = len(first.get("tools", []))
        # Every configured server must be offered when its tools are listed to the client.
        depth = {"servers": 1, "gw-direct": 2}.get(out.get("path"))
        expect = {s for s in out.pop("expect_servers", "").split(",") if s}
        if depth and expect:
            names = [n for n in main[0]["loaded_tools"] + main[0]["deferred_tools"] if n.startswith("mcp__")]
            seen = {n.split("__")[depth] for n in names if len(n.split("__")) > depth}
            missing = sorted(expect - seen)
            if missing:
                out["ok"] = False
                out["error"] = "servers not offered in the first request: %s" % ", ".join(missing)
    out.pop("expect_servers", None)
    print(json.dumps(out))


def fmt(n):
    return "{:,}".format(n)


def pct(a, b):
    return "%+.1f %%" % (100.0 * (a - b) / b) if b else "n/a"


PATHS = [
    ("servers", "servers configured directly"),
    ("gw-direct", "mcpgw `--expose direct`"),
    ("gw-meta", "mcpgw meta-tools (list_servers → get_server_tools → execute_tool)"),
    ("gw-search", "mcpgw `search_tools` → `execute_tool`"),
    ("gw-meta-noalways", "meta-tools, `alwaysLoad` stripped"),
    ("gw-search-noalways", "`search_tools`, `alwaysLoad` stripped"),
]
CLIENTS = [("default", "Claude Code default (defers MCP tools, ToolSearch)"),
           ("nosearch", "`ENABLE_TOOL_SEARCH=false` (loads every definition)")]


def table(path):
    rows = [json.loads(l) for l in open(path) if l.strip()]
    runs = [r for r in rows if r.get("path") != "baseline"]
    # A catalogue's size: the MCP definitions Claude Code loads when it defers none (the
    # servers-directly path with tool search off), in its first request.
    for cat in {r["catalogue"] for r in runs}:
        ref = [r for r in runs if r["catalogue"] == cat and r["path"] == "servers" and r["client"] == "nosearch"]
        ref = ref or [r for r in runs if r["catalogue"] == cat and r["path"] == "servers"]
        size = round(sum(tokens(r["first_defs_bytes"]) for r in ref) / len(ref)) if ref else 0
        n_tools = max((len(r["first_loaded_mcp"]) or r["first_deferred_mcp"]) for r in ref) if ref else 0
        for r in runs:
            if r["catalogue"] == cat:
                r["cat_defs_tokens"], r["cat_tools"] = size, n_tools
    base = {r["client"]: r for r in rows if r.get("path") == "baseline"}
    bad = [r for r in runs if not r["ok"]]
    tasks = sorted({r["task"] for r in runs}, key=lambda t: [r["task"] for r in runs].index(t))
    catalogues = sorted({r["catalogue"] for r in runs}, key=lambda c: min(r["cat_defs_tokens"] for r in runs if r["catalogue"] == c))
    for cat in catalogues:
        crows = [r for r in runs if r["catalogue"] == cat]
        cat_tokens = crows[0]["cat_defs_tokens"]
        print("\n### Catalogue `%s`: %s MCP tools, %s tokens of definitions as Claude Code loads them\n"
              % (cat, crows[0]["cat_tools"], fmt(cat_tokens)))
        for client, client_label in CLIENTS:
            sel = [r for r in crows if r["client"] == client]
            if not sel:
                continue
            b = base.get(client)
            print("**%s**, %d tasks (%s)%s\n" % (client_label, len(tasks), ", ".join(tasks),
                  "; Claude Code's own first request without any MCP server: %s tokens" % fmt(tokens(b["first_bytes"])) if b else ""))
            print("| path | turns | tokens per task (mean) | vs servers directly | first request, tokens | definitions + discovery, tokens per task | all tasks done |")
            print("|---|---:|---:|---:|---:|---:|---|")
            ref = None
            for key, label in PATHS:
                pr = [r for r in sel if r["path"] == key]
                if not pr:
                    continue
                n = len(pr)
                mean_tok = sum(r["tokens"] for r in pr) / n
                if key == "servers":
                    ref = mean_tok
                turns = "/".join(str(r["turns"]) for r in pr)
                first = sum(tokens(r["first_bytes"]) for r in pr) / n
                dd = sum(tokens(r["defs_bytes"] + r["discovery_bytes"]) for r in pr) / n
                ok = "yes" if all(r["ok"] for r in pr) else "**no** (%d failed)" % sum(not r["ok"] for r in pr)
                retries = sum(int(r.get("attempt", 1)) - 1 for r in pr)
                if retries:
                    ok += " (%d retried)" % retries
                print("| %s | %s | %s | %s | %s | %s | %s |" % (label, turns, fmt(round(mean_tok)), pct(mean_tok, ref) if ref and key != "servers" else "", fmt(round(first)), fmt(round(dd)), ok))
            print()
    # Per task detail.
    print("\n### Per task\n")
    print("| catalogue | client | path | task | turns | steps | bytes | tokens | definitions | discovery | side requests | attempt |")
    print("|---|---|---|---|---:|---|---:|---:|---:|---:|---:|---:|")
    for r in runs:
        print("| %s | %s | %s | %s | %d | %s | %s | %s | %s | %s | %d (%s B) | %s |" % (
            r["catalogue"], r["client"], r["path"], r["task"], r["turns"],
            " → ".join(s.split("__")[-1] for s in r["steps"]), fmt(r["bytes"]), fmt(r["tokens"]),
            fmt(tokens(r["defs_bytes"])), fmt(tokens(r["discovery_bytes"])), r["side_requests"], fmt(r["side_bytes"]), r.get("attempt", 1)))
    if bad:
        print("\nFailed runs:\n")
        for r in bad:
            print("- %s %s %s %s: %s" % (r["catalogue"], r["client"], r["path"], r["task"], r.get("error")))
    breakeven(runs)


def breakeven(runs):
    """For the client that loads every definition: a straight line through the measured points
    of each path (tokens per task against tokens of definitions in the catalogue), and where the
    gateway's paths cross loading everything."""
    sel = [r for r in runs if r["client"] == "nosearch"]
    cats = sorted({(r["cat_defs_tokens"], r["catalogue"]) for r in sel})
    if len(cats) < 2:
        return

    def line(path):
        pts = []
        for d, c in cats:
            pr = [r for r in sel if r["catalogue"] == c and r["path"] == path]
            if pr:
                pts.append((d, sum(r["tokens"] for r in pr) / len(pr)))
        if len(pts) < 2:
            return None, pts
        n = len(pts)
        mx = sum(p[0] for p in pts) / n
        my = sum(p[1] for p in pts) / n
        sxx = sum((p[0] - mx) ** 2 for p in pts)
        slope = sum((p[0] - mx) * (p[1] - my) for p in pts) / sxx
        return (my - slope * mx, slope), pts

    print("\n### Catalogue size, for the client that loads every definition (`ENABLE_TOOL_SEARCH=false`)\n")
    print("Tokens per task (mean over the tasks) at each measured catalogue, and the straight line through them.\n")
    fits = {}
    header = "| path | " + " | ".join("%s (%s tok)" % (c, fmt(d)) for d, c in cats) + " | fit: tokens per task ≈ a + b × D |"
    print(header)
    print("|---|" + "---:|" * len(cats) + "---|")
    for key, label in PATHS[:4]:
        fit, pts = line(key)
        if not pts:
            continue
        fits[key] = fit
        vals = dict(pts)
        print("| %s | %s | %s |" % (label, " | ".join(fmt(round(vals[d])) if d in vals else "" for d, _ in cats),
                                     "a = %s, b = %.2f" % (fmt(round(fit[0])), fit[1]) if fit else ""))
    ref = fits.get("servers")
    if not ref:
        return
    print()
    for key in ("gw-meta", "gw-search"):
        fit = fits.get(key)
        if not fit:
            continue
        label = dict(PATHS)[key]
        if ref[1] <= fit[1]:
            print("- %s: no break-even (its slope %.2f is not below loading everything's %.2f)." % (label, fit[1], ref[1]))
            continue
        d0 = (fit[0] - ref[0]) / (ref[1] - fit[1])
        # Where it saves half: a + bD = 0.5 (A + B D)
        d50 = (fit[0] - 0.5 * ref[0]) / (0.5 * ref[1] - fit[1]) if 0.5 * ref[1] > fit[1] else None
        at20 = 1 - (fit[0] + fit[1] * 20000) / (ref[0] + ref[1] * 20000)
        print("- %s: breaks even at about %s tokens of definitions; saves %.0f %% at 20,000 tokens; saves 50 %% from %s tokens (computed from the fits)."
              % (label, fmt(round(max(d0, 0))), 100 * at20, fmt(round(d50)) if d50 and d50 > 0 else "never"))


if __name__ == "__main__":
    if sys.argv[1] == "summarize":
        summarize(sys.argv[2], dict(a.split("=", 1) for a in sys.argv[3:]))
    elif sys.argv[1] == "table":
        table(sys.argv[2])
    else:
        sys.exit("usage: report.py summarize RUNDIR K=V... | table RESULTS.jsonl")
