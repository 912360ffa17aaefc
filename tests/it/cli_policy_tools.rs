//! The policy tooling commands (`fmt`, `test`, `diff`, `explain`, `check`) run as the real
//! `mcpgw` binary on temporary files.

use std::path::{Path, PathBuf};

use mcpgw::policy::{DecisionTable, Item, PolicySet, Request};

use crate::support::cli::mcpgw;

const DSL: &str = "# who may reach what
defaults {
  deny_on_missing_agent = true
}

agent backend {
  allow servers postgres, redis  # the data stores
  allow tools on postgres: query, list_*
  deny tools on postgres: drop_*, truncate_*
}

agent backend.* {
  deny servers prod_db
}
";

const JSON: &str = r#"{"agents": {"backend": {"allow": {"servers": ["postgres", "redis"], "tools": {"postgres": ["query", "list_*"]}},
                        "deny":  {"tools": {"postgres": ["drop_*", "truncate_*"]}}},
            "backend.*": {"deny": {"servers": ["prod_db"]}}},
 "defaults": {"deny_on_missing_agent": true}}"#;

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap()
}

fn table(name: &str, text: &str) -> DecisionTable {
    let policy = if name.ends_with(".mcpgw") {
        PolicySet::from_dsl_str(name, text).unwrap()
    } else {
        PolicySet::from_json_str(name, text).unwrap()
    };
    DecisionTable::compile(&policy).unwrap()
}

/// Every decision of interest for the example policy, from two texts, agrees.
fn assert_same_decisions(a: &DecisionTable, b: &DecisionTable) {
    for agent in [Some("backend"), Some("backend.ci"), Some("intruder"), None] {
        for server in ["postgres", "redis", "prod_db", "other"] {
            for tool in [None, Some("query"), Some("list_tables"), Some("drop_table"), Some("vacuum"), Some("get")] {
                let req = Request { agent, server, item: tool.map(Item::Tool) };
                assert_eq!(a.decide(&req), b.decide(&req), "{req:?}");
            }
        }
    }
}

// --- fmt ------------------------------------------------------------------------------------

#[test]
fn fmt_prints_canonical_text_and_check_accepts_it() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "policy.mcpgw", DSL);
    let r = mcpgw(dir.path(), &["fmt", "policy.mcpgw"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout, DSL, "the example is already canonical");

    let r = mcpgw(dir.path(), &["fmt", "--check", "policy.mcpgw"]);
    assert_eq!((r.code, r.stdout.as_str(), r.stderr.as_str()), (0, "", ""));
}

#[test]
fn fmt_check_reports_a_file_that_is_not_canonical() {
    let dir = tempfile::tempdir().unwrap();
    let messy = "agent backend { allow servers postgres,redis\n deny tools on postgres: drop_* }\n";
    let path = write(dir.path(), "messy.mcpgw", messy);
    let r = mcpgw(dir.path(), &["fmt", "--check", "messy.mcpgw"]);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.starts_with("messy.mcpgw: not in canonical form (run `mcpgw fmt --write messy.mcpgw` to fix)\n"));
    assert!(r.stdout.contains("--- messy.mcpgw\n+++ messy.mcpgw (canonical)\n"), "{}", r.stdout);
    assert!(r.stdout.contains("-agent backend { allow servers postgres,redis\n"), "{}", r.stdout);
    assert!(r.stdout.contains("+defaults {\n"), "{}", r.stdout);
    assert_eq!(read(&path), messy, "--check never writes");

    // JSON files are checked against canonical JSON.
    write(dir.path(), "rules.json", JSON);
    let r = mcpgw(dir.path(), &["fmt", "--check", "rules.json"]);
    assert_eq!(r.code, 1);
    assert!(r.stdout.starts_with("rules.json: not in canonical form"), "{}", r.stdout);
    // --check against the other syntax makes no sense.
    let r = mcpgw(dir.path(), &["fmt", "--check", "--to", "dsl", "rules.json"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("--check compares a file with its own canonical form"), "{}", r.stderr);
}

