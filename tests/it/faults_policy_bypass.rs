//! Attempts to get past the policy through the real gateway: server and tool names with glob
//! and regex metacharacters, Unicode look-alikes, case variants, NUL bytes and invisible
//! characters; agent ids with path separators, `..`, patterns and NULs; and requests that
//! claim another agent than the one the gateway is bound to.
//!
//! Every answer is checked against the reference interpreter
//! (`mcpgw::policy::testkit::reference::reference_decide`) on the same rules file: the gateway never
//! allows what the reference denies, never denies what it allows, and names the right error
//! (`INVALID_AGENT_ID` for agent problems, `DENIED_BY_POLICY` otherwise). Listings
//! (`list_servers`, `get_server_tools`, with and without the caller's own glob filter) show
//! exactly what the reference allows.

use std::collections::BTreeSet;
use std::time::Duration;

use crate::support::*;
use mcpgw::policy::testkit::reference::reference_decide;
use mcpgw::policy::{Effect, Item, PolicySet, Reason, Request};
use rmcp::model::CallToolResult;
use serde_json::{Value, json};

/// Configured servers (all the fixture). Several differ from an allowed name only by a
/// character that is special somewhere: case, `.`, `*`, brackets.
const SERVERS: &[&str] = &["files", "db", "we.b", "weXb", "secret_db", "Files", "f*les", "[a]"];

fn rules(deny_on_missing_agent: bool) -> Value {
    json!({
        "agents": {
            "alice": {
                "allow": {"servers": ["files", "db", "we.b"], "tools": {"db": ["read_*", "list_tables"], "files": ["*"]}},
                "deny": {"tools": {"*": ["*admin*", "drop_*"], "files": ["rm"]}}
            },
            "bob": {"allow": {"servers": ["*"]}, "deny": {"servers": ["secret*", "db"]}},
            "team.*": {"allow": {"servers": ["files", "[a]"], "tools": {"files": ["read_?", "[a]", "(x)", "a\\b", ".*", "echo"]}}},
            "carol": {"allow": {"servers": ["files"], "tools": {"files": ["echo"]}}},
            "default": {"allow": {"servers": ["weXb"]}},
            "root": {"allow": {"servers": ["*"]}}
        },
        "defaults": {"deny_on_missing_agent": deny_on_missing_agent}
    })
}

/// Agent ids to try: real ones, case variants, look-alikes, path tricks, patterns, NULs.
fn agents() -> Vec<Option<String>> {
    let ids = [
        "alice",
        "Alice",
        "ALICE",
        "\u{430}lice",
        "alic\u{435}",
        "alice\u{0}",
        "alice\u{0}bob",
        "\u{0}alice",
        "alice/",
        "/alice",
        "../alice",
        "alice/..",
        "alice/../bob",
        "..",
        ".",
        "...",
        "team.x",
        "team.",
        "team",
        "team.*",
        "team.x/../alice",
        "team.\u{0}",
        "team.x\u{200b}",
        "*",
        ".*",
        "a*",
        "[a]lice",
        "(alice)",
        "alice\\",
        "bob",
        "bob ",
        " bob",
        "bob\n",
        "BOB",
        "carol",
        "root",
        "Root",
        "root.",
        "default",
        "Default",
        "nobody",
        "",
        "\u{ff41}lice",
        "ﬁle",
        "\u{1F600}",
    ];
    ids.iter().map(|s| Some((*s).to_owned())).chain([None]).collect()
}

/// Server names to try: every configured one plus near misses.
fn servers() -> Vec<String> {
    let extra = [
        "FILES",
        "fil\u{435}s",
        "files\u{0}",
        "files\u{0}x",
        "\u{0}files",
        "files ",
        "files\n",
        "file*",
        "*",
        ".*",
        "f?les",
        "f.les",
        "we*b",
        "we?b",
        "DB",
        "d\u{0}b",
        "secret",
        "secret*",
        "Secret_db",
        "(x)",
        "a\\b",
        "",
        "files/..",
        "../files",
        "\u{ff46}iles",
        "files\u{200b}",
    ];
    SERVERS.iter().chain(extra.iter()).map(|s| (*s).to_owned()).collect()
}

