#!/usr/bin/env python3
"""A local stand-in for the Anthropic Messages API, for bench/claude-code.sh.

Claude Code is pointed at it (ANTHROPIC_BASE_URL=http://127.0.0.1:PORT) and runs one task.
The stand-in records every request and answers with scripted turns: a scripted model that
reaches the task's tool by the path it is told to take (the strategy), choosing each step from
what the request offers (loaded tools, deferred tool names) and from the tool results so far.

  python3 standin.py --task TASK.json --strategy direct|browse|search --out DIR

It binds 127.0.0.1 on an ephemeral port and writes the port to DIR/port. It writes:

  DIR/req-NNN.json    every request body, as received
  DIR/requests.jsonl  one line per request: kind (main/side), bytes, tokens (bytes / 4,
                      rounded up), what it offered, and the scripted answer
  DIR/result.json     the task's outcome, written when the scripted model gives its answer

Strategies (the same task file for every path):

  direct  call the task's tool itself, under whatever name the request offers it
          (mcp__SERVER__TOOL configured directly, mcp__GW__SERVER__TOOL through mcpgw's direct
          mode); when that name is deferred, load it with ToolSearch "select:NAME" first.
  browse  mcpgw's meta-tools: list_servers -> get_server_tools {server} -> execute_tool.
  search  mcpgw's search_tools {query} -> execute_tool.
  none    answer at once (the baseline: what Claude Code sends with no tool call at all).

For browse and search, the meta-tools the path needs are loaded with one ToolSearch
"select:A,B,..." when the request lists them as deferred; with `anthropic/alwaysLoad` they are
offered with their full schema and no ToolSearch turn is needed.

The task file: {"id", "prompt", "server", "tool", "args", "query", "expect", "answer"}; expect
is a string the tool's result must contain for the task to count as done.

Main or side: a request is the main conversation when its first user turn holds the task's
prompt and it offers tools; anything else (title generation, haiku-model calls, quota probes)
is a side request, recorded as such and answered with a minimal text.
"""

import argparse
import http.server
import itertools
import json
import os
import re
import sys
import threading

DEFERRED_INTRO = "The following deferred tools are now available via ToolSearch"
TOOL_SEARCH = "ToolSearch"


def tokens(n_bytes):
    return (n_bytes + 3) // 4


def blocks(message):
    content = message.get("content")
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    return content or []


def text_of(content):
    """The text of a tool_result's content (a string or a list of blocks)."""
    if isinstance(content, str):
        return content
    out = []
    for b in content or []:
        if b.get("type") == "text":
            out.append(b.get("text", ""))
        else:
            out.append(json.dumps(b))
    return "\n".join(out)


def deferred_names(req):
    """Tool names the request lists as deferred: in a system-reminder text, one per line after
    the ToolSearch introduction, and any tool with defer_loading."""
    names = []
    for m in req.get("messages", []):
        for b in blocks(m):
            t = b.get("text", "") if b.get("type") == "text" else ""
            i = t.find(DEFERRED_INTRO)
            if i < 0:
                continue
            rest = t[i:].split("\n")[1:]
            for line in rest:
                line = line.strip()
                if not line:
                    break
                names.append(line)
    for tool in req.get("tools", []) or []:
        if tool.get("defer_loading"):
            names.append(tool.get("name"))
    return names


def loaded_names(req):
    return [t.get("name") for t in req.get("tools", []) or [] if not t.get("defer_loading")]


class Conversation:
    """The tool calls made so far in a main request, with their results."""

    def __init__(self, req):
        self.calls = []  # (id, name, input)
        self.results = {}  # id -> (text, is_error)
        for m in req.get("messages", []):
            for b in blocks(m):
                if b.get("type") == "tool_use":
                    self.calls.append((b["id"], b["name"], b.get("input", {})))
                elif b.get("type") == "tool_result":
                    self.results[b["tool_use_id"]] = (text_of(b.get("content")), bool(b.get("is_error")))

    def last_result(self, name_pred):
        for cid, name, inp in reversed(self.calls):
            if name_pred(name, inp):
                return self.results.get(cid)
        return None

    def tool_searches(self):
        return [inp.get("query", "") for _, n, inp in self.calls if n == TOOL_SEARCH]