#[test]
fn fmt_write_rewrites_in_place_and_keeps_comments() {
    let dir = tempfile::tempdir().unwrap();
    let messy = "# top\nagent backend {   # the backend\n  deny tools on postgres: drop_*   # never\n  allow servers postgres\n}\n";
    let path = write(dir.path(), "policy.mcpgw", messy);
    let r = mcpgw(dir.path(), &["fmt", "--write", "policy.mcpgw"]);
    assert_eq!((r.code, r.stdout.as_str()), (0, ""), "{}", r.stderr);
    let written = read(&path);
    assert_eq!(
        written,
        "defaults {
  deny_on_missing_agent = true
}

# top
agent backend {  # the backend
  allow servers postgres
  deny tools on postgres: drop_*  # never
}
"
    );
    // Canonical now, so --check passes and another --write leaves the file alone.
    assert_eq!(mcpgw(dir.path(), &["fmt", "--check", "policy.mcpgw"]).code, 0);
    let before = std::fs::metadata(&path).unwrap().modified().unwrap();
    assert_eq!(mcpgw(dir.path(), &["fmt", "--write", "policy.mcpgw"]).code, 0);
    assert_eq!(std::fs::metadata(&path).unwrap().modified().unwrap(), before);
    // No temporary file is left behind.
    let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(names, ["policy.mcpgw"]);
}

#[test]
fn fmt_converts_both_ways_and_keeps_every_decision() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "policy.mcpgw", DSL);
    write(dir.path(), "rules.json", JSON);

    let to_json = mcpgw(dir.path(), &["fmt", "--to", "json", "policy.mcpgw"]);
    assert_eq!(to_json.code, 0, "{}", to_json.stderr);
    assert!(to_json.stderr.contains("comments of the file are not carried over"), "{}", to_json.stderr);
    assert!(serde_json::from_str::<serde_json::Value>(&to_json.stdout).is_ok());
    let to_dsl = mcpgw(dir.path(), &["fmt", "--to", "dsl", "rules.json"]);
    assert_eq!((to_dsl.code, to_dsl.stderr.as_str()), (0, ""));

    let original = table("policy.mcpgw", DSL);
    assert_same_decisions(&original, &table("p.json", &to_json.stdout));
    assert_same_decisions(&original, &table("p.mcpgw", &to_dsl.stdout));
    assert_same_decisions(&original, &table("rules.json", JSON));
    // Converting the converted text back gives the canonical text of the first syntax.
    write(dir.path(), "back.json", &to_json.stdout);
    let back = mcpgw(dir.path(), &["fmt", "--to", "dsl", "back.json"]);
    assert_eq!(back.stdout, DSL.replace("  # the data stores", "").replace("# who may reach what\n", ""));
}

#[test]
fn fmt_write_with_the_other_syntax_creates_a_new_file() {
    let dir = tempfile::tempdir().unwrap();
    let json_path = write(dir.path(), "rules.json", JSON);
    let r = mcpgw(dir.path(), &["fmt", "--to", "dsl", "--write", "rules.json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("wrote rules.mcpgw"), "{}", r.stderr);
    assert_eq!(read(&json_path), JSON, "the original is left alone");
    let dsl = read(&dir.path().join("rules.mcpgw"));
    assert_same_decisions(&table("rules.json", JSON), &table("rules.mcpgw", &dsl));
    // It never replaces a file.
    let r = mcpgw(dir.path(), &["fmt", "--to", "dsl", "--write", "rules.json"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("rules.mcpgw already exists"), "{}", r.stderr);
}

#[test]
fn fmt_reports_errors_with_locations() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "bad.mcpgw", "agent backend {\n  alow servers postgres\n}\n");
    let r = mcpgw(dir.path(), &["fmt", "bad.mcpgw"]);
    assert_eq!((r.code, r.stdout.as_str()), (2, ""));
    assert!(r.stderr.contains("bad.mcpgw:2:3: error: expected `allow`, `deny`, `limits` or `}`, found `alow`"));
    assert!(r.stderr.contains("hint: did you mean `allow`?"), "{}", r.stderr);
    let r = mcpgw(dir.path(), &["fmt", "--check", "missing.json"]);
    assert_eq!(r.code, 2);
}

// --- test -----------------------------------------------------------------------------------

#[test]
fn test_passes_when_every_case_holds() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "policy.mcpgw", DSL);
    std::fs::create_dir(dir.path().join("cases")).unwrap();
    write(
        dir.path(),
        "cases/policy-tests.json",
        r#"{"rules": "../policy.mcpgw", "cases": [
  {"name": "backend may query", "agent": "backend", "server": "postgres", "tool": "query", "expect": "allow",
   "reason": "allowed_by_rule", "rule": "policy.mcpgw:8:28"},
  {"name": "drops are denied", "agent": "backend", "server": "postgres", "tool": "drop_table", "expect": "deny",
   "reason": "explicit_deny", "rule": ["drop_*", "9:27"]},
  {"agent": "backend", "server": "redis", "tool": "get", "expect": "allow", "reason": "implicit_grant"},
  {"agent": "backend.ci", "server": "prod_db", "expect": "deny"},
  {"agent": "intruder", "server": "postgres", "expect": "deny", "reason": "unknown_agent"},
  {"server": "postgres", "expect": "deny", "reason": "invalid_agent"}
]}"#,
    );
    let r = mcpgw(dir.path(), &["test", "cases/policy-tests.json"]);
    assert_eq!((r.code, r.stdout.as_str(), r.stderr.as_str()), (0, "6 passed, 0 failed\n", ""));

    // JSON lines, with the rules given on the command line.
    write(
        dir.path(),
        "cases.jsonl",
        "{\"agent\": \"backend\", \"server\": \"postgres\", \"tool\": \"list_tables\", \"expect\": \"allow\"}\n\
         {\"agent\": \"backend\", \"server\": \"postgres\", \"tool\": \"vacuum\", \"expect\": \"deny\"}\n",
    );
    let r = mcpgw(dir.path(), &["test", "cases.jsonl", "--rules", "policy.mcpgw"]);
    assert_eq!((r.code, r.stdout.as_str()), (0, "2 passed, 0 failed\n"), "{}", r.stderr);
}