/// Tool names to try. The fixture has `echo`, `add`, `big`... and the weird ones are added
/// to it at run time, so an allowed name may really exist and run.
fn tools() -> Vec<String> {
    let names = [
        "echo",
        "Echo",
        "ECHO",
        "\u{435}cho",
        "echo\u{0}",
        "echo\u{0}admin",
        "\u{0}echo",
        "echo ",
        "echo\u{200b}",
        "\u{ff45}cho",
        "read_x",
        "read_?",
        "read_a",
        "read_",
        "READ_x",
        "Read_x",
        "re\u{430}d_x",
        "read_x\u{0}",
        "read_*",
        "read_.*",
        "read_[a]",
        "read_(x)",
        "read_\\",
        "list_tables",
        "List_tables",
        "list_tables*",
        "list_*",
        "*",
        ".*",
        "?",
        "[a]",
        "(x)",
        "a\\b",
        "a\\\\b",
        ".hidden",
        "admin",
        "read_admin",
        "xadminx",
        "ADMIN",
        "drop_x",
        "Drop_x",
        "drop_",
        "DROP_x",
        "rm",
        "RM",
        "rm*",
        "r*",
        "add",
    ];
    names.iter().map(|s| (*s).to_owned()).collect()
}

/// Tools added to the `files` and `db` fixtures, so that allowed look-alikes really exist.
const DYNAMIC: &[&str] = &[
    "read_x",
    "read_?",
    "read_*",
    "read_.*",
    "read_[a]",
    "read_(x)",
    "read_\\",
    "read_admin",
    "list_tables",
    "list_tables*",
    "[a]",
    "(x)",
    "a\\b",
    ".hidden",
    "admin",
    "xadminx",
    "drop_x",
    "rm",
    "*",
    "?",
    ".*",
    "\u{435}cho",
    "echo\u{0}admin",
    "re\u{430}d_x",
    "Echo",
];

struct Matrix {
    policy: PolicySet,
    gw: GatewayUnderTest,
    /// The agent the gateway is bound to, if any.
    bound: Option<String>,
    /// The fixture's own tools, for a bound gateway (which cannot list as `root`).
    builtin: Vec<String>,
}

/// The reference decision, for the agent the gateway judges the request as.
fn reference(policy: &PolicySet, agent: Option<&str>, server: &str, tool: Option<&str>) -> (Effect, Reason) {
    let d = reference_decide(policy, None, &Request { agent, server, item: tool.map(Item::Tool) }).decision;
    (d.effect, d.reason)
}

/// What the gateway said, as far as the policy goes.
#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    /// Allowed (the call went on; it may still have failed downstream, or the tool is missing).
    Allowed,
    /// `DENIED_BY_POLICY`.
    Denied,
    /// `INVALID_AGENT_ID`.
    BadAgent,
    /// Refused before the policy was asked (`INVALID_ARGUMENT`, e.g. an empty name).
    BadArgument,
}

fn verdict(r: &CallToolResult) -> Verdict {
    match error_code(r).as_deref() {
        Some("DENIED_BY_POLICY") => Verdict::Denied,
        Some("INVALID_AGENT_ID") => Verdict::BadAgent,
        Some("INVALID_ARGUMENT") => Verdict::BadArgument,
        Some("RATE_LIMITED") => panic!("no limits are configured: {r:?}"),
        _ => Verdict::Allowed,
    }
}

fn expected_verdict(effect: Effect, reason: Reason) -> Verdict {
    match (effect, reason) {
        (Effect::Allow, _) => Verdict::Allowed,
        (Effect::Deny, Reason::UnknownAgent | Reason::InvalidAgent) => Verdict::BadAgent,
        (Effect::Deny, _) => Verdict::Denied,
    }
}

impl Matrix {
    async fn start(deny_on_missing_agent: bool, bound: Option<&str>) -> Matrix {
        let rules = rules(deny_on_missing_agent);
        let policy = PolicySet::from_json_str("rules.json", &rules.to_string()).expect("the rules parse");
        let servers: Vec<(&str, Value)> = SERVERS.iter().map(|s| (*s, fixture_server(&["--name", s]))).collect();
        let args: Vec<&str> = bound.map(|b| vec!["--agent", b]).unwrap_or_default();
        let gw = GatewayUnderTest::start(&servers, &rules, &args).await;
        let mut builtin = Vec::new();
        if bound.is_some() {
            let fixture = McpClient::fixture(&[]).await;
            builtin = fixture.list_tools().await.unwrap().iter().map(|t| t.name.to_string()).collect();
            fixture.close().await;
        }
        let m = Matrix { policy, gw, bound: bound.map(str::to_owned), builtin };
        if bound.is_none() {
            m.add_dynamic_tools().await;
        }
        m
    }