class Script:
    def __init__(self, task, strategy, out):
        self.task = task
        self.strategy = strategy
        self.out = out
        self.ids = itertools.count(1)

    # --- naming ---------------------------------------------------------------------------
    def offered(self, req):
        return loaded_names(req), deferred_names(req)

    def find(self, names, suffix):
        """The one offered name for a tool: mcp__SERVER__suffix style, exact match on the end."""
        hits = [n for n in names if n == suffix or n.endswith("__" + suffix)]
        return hits[0] if hits else None

    def callable(self, req, name):
        loaded, _ = self.offered(req)
        if name in loaded:
            return True
        # A deferred tool becomes callable once a ToolSearch result carried its schema.
        conv = Conversation(req)
        for cid, n, inp in conv.calls:
            if n == TOOL_SEARCH and name in (conv.results.get(cid) or ("", False))[0]:
                return True
        return False

    # --- the next step ----------------------------------------------------------------------
    def next_step(self, req):
        """("tool_use", name, input) or ("answer", text, outcome)."""
        conv = Conversation(req)
        for cid, name, _ in conv.calls:
            res = conv.results.get(cid)
            if res and res[1] and name != TOOL_SEARCH:
                return ("answer", "FAILED: %s returned an error" % name, {"ok": False, "error": res[0][:2000], "failed_tool": name})
        loaded, deferred = self.offered(req)
        every = loaded + deferred
        t = self.task
        if self.strategy == "none":
            return ("answer", t.get("answer", "Done."), {"ok": True, "baseline": True})
        if self.strategy == "direct":
            target = self.find(every, t["server"] + "__" + t["tool"])
            if target is None:
                return ("answer", "FAILED: no tool for the task", {"ok": False, "error": "tool %s__%s not offered" % (t["server"], t["tool"])})
            done = conv.last_result(lambda n, i: n == target)
            if done:
                return self.finish(done[0])
            return self.call_or_load(req, conv, [target], target, t.get("args", {}))
        gw_tool = lambda short: self.find(every, short)  # noqa: E731
        if self.strategy == "browse":
            need = [gw_tool("list_servers"), gw_tool("get_server_tools"), gw_tool("execute_tool")]
        else:
            need = [gw_tool("search_tools"), gw_tool("execute_tool")]
        if None in need:
            return ("answer", "FAILED: meta-tools not offered", {"ok": False, "error": "missing meta-tools: %s" % need})
        execute = need[-1]
        done = conv.last_result(lambda n, i: n == execute)
        if done:
            return self.finish(done[0])
        if self.strategy == "browse":
            ls, gst = need[0], need[1]
            listed = conv.last_result(lambda n, i: n == ls)
            if listed is None:
                return self.call_or_load(req, conv, need, ls, {})
            if t["server"] not in listed[0]:
                return ("answer", "FAILED: server not listed", {"ok": False, "error": "list_servers lacks %s" % t["server"]})
            tools = conv.last_result(lambda n, i: n == gst)
            if tools is None:
                return self.call_or_load(req, conv, need, gst, {"server": t["server"]})
            if t["tool"] not in tools[0]:
                return ("answer", "FAILED: tool not in get_server_tools", {"ok": False, "error": "get_server_tools lacks %s" % t["tool"]})
        else:
            st = need[0]
            found = conv.last_result(lambda n, i: n == st)
            if found is None:
                return self.call_or_load(req, conv, need, st, {"query": t["query"]})
            if t["tool"] not in found[0]:
                return ("answer", "FAILED: search_tools did not find the tool", {"ok": False, "error": "search_tools lacks %s" % t["tool"]})
        return self.call_or_load(req, conv, need, execute, {"server": t["server"], "tool": t["tool"], "args": t.get("args", {})})

    def call_or_load(self, req, conv, path_tools, name, args):
        if self.callable(req, name):
            return ("tool_use", name, args)
        missing = [n for n in path_tools if not self.callable(req, n)]
        query = "select:" + ",".join(missing)
        if query in conv.tool_searches():
            return ("answer", "FAILED: ToolSearch did not load %s" % name, {"ok": False, "error": "ToolSearch did not load " + name})
        return ("tool_use", TOOL_SEARCH, {"query": query, "max_results": max(5, len(missing))})

    def finish(self, result_text):
        ok = self.task["expect"] in result_text
        outcome = {"ok": ok}
        if not ok:
            outcome["error"] = "the result lacks %r: %s" % (self.task["expect"], result_text[:500])
        return ("answer", self.task.get("answer", "Done."), outcome)


class State:
    def __init__(self, args):
        self.task = json.load(open(args.task))
        self.script = Script(self.task, args.strategy, args.out)
        self.out = args.out
        self.seq = itertools.count(1)
        self.lock = threading.Lock()
        self.log = open(os.path.join(args.out, "requests.jsonl"), "a")

    def record(self, line):
        with self.lock:
            self.log.write(json.dumps(line) + "\n")
            self.log.flush()