#[test]
fn test_prints_each_failure_with_its_explanation() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "rules.json", JSON);
    write(
        dir.path(),
        "cases.json",
        r#"{"rules": "rules.json", "cases": [
  {"name": "ok", "agent": "backend", "server": "postgres", "tool": "query", "expect": "allow"},
  {"name": "truncation is allowed (wrong)", "agent": "backend", "server": "postgres", "tool": "truncate_all",
   "expect": "allow"},
  {"name": "wrong rule", "agent": "backend", "server": "postgres", "tool": "drop_table", "expect": "deny",
   "rule": "agents.backend.deny.tools.postgres[1]"}
]}"#,
    );
    let r = mcpgw(dir.path(), &["test", "cases.json"]);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    let out = &r.stdout;
    assert!(
        out.contains(
            "FAIL cases.json:3:3: truncation is allowed (wrong)\n  expected allow, got deny (explicit_deny)\n"
        )
    );
    assert!(out.contains("  DENY tool `truncate_all` on server `postgres` for agent `backend`\n"), "{out}");
    assert!(out.contains("      deny `truncate_*` at agents.backend.deny.tools.postgres[1]\n"), "{out}");
    assert!(out.contains("  overridden allows:\n      allow `postgres` at agents.backend.allow.servers[0]\n"), "{out}");
    assert!(out.contains("FAIL cases.json:5:3: wrong rule\n  expected determining rule `agents.backend.deny.tools.postgres[1]`, but the determining rules are: deny `drop_*` at agents.backend.deny.tools.postgres[0]\n"), "{out}");
    assert!(out.ends_with("1 passed, 2 failed\n"), "{out}");
}