    /// The agent a request naming `claimed` is judged as, or `None` when it is refused as a
    /// spoofing attempt.
    fn judged_as(&self, claimed: Option<&str>) -> Option<Option<String>> {
        match (&self.bound, claimed.filter(|c| !c.is_empty())) {
            (Some(bound), Some(c)) if c != bound => None,
            (Some(bound), _) => Some(Some(bound.clone())),
            (None, c) => Some(c.map(str::to_owned)),
        }
    }

    fn args(&self, agent: &Option<String>, mut args: Value) -> Value {
        if let Some(a) = agent {
            args["agent_id"] = Value::from(a.as_str());
        }
        args
    }

    /// Adds the look-alike tools to `files` and `db` (as `root`) and waits until the
    /// gateway's cached lists show them.
    async fn add_dynamic_tools(&self) {
        for server in ["files", "db"] {
            for name in DYNAMIC {
                let r = self
                    .gw
                    .call(
                        "execute_tool",
                        json!({"agent_id": "root", "server": server, "tool": "add_tool", "args": {"name": name}}),
                    )
                    .await;
                assert_eq!(first_text(&r), format!("added {name}"), "{r:?}");
            }
            let mut listed = Vec::new();
            for _ in 0..500 {
                let r = self.gw.call("get_server_tools", json!({"agent_id": "root", "server": server})).await;
                listed = tool_names(&r);
                if DYNAMIC.iter().all(|d| listed.iter().any(|l| l == d)) {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            let all = DYNAMIC.iter().all(|d| listed.iter().any(|l| l == d));
            assert!(all, "{server}: the added tools never showed up: {listed:?}");
        }
    }

    /// `list_servers` for every agent: exactly the configured servers the reference allows.
    async fn check_list_servers(&self) -> usize {
        let mut checked = 0;
        for agent in agents() {
            let r = self.gw.call("list_servers", self.args(&agent, json!({}))).await;
            let Some(judged) = self.judged_as(agent.as_deref()) else {
                assert_eq!(verdict(&r), Verdict::BadAgent, "spoofing {agent:?}: {r:?}");
                continue;
            };
            let resolvable = reference(&self.policy, judged.as_deref(), "files", None).1;
            if matches!(resolvable, Reason::UnknownAgent | Reason::InvalidAgent) {
                assert_eq!(verdict(&r), Verdict::BadAgent, "{agent:?}: {r:?}");
                continue;
            }
            let want: Vec<&str> = SERVERS
                .iter()
                .copied()
                .filter(|s| reference(&self.policy, judged.as_deref(), s, None).0 == Effect::Allow)
                .collect();
            assert_eq!(server_names(&r), want, "list_servers as {agent:?} (judged as {judged:?})");
            checked += 1;
        }
        checked
    }

    /// `get_server_tools` for every agent and server name: the right verdict, and for
    /// allowed servers exactly the tools the reference allows, however the caller filters.
    async fn check_server_tools(&self) -> usize {
        let mut checked = 0;
        let mut calls = Vec::new();
        for agent in agents() {
            for server in servers() {
                calls.push((agent.clone(), server));
            }
        }
        for chunk in calls.chunks(48) {
            let answers =
                futures::future::join_all(chunk.iter().map(|(agent, server)| {
                    self.gw.call("get_server_tools", self.args(agent, json!({"server": server})))
                }))
                .await;
            for ((agent, server), r) in chunk.iter().zip(answers) {
                checked += 1;
                let got = verdict(&r);
                let Some(judged) = self.judged_as(agent.as_deref()) else {
                    assert_eq!(got, Verdict::BadAgent, "spoofing {agent:?} on {server:?}: {r:?}");
                    continue;
                };
                if server.is_empty() {
                    assert_eq!(got, Verdict::BadArgument, "{agent:?} with an empty server: {r:?}");
                    continue;
                }
                let (effect, reason) = reference(&self.policy, judged.as_deref(), server, None);
                assert_eq!(got, expected_verdict(effect, reason), "{agent:?} on {server:?}: {r:?}");
                if effect == Effect::Allow && SERVERS.contains(&server.as_str()) {
                    let listed: BTreeSet<String> = tool_names(&r).into_iter().collect();
                    self.check_listing(judged.as_deref(), server, &listed, &r).await;
                    assert_eq!(structured(&r)["total_available"], listed.len(), "{agent:?} on {server:?}");
                }
            }
        }
        checked
    }

    /// Every listed tool is allowed, and every allowed tool of the server is listed; a glob
    /// or a name list from the caller only ever narrows the listing.
    async fn check_listing(&self, agent: Option<&str>, server: &str, listed: &BTreeSet<String>, r: &CallToolResult) {
        let all = if self.bound.is_some() {
            self.builtin.clone()
        } else {
            tool_names(&self.gw.call("get_server_tools", json!({"agent_id": "root", "server": server})).await)
        };
        let want: BTreeSet<String> = all
            .iter()
            .filter(|t| reference(&self.policy, agent, server, Some(t.as_str())).0 == Effect::Allow)
            .cloned()
            .collect();
        assert_eq!(listed, &want, "get_server_tools {server:?} as {agent:?}: {r:?}");
        for pattern in ["*", ".*", "read_?", "read_*", "[a]", "*admin*", "?", "\u{0}*", "*\u{0}*"] {
            let mut args = json!({"server": server, "pattern": pattern});
            if self.bound.is_none() {
                args["agent_id"] = agent.map_or(Value::Null, Value::from);
            }
            let r = self.gw.call("get_server_tools", args).await;
            let narrowed: BTreeSet<String> = tool_names(&r).into_iter().collect();
            assert!(
                narrowed.is_subset(&want),
                "pattern {pattern:?} on {server:?} as {agent:?} widened to {narrowed:?}"
            );
        }
        let mut args =
            json!({"server": server, "names": ["admin", "drop_x", "rm", "*", "read_*", "echo\u{0}admin", "Echo"]});
        if self.bound.is_none() {
            args["agent_id"] = agent.map_or(Value::Null, Value::from);
        }
        let r = self.gw.call("get_server_tools", args).await;
        let named: BTreeSet<String> = tool_names(&r).into_iter().collect();
        assert!(named.is_subset(&want), "names on {server:?} as {agent:?} widened to {named:?}");
    }

    /// `execute_tool` for every agent, tool and a few servers: the right verdict each time.
    /// Denied calls never run (the fixture would answer otherwise), allowed ones do.
    async fn check_execute(&self, servers: &[&str]) -> usize {
        let mut calls = Vec::new();
        for agent in agents() {
            for server in servers {
                for tool in tools() {
                    calls.push((agent.clone(), (*server).to_owned(), tool));
                }
            }
        }
        let mut checked = 0;
        let mut seen = std::collections::BTreeMap::new();
        for chunk in calls.chunks(64) {
            let answers = futures::future::join_all(chunk.iter().map(|(agent, server, tool)| {
                let args = json!({"server": server, "tool": tool, "args": {"text": "ran", "a": 1, "b": 2}});
                self.gw.call("execute_tool", self.args(agent, args))
            }))
            .await;
            for ((agent, server, tool), r) in chunk.iter().zip(answers) {
                checked += 1;
                let got = verdict(&r);
                let Some(judged) = self.judged_as(agent.as_deref()) else {
                    assert_eq!(got, Verdict::BadAgent, "spoofing {agent:?}: {r:?}");
                    *seen.entry("BadAgent".to_owned()).or_insert(0usize) += 1;
                    continue;
                };
                let (effect, reason) = reference(&self.policy, judged.as_deref(), server, Some(tool));
                assert_eq!(got, expected_verdict(effect, reason), "{agent:?} calling {server:?}/{tool:?}: {r:?}");
                let outcome = match &got {
                    Verdict::Allowed if first_text(&r) == "ran" => "ran".to_owned(),
                    Verdict::Allowed => error_code(&r).unwrap_or_else(|| "ok".to_owned()),
                    other => format!("{other:?}"),
                };
                *seen.entry(outcome).or_insert(0usize) += 1;
                if got == Verdict::Allowed {
                    // It really went to the server: it ran, the server refused the arguments,
                    // or the server has no such tool. Never a silent no-op.
                    let code = error_code(&r);
                    assert!(
                        first_text(&r) == "ran"
                            || r.structured_content == Some(json!({"sum": 3}))
                            || matches!(code.as_deref(), Some("TOOL_NOT_FOUND" | "DOWNSTREAM_ERROR")),
                        "{agent:?} calling {server:?}/{tool:?}: {r:?}"
                    );
                }
            }
        }
        eprintln!("execute_tool outcomes: {seen:?}");
        // The matrix is only worth something if it holds every kind of answer.
        for kind in ["ran", "Denied", "BadAgent"] {
            assert!(seen.contains_key(kind), "no `{kind}` outcome in {seen:?}");
        }
        checked
    }
}

#[tokio::test]
async fn metacharacters_lookalikes_and_path_tricks_never_widen_access() {
    let m = Matrix::start(true, None).await;
    let listed = m.check_list_servers().await;
    let listings = m.check_server_tools().await;
    let calls = m.check_execute(&["files", "db", "we.b"]).await;
    eprintln!("checked {listed} server lists, {listings} tool listings and {calls} calls against the reference");
    // The spoofing-free gateway audits every call it judged.
    let lines = m.gw.audit_lines();
    assert!(lines.len() >= calls, "{} audit lines for {calls} calls", lines.len());
    m.gw.client.close().await;
}

#[tokio::test]
async fn unknown_ids_judged_as_the_default_agent_get_its_rights_only() {
    // With `deny_on_missing_agent: false`, an unknown id is judged as `default`: case
    // variants and look-alikes of `alice` must get `default`'s rights, never `alice`'s.
    let m = Matrix::start(false, None).await;
    let listed = m.check_list_servers().await;
    let calls = m.check_execute(&["files", "weXb"]).await;
    eprintln!("checked {listed} server lists and {calls} calls against the reference");
    let r = m.gw.call("list_servers", json!({"agent_id": "ALICE"})).await;
    assert_eq!(server_names(&r), ["weXb"], "{r:?}");
    m.gw.client.close().await;
}

#[tokio::test]
async fn a_bound_gateway_refuses_every_other_identity() {
    let m = Matrix::start(true, Some("carol")).await;
    let listed = m.check_list_servers().await;
    let listings = m.check_server_tools().await;
    let calls = m.check_execute(&["files"]).await;
    eprintln!("checked {listed} server lists, {listings} tool listings and {calls} calls as a bound gateway");
    // Claims of another identity are refused and audited as spoofing, with the claim cut
    // and escaped but recognisable.
    for claim in ["alice", "Carol", "carol\u{0}", "carol ", "c\u{430}rol", "../carol", "root", "*"] {
        let r = m
            .gw
            .call("execute_tool", json!({"agent_id": claim, "server": "files", "tool": "echo", "args": {"text": "x"}}))
            .await;
        let e = gateway_error(&r);
        assert_eq!(e["code"], "INVALID_AGENT_ID", "{claim:?}: {r:?}");
        assert!(e["message"].as_str().unwrap().contains("bound to agent `carol`"), "{claim:?}: {e}");
    }
    let lines = m.gw.wait_audit(1, Duration::from_secs(5)).await;
    let spoofs: Vec<&Value> = lines.iter().filter(|l| l.get("spoofed_agent_id").is_some()).collect();
    assert!(spoofs.iter().any(|l| l["spoofed_agent_id"] == "alice" && l["agent_id"] == "carol"), "{spoofs:?}");
    assert!(spoofs.iter().all(|l| l["outcome"] == "INVALID_AGENT_ID"), "{spoofs:?}");
    // Without a claim, carol's own rights apply.
    let r = m.gw.call("execute_tool", json!({"server": "files", "tool": "echo", "args": {"text": "as carol"}})).await;
    assert_eq!(first_text(&r), "as carol", "{r:?}");
    let r = m.gw.call("execute_tool", json!({"server": "files", "tool": "add", "args": {"a": 1, "b": 2}})).await;
    assert_eq!(error_code(&r).as_deref(), Some("DENIED_BY_POLICY"), "{r:?}");
    m.gw.client.close().await;
}
