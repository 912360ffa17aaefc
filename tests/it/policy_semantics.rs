//! DESIGN.md section 4, rule by rule. Every case is also checked against `explain` and the
//! reference interpreter, so a case passes only if all three agree.

use mcpgw::policy::testkit::reference::reference_decide;
use mcpgw::policy::{CompileOptions, DecisionTable, Effect, Item, PolicySet, Reason, Request};

struct Fixture {
    policy: PolicySet,
    table: DecisionTable,
    default_agent: Option<&'static str>,
}

fn fixture(json: &str) -> Fixture {
    fixture_with_default(json, None)
}

fn fixture_with_default(json: &str, default_agent: Option<&'static str>) -> Fixture {
    let policy = PolicySet::from_json_str("rules.json", json).unwrap_or_else(|e| panic!("{e}"));
    let options = CompileOptions { default_agent: default_agent.map(str::to_owned) };
    let table = DecisionTable::compile_with(&policy, &options).unwrap_or_else(|e| panic!("{e}"));
    Fixture { policy, table, default_agent }
}

impl Fixture {
    fn ask(&self, agent: Option<&str>, server: &str, tool: Option<&str>) -> (Effect, Reason) {
        let req = Request { agent, server, item: tool.map(Item::Tool) };
        let fast = self.table.decide(&req);
        let explained = self.table.explain(&req);
        let reference = reference_decide(&self.policy, self.default_agent, &req);
        assert_eq!(fast, explained.to_decision(), "decide and explain disagree on {req:?}");
        assert_eq!(fast, reference.decision, "decide and the reference disagree on {req:?}");
        let ids: Vec<u32> = explained.determining_rules.iter().map(|r| r.id).collect();
        assert_eq!(ids, reference.determining, "determining rules differ on {req:?}");
        (fast.effect, fast.reason)
    }

    fn tool(&self, agent: &str, server: &str, tool: &str) -> (Effect, Reason) {
        self.ask(Some(agent), server, Some(tool))
    }

    fn server(&self, agent: &str, server: &str) -> (Effect, Reason) {
        self.ask(Some(agent), server, None)
    }
}

const ALLOW: Effect = Effect::Allow;
const DENY: Effect = Effect::Deny;

const BACKEND: &str = r#"{"agents": {
    "backend": {"allow": {"servers": ["postgres"], "tools": {"postgres": ["query", "list_*"]}},
                "deny":  {"tools": {"postgres": ["drop_*", "truncate_*"]}}},
    "researcher": {"allow": {"servers": ["brave-search"]}},
    "admin": {"allow": {"servers": ["*"], "tools": {"*": ["*"]}}}},
  "defaults": {"deny_on_missing_agent": true}}"#;

#[test]
fn the_readme_example() {
    let f = fixture(BACKEND);
    assert_eq!(f.tool("backend", "postgres", "query"), (ALLOW, Reason::AllowedByRule));
    assert_eq!(f.tool("backend", "postgres", "list_tables"), (ALLOW, Reason::AllowedByRule));
    assert_eq!(f.tool("backend", "postgres", "drop_table"), (DENY, Reason::ExplicitDeny));
    assert_eq!(f.tool("backend", "postgres", "vacuum"), (DENY, Reason::NoMatchingAllow));
    assert_eq!(f.tool("backend", "brave-search", "search"), (DENY, Reason::ServerDenied));
    assert_eq!(f.server("backend", "postgres"), (ALLOW, Reason::AllowedByRule));
    assert_eq!(f.server("backend", "brave-search"), (DENY, Reason::NoMatchingAllow));
    assert_eq!(f.tool("researcher", "brave-search", "anything"), (ALLOW, Reason::ImplicitGrant));
    assert_eq!(f.tool("admin", "whatever", "rm_rf"), (ALLOW, Reason::AllowedByRule));
    assert_eq!(f.tool("nobody", "postgres", "query"), (DENY, Reason::UnknownAgent));
}

#[test]
fn deny_server_beats_allow_everything() {
    let f = fixture(
        r#"{"agents": {"a": {"allow": {"servers": ["*"], "tools": {"*": ["*"]}}, "deny": {"servers": ["prod"]}}}}"#,
    );
    assert_eq!(f.server("a", "prod"), (DENY, Reason::ExplicitDeny));
    assert_eq!(f.tool("a", "prod", "read"), (DENY, Reason::ExplicitDeny));
    assert_eq!(f.tool("a", "dev", "read"), (ALLOW, Reason::AllowedByRule));
}