#[test]
fn test_refuses_bad_input_with_locations() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "rules.json", JSON);
    write(
        dir.path(),
        "cases.json",
        "{\"rules\": \"rules.json\", \"cases\": [\n  {\"agent\": \"backend\", \"server\": \"postgres\", \"expect\": \"permit\"},\n  {\"agent\": \"backend\", \"expect\": \"deny\", \"tol\": \"x\"}\n]}\n",
    );
    let r = mcpgw(dir.path(), &["test", "cases.json"]);
    assert_eq!((r.code, r.stdout.as_str()), (2, ""));
    let e = &r.stderr;
    assert!(e.contains("cases.json:2:56: error: expected one of `allow`, `deny`, found `permit`"), "{e}");
    assert!(e.contains("cases.json:3:3: error: missing field `server`"), "{e}");
    assert!(
        e.contains("cases.json:3:42: error: unknown field `tol`, expected one of `name`, `agent`, `server`"),
        "{e}"
    );
    assert!(e.contains("  hint: did you mean `tool`?"), "{e}");
    assert!(e.contains("3 |   {\"agent\": \"backend\", \"expect\": \"deny\", \"tol\": \"x\"}\n  |                                          ^"), "{e}");

    // A broken policy is bad input too.
    write(dir.path(), "broken.mcpgw", "agent a { allow servers }\n");
    write(dir.path(), "c2.json", r#"{"rules": "broken.mcpgw", "cases": []}"#);
    let r = mcpgw(dir.path(), &["test", "c2.json"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("broken.mcpgw:1:"), "{}", r.stderr);
}

// --- diff -----------------------------------------------------------------------------------

#[test]
fn diff_lists_changed_decisions_with_before_and_after() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "old.mcpgw", DSL);
    write(
        dir.path(),
        "new.mcpgw",
        "agent backend {
  allow servers postgres, redis
  allow tools on postgres: query, list_*, vacuum
  deny tools on postgres: drop_*
  deny tools on redis: flush*
}
agent backend.* {
  allow servers redis
  deny servers prod_*
}
",
    );
    let r = mcpgw(dir.path(), &["diff", "old.mcpgw", "new.mcpgw"]);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert_eq!(
        r.stdout,
        "tool `vacuum` on server `postgres` for agent `backend`: deny -> allow
  before: deny (no_matching_allow), no rule decides
  after:  allow (allowed_by_rule): allow `postgres` at new.mcpgw:2:17; allow `vacuum` at new.mcpgw:3:43
tool `flushx` (a sample name for `flush*`) on server `redis` for agent `backend`: allow -> deny
  before: allow (implicit_grant): allow `redis` at old.mcpgw:7:27
  after:  deny (explicit_deny): deny `flush*` at new.mcpgw:5:24
server `redis` for agent `backend.x` (a sample id for `backend.*`): deny -> allow
  before: deny (no_matching_allow), no rule decides
  after:  allow (allowed_by_rule): allow `redis` at new.mcpgw:8:17
tool `flushx` (a sample name for `flush*`) on server `redis` for agent `backend.x` (a sample id for `backend.*`): deny -> allow
  before: deny (server_denied), no rule decides
  after:  allow (implicit_grant): allow `redis` at new.mcpgw:8:17
tool `other_tool` (a tool no rule names) on server `redis` for agent `backend.x` (a sample id for `backend.*`): deny -> allow
  before: deny (server_denied), no rule decides
  after:  allow (implicit_grant): allow `redis` at new.mcpgw:8:17
5 decisions changed (4 now allowed, 1 now denied; 48 decisions compared)
"
    );

    // JSON lines on stdout, the summary on stderr.
    let r = mcpgw(dir.path(), &["diff", "--json", "old.mcpgw", "new.mcpgw"]);
    assert_eq!(r.code, 1);
    let lines: Vec<serde_json::Value> = r.stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 5);
    let flush = &lines[1];
    assert_eq!(flush["agent"], "backend");
    assert_eq!(flush["server"], "redis");
    assert_eq!(flush["tool"], "flushx");
    assert_eq!(flush["tool_note"], "a sample name for `flush*`");
    assert_eq!(flush["before"]["decision"], "allow");
    assert_eq!(flush["before"]["reason"], "implicit_grant");
    assert_eq!(flush["after"]["decision"], "deny");
    assert_eq!(flush["after"]["determining_rules"][0]["location"], "new.mcpgw:5:24");
    assert_eq!(r.stderr, "5 decisions changed (4 now allowed, 1 now denied; 48 decisions compared)\n");
}