def is_main(req, prompt):
    if not req.get("tools"):
        return False
    for m in req.get("messages", []):
        if m.get("role") != "user":
            continue
        for b in blocks(m):
            if b.get("type") == "text" and b.get("text", "").strip() == prompt.strip():
                return True
    return False


def make_handler(state):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def send_json(self, code, obj):
            body = json.dumps(obj).encode()
            self.send_response(code)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            state.record({"seq": next(state.seq), "method": "GET", "path": self.path, "kind": "other"})
            self.send_json(404, {"type": "error", "error": {"type": "not_found_error", "message": "stand-in"}})

        do_HEAD = do_GET

        def do_POST(self):
            seq = next(state.seq)
            raw = self.rfile.read(int(self.headers.get("content-length", 0) or 0))
            with open(os.path.join(state.out, "req-%03d.json" % seq), "wb") as f:
                f.write(raw)
            try:
                req = json.loads(raw)
            except ValueError:
                req = {}
            line = {"seq": seq, "method": "POST", "path": self.path, "bytes": len(raw), "tokens": tokens(len(raw)),
                    "model": req.get("model"), "stream": bool(req.get("stream")), "max_tokens": req.get("max_tokens"),
                    "n_messages": len(req.get("messages", []))}
            if not self.path.startswith("/v1/messages") or "count_tokens" in self.path:
                line["kind"] = "other"
                state.record(line)
                self.send_json(200, {"input_tokens": tokens(len(raw))})
                return
            loaded, deferred = state.script.offered(req)
            line["loaded_tools"] = loaded
            line["deferred_tools"] = deferred
            if is_main(req, state.task["prompt"]):
                line["kind"] = "main"
                step = state.script.next_step(req)
            else:
                line["kind"] = "side"
                step = ("answer", "OK", None)
            if step[0] == "tool_use":
                line["answer"] = {"tool_use": step[1], "input": step[2]}
                content = [{"type": "tool_use", "id": "toolu_bench%04d" % next(state.script.ids), "name": step[1], "input": step[2]}]
                stop = "tool_use"
            else:
                line["answer"] = {"text": step[1]}
                content = [{"type": "text", "text": step[1]}]
                stop = "end_turn"
            state.record(line)
            if step[0] == "answer" and step[2] is not None:
                with open(os.path.join(state.out, "result.json"), "w") as f:
                    json.dump(dict(step[2], task=state.task["id"], strategy=state.script.strategy, seq=seq), f)
            self.reply(req, seq, content, stop, len(raw))

        def reply(self, req, seq, content, stop, n_bytes):
            usage = {"input_tokens": tokens(n_bytes), "output_tokens": 10,
                     "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}
            msg = {"id": "msg_bench%04d" % seq, "type": "message", "role": "assistant", "model": req.get("model", "stand-in"),
                   "content": [], "stop_reason": None, "stop_sequence": None, "usage": usage}
            if not req.get("stream"):
                msg.update(content=content, stop_reason=stop)
                self.send_json(200, msg)
                return
            events = [("message_start", {"type": "message_start", "message": msg})]
            for i, block in enumerate(content):
                if block["type"] == "text":
                    events += [("content_block_start", {"type": "content_block_start", "index": i, "content_block": {"type": "text", "text": ""}}),
                               ("content_block_delta", {"type": "content_block_delta", "index": i, "delta": {"type": "text_delta", "text": block["text"]}})]
                else:
                    events += [("content_block_start", {"type": "content_block_start", "index": i,
                                                        "content_block": {"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}}),
                               ("content_block_delta", {"type": "content_block_delta", "index": i,
                                                        "delta": {"type": "input_json_delta", "partial_json": json.dumps(block["input"])}})]
                events.append(("content_block_stop", {"type": "content_block_stop", "index": i}))
            events += [("message_delta", {"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": None}, "usage": {"output_tokens": 10}}),
                       ("message_stop", {"type": "message_stop"})]
            body = b"".join(("event: %s\ndata: %s\n\n" % (e, json.dumps(d))).encode() for e, d in events)
            self.send_response(200)
            self.send_header("content-type", "text/event-stream")
            self.send_header("cache-control", "no-cache")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # Claude Code drops keep-alive connections when it exits: not worth a traceback.
        if not isinstance(sys.exc_info()[1], (ConnectionError, BrokenPipeError)):
            super().handle_error(request, client_address)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--task", required=True)
    ap.add_argument("--strategy", choices=["direct", "browse", "search", "none"], required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    state = State(args)
    server = Server(("127.0.0.1", 0), make_handler(state))
    tmp = os.path.join(args.out, "port.tmp")
    with open(tmp, "w") as f:
        f.write(str(server.server_address[1]))
    os.replace(tmp, os.path.join(args.out, "port"))
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