#[test]
fn exact_allow_never_beats_wildcard_deny() {
    // The Python gateway's README ranks an explicit allow above a wildcard deny; we do not.
    let f = fixture(
        r#"{"agents": {"a": {"allow": {"servers": ["pg"], "tools": {"pg": ["drop_users"]}},
                              "deny": {"tools": {"pg": ["drop_*"]}}}}}"#,
    );
    assert_eq!(f.tool("a", "pg", "drop_users"), (DENY, Reason::ExplicitDeny));
    let why = f.table.explain(&Request::tool(Some("a"), "pg", "drop_users"));
    assert_eq!(why.determining_rules.len(), 1);
    assert_eq!(why.determining_rules[0].pattern, "drop_*");
    assert_eq!(why.determining_rules[0].location, "agents.a.deny.tools.pg[0]");
    assert_eq!(why.overridden_allows.len(), 2, "the server allow and the tool allow both lost");
}

#[test]
fn implicit_grant_and_its_end() {
    let f = fixture(
        r#"{"agents": {"a": {"allow": {"servers": ["fs", "git"], "tools": {"git": ["status"]}},
                              "deny": {"tools": {"fs": ["write_*"]}}}}}"#,
    );
    assert_eq!(f.tool("a", "fs", "read_file"), (ALLOW, Reason::ImplicitGrant));
    assert_eq!(f.tool("a", "fs", "write_file"), (DENY, Reason::ExplicitDeny));
    assert_eq!(f.tool("a", "git", "status"), (ALLOW, Reason::AllowedByRule));
    assert_eq!(f.tool("a", "git", "push"), (DENY, Reason::NoMatchingAllow));
}

#[test]
fn star_inside_names_and_everywhere() {
    let f = fixture(
        r#"{"agents": {"a": {"allow": {"servers": ["*"], "tools": {"*": ["get*user", "*_admin_*", "**x**", "a*a*a*b"]}}}}}"#,
    );
    assert_eq!(f.tool("a", "s", "getuser").0, ALLOW);
    assert_eq!(f.tool("a", "s", "get_the_user").0, ALLOW);
    assert_eq!(f.tool("a", "s", "get_user_x").0, ALLOW, "matched by **x**");
    assert_eq!(f.tool("a", "s", "get_users").0, DENY);
    assert_eq!(f.tool("a", "s", "_admin_").0, ALLOW);
    assert_eq!(f.tool("a", "s", "set_admin_mode").0, ALLOW);
    assert_eq!(f.tool("a", "s", "admin").0, DENY);
    assert_eq!(f.tool("a", "s", "aaab").0, ALLOW);
    assert_eq!(f.tool("a", "s", "aab").0, DENY);
}

#[test]
fn regex_metacharacters_are_literal() {
    let f = fixture(
        r#"{"agents": {"a": {"allow": {"servers": ["a.b", "x+y", "(q)", "[c]", "d?", "e\\f", "^g$", "h|i"]}}}}"#,
    );
    for literal in ["a.b", "x+y", "(q)", "[c]", "d?", "e\\f", "^g$", "h|i"] {
        assert_eq!(f.server("a", literal).0, ALLOW, "{literal}");
    }
    for near_miss in ["axb", "xxy", "xy", "q", "c", "d", "dd", "ef", "g", "h", "i", "a.bb"] {
        assert_eq!(f.server("a", near_miss).0, DENY, "{near_miss}");
    }
}