#[test]
fn diff_of_the_same_policy_in_both_syntaxes_is_empty() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "policy.mcpgw", DSL);
    write(dir.path(), "rules.json", JSON);
    write(dir.path(), "tools.json", r#"{"postgres": ["query", "drop_table", "vacuum"], "github": ["create_issue"]}"#);
    let r = mcpgw(dir.path(), &["diff", "policy.mcpgw", "rules.json", "--tools", "tools.json"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.starts_with("no decision changes ("), "{}", r.stdout);
}

#[test]
fn diff_compares_over_the_tool_catalogue() {
    let dir = tempfile::tempdir().unwrap();
    // Granting a new server: only the catalogue knows its tools.
    write(dir.path(), "old.mcpgw", "agent backend { allow servers postgres }\n");
    write(dir.path(), "new.mcpgw", "agent backend { allow servers postgres, github }\n");
    write(dir.path(), "tools.json", r#"{"github": ["create_issue", "delete_repo"]}"#);
    let without = mcpgw(dir.path(), &["diff", "old.mcpgw", "new.mcpgw"]);
    assert_eq!(without.code, 1);
    assert!(without.stdout.starts_with("server `github` for agent `backend`: deny -> allow\n"), "{}", without.stdout);
    assert!(!without.stdout.contains("delete_repo"));
    let with = mcpgw(dir.path(), &["diff", "old.mcpgw", "new.mcpgw", "--tools", "tools.json"]);
    assert_eq!(with.code, 1);
    assert!(
        with.stdout.contains(
            "tool `delete_repo` on server `github` for agent `backend`: deny -> allow\n  before: deny (server_denied), no rule decides\n  after:  allow (implicit_grant): allow `github` at new.mcpgw:1:41\n"
        ),
        "{}",
        with.stdout
    );
    assert!(
        with.stdout.ends_with("3 decisions changed (3 now allowed, 0 now denied; 12 decisions compared)\n"),
        "{}",
        with.stdout
    );

    // A bad catalogue is bad input.
    write(dir.path(), "bad.json", r#"{"github": "create_issue"}"#);
    let r = mcpgw(dir.path(), &["diff", "old.mcpgw", "new.mcpgw", "--tools", "bad.json"]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("bad.json:1:12: error: expected an array of tool names, found a string\n  at github\n"),
        "{}",
        r.stderr
    );
}

#[test]
fn diff_covers_unknown_and_missing_agents() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "old.mcpgw", "agent default { allow servers search }\n");
    write(
        dir.path(),
        "new.mcpgw",
        "defaults { deny_on_missing_agent = false }\nagent default { allow servers search }\n",
    );
    let r = mcpgw(dir.path(), &["diff", "old.mcpgw", "new.mcpgw"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_eq!(
        r.stdout,
        "server `search` for agent `unknown-agent` (an id no agent key matches): deny -> allow\n  \
         before: deny (unknown_agent), no rule decides\n  \
         after:  allow (allowed_by_rule), judged as `default`: allow `search` at new.mcpgw:2:31\n\
         1 decision changed (1 now allowed, 0 now denied; 3 decisions compared)\n"
    );
    let r = mcpgw(dir.path(), &["diff", "old.mcpgw", "missing.mcpgw"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("missing.mcpgw: cannot read"), "{}", r.stderr);
}

// --- explain and check on both syntaxes -------------------------------------------------------

#[test]
fn explain_points_at_dsl_locations() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "policy.mcpgw", DSL);
    let r = mcpgw(
        dir.path(),
        &["explain", "--rules", "policy.mcpgw", "--agent", "backend", "--server", "postgres", "--tool", "drop_table"],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.starts_with("DENY tool `drop_table` on server `postgres` for agent `backend`\n"), "{}", r.stdout);
    assert!(r.stdout.contains("  determining rules:\n    deny `drop_*` at policy.mcpgw:9:27\n"), "{}", r.stdout);
    assert!(r.stdout.contains("  overridden allows:\n    allow `postgres` at policy.mcpgw:7:17\n"), "{}", r.stdout);

    let r = mcpgw(
        dir.path(),
        &[
            "explain",
            "--json",
            "--rules",
            "policy.mcpgw",
            "--agent",
            "backend",
            "--server",
            "postgres",
            "--tool",
            "query",
        ],
    );
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["determining_rules"][1]["location"], "policy.mcpgw:8:28", "{v}");
}

#[test]
fn check_reads_both_syntaxes() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "policy.mcpgw", DSL);
    write(dir.path(), "rules.json", JSON);
    for file in ["policy.mcpgw", "rules.json"] {
        let r = mcpgw(dir.path(), &["check", "--rules", file]);
        assert_eq!(r.code, 0, "{file}: {}{}", r.stdout, r.stderr);
        assert!(r.stdout.contains(&format!("rules: {file} (2 agents, 7 rules)")), "{}", r.stdout);
    }
    write(dir.path(), "bad.mcpgw", "agent a {\n  allow servers x,\n}\nagent a {}\n");
    let r = mcpgw(dir.path(), &["check", "--rules", "bad.mcpgw"]);
    assert_eq!(r.code, 1);
    assert!(r.stdout.contains("bad.mcpgw:3:1: error:"), "{}", r.stdout);
    assert!(r.stdout.contains("bad.mcpgw:4:7: error:"), "{}", r.stdout);
}