#[test]
fn empty_tool_names() {
    let f = fixture(r#"{"agents": {"a": {"allow": {"servers": ["s", "t"], "tools": {"s": ["*"], "t": ["x*"]}}}}}"#);
    assert_eq!(f.tool("a", "s", ""), (ALLOW, Reason::AllowedByRule));
    assert_eq!(f.tool("a", "t", ""), (DENY, Reason::NoMatchingAllow));
    assert_eq!(f.server("a", ""), (DENY, Reason::NoMatchingAllow));
}

#[test]
fn unicode_names_and_case() {
    let f = fixture(
        r#"{"agents": {"a": {"allow": {"servers": ["données", "Prod*"], "tools": {"données": ["lire_*", "*_ß"]}}}}}"#,
    );
    assert_eq!(f.tool("a", "données", "lire_fichier").0, ALLOW);
    assert_eq!(f.tool("a", "données", "grüße_ß").0, ALLOW);
    assert_eq!(f.tool("a", "données", "Lire_fichier").0, DENY, "case matters");
    assert_eq!(f.server("a", "donnees").0, DENY, "no accent folding");
    assert_eq!(f.server("a", "Production").0, ALLOW);
    assert_eq!(f.server("a", "production").0, DENY);
    assert_eq!(f.server("a", "PRODUCTION").0, DENY);
    // Look-alikes are different names: Cyrillic `а` is not Latin `a`.
    assert_eq!(f.server("a", "Prоd").0, DENY);
}

#[test]
fn tools_keys_are_server_patterns() {
    let f = fixture(
        r#"{"agents": {"a": {"allow": {"servers": ["pg-*", "redis"], "tools": {"*": ["read_*"], "pg-*": ["query"]}},
                              "deny": {"tools": {"pg-prod": ["*"]}}}}}"#,
    );
    assert_eq!(f.tool("a", "pg-dev", "query").0, ALLOW);
    assert_eq!(f.tool("a", "pg-dev", "read_table").0, ALLOW, "the `*` key applies to every server");
    assert_eq!(f.tool("a", "pg-dev", "write").0, DENY);
    assert_eq!(f.tool("a", "redis", "read_key").0, ALLOW);
    assert_eq!(f.tool("a", "redis", "set").0, DENY, "the `*` key means redis has allow-tool rules");
    assert_eq!(f.tool("a", "pg-prod", "query"), (DENY, Reason::ExplicitDeny));
    assert_eq!(f.tool("a", "pg-unlisted", "read_x").0, ALLOW, "a server only globs match");
}

#[test]
fn agent_patterns_combine_with_exact_ids() {
    let f = fixture(
        r#"{"agents": {
            "backend.*": {"allow": {"servers": ["logs"]}, "deny": {"tools": {"db": ["drop_*"]}}},
            "backend.db": {"allow": {"servers": ["db"]}},
            "*": {"deny": {"servers": ["secrets"]}},
            "backend.db.admin": {"allow": {"servers": ["secrets", "db"]}}}}"#,
    );
    assert_eq!(f.server("backend.db", "db").0, ALLOW);
    assert_eq!(f.server("backend.db", "logs").0, ALLOW, "the pattern block applies too");
    assert_eq!(f.tool("backend.db", "db", "drop_x"), (DENY, Reason::ExplicitDeny));
    assert_eq!(f.tool("backend.db", "db", "select").0, ALLOW);
    assert_eq!(f.server("backend.web", "logs").0, ALLOW, "matched by the pattern alone");
    assert_eq!(f.server("backend.web", "db").0, DENY);
    assert_eq!(f.server("backend.db.admin", "secrets"), (DENY, Reason::ExplicitDeny));
    assert_eq!(f.server("frontend", "logs"), (DENY, Reason::NoMatchingAllow), "`*` makes every id known");
    assert_eq!(f.server("backend", "logs").0, DENY, "`backend.*` needs the dot");
}

#[test]
fn unknown_agents_fail_closed_by_default() {
    let f = fixture(r#"{"agents": {"default": {"allow": {"servers": ["public"]}}}}"#);
    assert_eq!(f.server("stranger", "public"), (DENY, Reason::UnknownAgent));
    assert_eq!(f.ask(None, "public", None), (ALLOW, Reason::AllowedByRule), "missing id uses `default`");
    assert_eq!(f.ask(Some(""), "public", None), (ALLOW, Reason::AllowedByRule), "empty id counts as missing");
}

#[test]
fn unknown_agents_fall_through_to_the_default_only_when_asked() {
    let json = r#"{"agents": {"default": {"allow": {"servers": ["public"]}}, "a": {"allow": {"servers": ["x"]}}},
                   "defaults": {"deny_on_missing_agent": false}}"#;
    let f = fixture(json);
    assert_eq!(f.server("stranger", "public"), (ALLOW, Reason::AllowedByRule));
    assert_eq!(f.server("stranger", "x"), (DENY, Reason::NoMatchingAllow), "never allow-all");
    let why = f.table.explain(&Request::server(Some("stranger"), "public"));
    assert_eq!(why.judged_as.as_deref(), Some("default"));

    // No default agent at all: still denied.
    let f =
        fixture(r#"{"agents": {"a": {"allow": {"servers": ["*"]}}}, "defaults": {"deny_on_missing_agent": false}}"#);
    assert_eq!(f.server("stranger", "x"), (DENY, Reason::UnknownAgent));
    assert_eq!(f.ask(None, "x", None), (DENY, Reason::InvalidAgent));
}

#[test]
fn default_agent_flag() {
    let json =
        r#"{"agents": {"ci": {"allow": {"servers": ["build"]}}, "default": {"allow": {"servers": ["public"]}}}}"#;
    let f = fixture_with_default(json, Some("ci"));
    assert_eq!(f.ask(None, "build", None), (ALLOW, Reason::AllowedByRule), "the flag wins over `default`");
    assert_eq!(f.ask(None, "public", None).0, DENY);
    assert_eq!(f.server("stranger", "build"), (DENY, Reason::UnknownAgent), "deny_on_missing_agent is true");

    let f = fixture_with_default(
        r#"{"agents": {"ci": {"allow": {"servers": ["build"]}}}, "defaults": {"deny_on_missing_agent": false}}"#,
        Some("ci"),
    );
    assert_eq!(f.server("stranger", "build"), (ALLOW, Reason::AllowedByRule));

    let f = fixture_with_default(r#"{"agents": {"ci": {"allow": {"servers": ["build"]}}}}"#, Some("ghost"));
    assert_eq!(f.ask(None, "build", None), (DENY, Reason::UnknownAgent), "a default that is not in the policy");
}

#[test]
fn malformed_and_missing_ids() {
    let f = fixture(r#"{"agents": {"*": {"allow": {"servers": ["*"]}}}}"#);
    for bad in ["a b", "../etc", "a/b", "a*", "é", "a\0b", "x\n"] {
        assert_eq!(f.server(bad, "s"), (DENY, Reason::InvalidAgent), "{bad:?}");
    }
    assert_eq!(f.ask(None, "s", None), (DENY, Reason::InvalidAgent));
    assert_eq!(f.server("ok-id_1.x", "s"), (ALLOW, Reason::AllowedByRule));
}

#[test]
fn explanations_carry_locations_and_snapshot() {
    let f = fixture(BACKEND);
    let why = f.table.explain(&Request::tool(Some("backend"), "postgres", "list_users"));
    assert_eq!(why.reason, Reason::AllowedByRule);
    let locations: Vec<&str> = why.determining_rules.iter().map(|r| r.location.as_str()).collect();
    assert_eq!(locations, ["agents.backend.allow.servers[0]", "agents.backend.allow.tools.postgres[1]"]);
    assert!(why.snapshot.starts_with("sha256:"));
    assert_eq!(why.snapshot, f.table.snapshot_id());
    let json = serde_json::to_value(&why).unwrap();
    assert_eq!(json["decision"], "allow");
    assert_eq!(json["reason"], "allowed_by_rule");
    assert_eq!(json["determining_rules"][1]["pattern"], "list_*");

    let deny = f.table.explain(&Request::tool(Some("backend"), "postgres", "vacuum"));
    assert!(deny.determining_rules.is_empty(), "a default deny has no determining rule");
    assert!(deny.summary.contains("no allow rule matches"), "{}", deny.summary);
}

#[test]
fn snapshot_ids_follow_content_not_form() {
    let a = fixture(r#"{"agents": {"x": {"allow": {"servers": ["a", "b"]}}, "y": {}}}"#);
    let b = fixture("{\n \"agents\": {\"y\": {}, \"x\": {\"allow\": {\"servers\": [\"b\", \"a\", \"a\"]}}}}");
    let c = fixture(r#"{"agents": {"x": {"allow": {"servers": ["a"]}}, "y": {}}}"#);
    assert_eq!(a.table.snapshot_id(), b.table.snapshot_id());
    assert_ne!(a.table.snapshot_id(), c.table.snapshot_id());
}

#[test]
fn limits_take_the_strictest_block() {
    let f = fixture(
        r#"{"agents": {"a.*": {"limits": {"requests_per_second": 10}},
                       "a.b": {"limits": {"requests_per_second": 50, "max_concurrent_calls": 2}}}}"#,
    );
    let l = f.table.limits_for(Some("a.b"));
    assert_eq!((l.requests_per_second, l.max_concurrent_calls), (Some(10), Some(2)));
    assert!(f.table.limits_for(Some("zz")).is_unlimited());
}

#[test]
fn tables_are_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<DecisionTable>();
}
