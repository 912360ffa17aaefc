//! Resource and prompt rules through the policy commands (`explain`, `check`, `fmt`, `test`),
//! run as the real `mcpgw` binary on temporary files.

use std::path::Path;

use mcpgw::policy::{DecisionTable, Item, ItemKind, PolicySet, Request};

use crate::support::cli::mcpgw;

/// Canonical DSL: the design's example of section 12, and a shadowed allow.
const DSL: &str = "defaults {
  deny_on_missing_agent = true
}

agent docs {
  allow servers files, web
  allow tools on web: get
  allow resources on files: \"file:///srv/docs/*\", \"file:///srv/docs/secret/x\"
  allow prompts on *: review_*
  deny resources on *: *secret*
  deny prompts on web: review_admin
}
";

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).unwrap();
}

#[test]
fn explain_names_the_determining_resource_and_prompt_rules() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "policy.mcpgw", DSL);
    let args = ["explain", "--rules", "policy.mcpgw", "--agent", "docs", "--server", "files"];
    let r = mcpgw(dir.path(), &[&args[..], &["--resource", "file:///srv/docs/secret.md"]].concat());
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.starts_with("DENY resource `file:///srv/docs/secret.md` on server `files` for agent `docs`\n"));
    assert!(r.stdout.contains("  determining rules:\n    deny `*secret*` at policy.mcpgw:10:24\n"), "{}", r.stdout);
    assert!(r.stdout.contains("    allow `file:///srv/docs/*` at policy.mcpgw:8:29\n"), "{}", r.stdout);

    let r = mcpgw(dir.path(), &[&args[..], &["--resource", "file:///srv/docs/a.md", "--json"]].concat());
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["decision"], "allow");
    assert_eq!(v["reason"], "allowed_by_rule");
    assert_eq!(v["resource"], "file:///srv/docs/a.md");
    assert_eq!(v["determining_rules"][1]["resource"], "file:///srv/docs/*");
    assert_eq!(v["determining_rules"][1]["location"], "policy.mcpgw:8:29");

    // `web` has allow-tool rules but no allow-resource rules: the implicit grant.
    let web = ["explain", "--rules", "policy.mcpgw", "--agent", "docs", "--server", "web", "--json"];
    let r = mcpgw(dir.path(), &[&web[..], &["--resource", "https://x/?q=1#top"]].concat());
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!((v["decision"].as_str(), v["reason"].as_str()), (Some("allow"), Some("implicit_grant")));

    let r = mcpgw(dir.path(), &[&web[..], &["--prompt", "review_admin"]].concat());
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!((v["decision"].as_str(), v["reason"].as_str()), (Some("deny"), Some("explicit_deny")));
    assert_eq!(v["determining_rules"][0]["prompt"], "review_admin");
    assert_eq!(v["determining_rules"][0]["location"], "policy.mcpgw:11:24");

    let r = mcpgw(dir.path(), &[&web[..], &["--prompt", "summarize"]].concat());
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!((v["decision"].as_str(), v["reason"].as_str()), (Some("deny"), Some("no_matching_allow")));

    let r = mcpgw(dir.path(), &[&web[..], &["--tool", "get", "--prompt", "p"]].concat());
    assert_eq!(r.code, 2, "one item at a time: {}", r.stderr);

    // Batch lines take `resource` and `prompt` too.
    write(
        dir.path(),
        "batch.jsonl",
        "{\"agent\": \"docs\", \"server\": \"files\", \"resource\": \"file:///srv/x\"}\n\
         {\"agent\": \"docs\", \"server\": \"files\", \"prompt\": \"review_a\"}\n",
    );
    let r = mcpgw(dir.path(), &["explain", "--rules", "policy.mcpgw", "--batch", "batch.jsonl"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let lines: Vec<serde_json::Value> = r.stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines[0]["reason"], "no_matching_allow");
    assert_eq!(lines[1]["reason"], "allowed_by_rule");
}

#[test]
fn check_lints_shadowed_and_unreachable_resource_and_prompt_rules() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "policy.mcpgw",
        "agent a {\n  allow servers files\n  allow resources on files: \"file:///s/secret\"\n  allow prompts on db: p\n  deny resources on *: \"*secret*\"\n}\n",
    );
    write(dir.path(), ".mcp.json", r#"{"mcpServers": {"files": {"command": "true"}, "db": {"command": "true"}}}"#);
    let r = mcpgw(dir.path(), &["check", "--rules", "policy.mcpgw", "--mcp-config", ".mcp.json"]);
    assert_eq!(r.code, 0, "warnings only: {}", r.stderr);
    let all = format!("{}{}", r.stdout, r.stderr);
    assert!(
        all.contains("policy.mcpgw:3:29: warning: allow rule `file:///s/secret` is shadowed by deny rule `*secret*` at policy.mcpgw:5:24"),
        "{all}"
    );
    assert!(
        all.contains("policy.mcpgw:4:20: warning: prompt rules for `db` can never apply: no allow rule grants agent `a` a server matching it"),
        "{all}"
    );
}

#[test]
fn fmt_converts_resource_and_prompt_rules_both_ways() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "policy.mcpgw", DSL);
    let r = mcpgw(dir.path(), &["fmt", "--check", "policy.mcpgw"]);
    assert_eq!(r.code, 0, "the example is canonical: {}", r.stdout);
    let json = mcpgw(dir.path(), &["fmt", "--to", "json", "policy.mcpgw"]);
    assert_eq!(json.code, 0, "{}", json.stderr);
    assert!(
        json.stdout.contains("\"resources\": {\n          \"files\": [\n            \"file:///srv/docs/*\","),
        "{}",
        json.stdout
    );
    assert!(json.stdout.contains("\"prompts\": {\n          \"*\": [\n            \"review_*\""), "{}", json.stdout);
    write(dir.path(), "rules.json", &json.stdout);
    let back = mcpgw(dir.path(), &["fmt", "--to", "dsl", "rules.json"]);
    assert_eq!(back.stdout, DSL);

    // Both texts decide alike, item by item.
    let from_dsl = DecisionTable::compile(&PolicySet::from_dsl_str("p.mcpgw", DSL).unwrap()).unwrap();
    let from_json = DecisionTable::compile(&PolicySet::from_json_str("r.json", &json.stdout).unwrap()).unwrap();
    for server in ["files", "web", "db"] {
        for name in ["file:///srv/docs/a", "file:///srv/docs/secret/x", "review_admin", "review_x", "get", "x"] {
            for kind in ItemKind::ALL {
                let req = Request { agent: Some("docs"), server, item: Some(Item::new(kind, name)) };
                let (a, b) = (from_dsl.explain(&req), from_json.explain(&req));
                assert_eq!((a.decision, a.reason), (b.decision, b.reason), "{req:?}");
                assert_eq!(a.determining_rules.len(), b.determining_rules.len(), "{req:?}");
            }
        }
    }

    // Unknown fields stay errors, with a location.
    write(dir.path(), "bad.json", r#"{"agents": {"a": {"allow": {"resource": {"files": ["x"]}}}}}"#);
    let r = mcpgw(dir.path(), &["fmt", "bad.json"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("bad.json:1:29: error: unknown field `resource`"), "{}", r.stderr);
    assert!(r.stderr.contains("did you mean `resources`?"), "{}", r.stderr);
}

#[test]
fn test_cases_ask_about_resources_and_prompts() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "policy.mcpgw", DSL);
    write(
        dir.path(),
        "cases.json",
        r#"{"rules": "policy.mcpgw", "cases": [
  {"agent": "docs", "server": "files", "resource": "file:///srv/docs/a.md", "expect": "allow",
   "reason": "allowed_by_rule", "rule": "file:///srv/docs/*"},
  {"agent": "docs", "server": "files", "resource": "file:///srv/docs/secret.md", "expect": "deny",
   "reason": "explicit_deny", "rule": "policy.mcpgw:10:24"},
  {"agent": "docs", "server": "web", "prompt": "review_admin", "expect": "deny", "reason": "explicit_deny"},
  {"agent": "docs", "server": "web", "prompt": "review_code", "expect": "allow"},
  {"agent": "docs", "server": "files", "prompt": "summarize", "expect": "deny", "reason": "no_matching_allow"}
]}"#,
    );
    let r = mcpgw(dir.path(), &["test", "cases.json"]);
    assert_eq!((r.code, r.stdout.as_str(), r.stderr.as_str()), (0, "5 passed, 0 failed\n", ""));

    write(
        dir.path(),
        "wrong.json",
        r#"[{"agent": "docs", "server": "files", "resource": "file:///srv/docs/a", "expect": "deny"}]"#,
    );
    let r = mcpgw(dir.path(), &["test", "wrong.json", "--rules", "policy.mcpgw"]);
    assert_eq!(r.code, 1);
    assert!(r.stdout.contains("ALLOW resource `file:///srv/docs/a` on server `files`"), "{}", r.stdout);

    write(dir.path(), "both.json", r#"[{"server": "files", "tool": "t", "prompt": "p", "expect": "deny"}]"#);
    let r = mcpgw(dir.path(), &["test", "both.json", "--rules", "policy.mcpgw"]);
    assert_eq!(r.code, 2, "{}", r.stdout);
    assert!(r.stderr.contains("a case asks about at most one of `tool`, `resource` and `prompt`"), "{}", r.stderr);
}

#[test]
fn diff_covers_resources_and_prompts_and_their_catalogues() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "old.mcpgw",
        "agent docs {\n  allow servers files\n  allow resources on files: \"file:///srv/docs/*\"\n}\n",
    );
    write(
        dir.path(),
        "new.mcpgw",
        "agent docs {\n  allow servers files\n  allow resources on files: \"file:///srv/docs/*\"\n  deny resources on files: \"*secret*\"\n  deny prompts on files: admin\n}\n",
    );
    write(dir.path(), "res.json", r#"{"files": ["file:///srv/docs/top-secret.md", "file:///srv/docs/a.md"]}"#);
    let r = mcpgw(dir.path(), &["diff", "old.mcpgw", "new.mcpgw"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stdout.starts_with("prompt `admin` on server `files` for agent `docs`: allow -> deny\n"), "{}", r.stdout);
    assert!(r.stdout.contains("  after:  deny (explicit_deny): deny `admin` at new.mcpgw:5:26\n"), "{}", r.stdout);

    // The catalogue's URIs are compared too.
    let r = mcpgw(dir.path(), &["diff", "old.mcpgw", "new.mcpgw", "--resources", "res.json"]);
    assert!(
        r.stdout
            .contains("resource `file:///srv/docs/top-secret.md` on server `files` for agent `docs`: allow -> deny\n"),
        "{}",
        r.stdout
    );
    assert!(!r.stdout.contains("`file:///srv/docs/a.md`"), "{}", r.stdout);
    assert!(
        r.stdout.ends_with("2 decisions changed (0 now allowed, 2 now denied; 24 decisions compared)\n"),
        "{}",
        r.stdout
    );

    let r = mcpgw(dir.path(), &["diff", "--json", "old.mcpgw", "new.mcpgw", "--resources", "res.json"]);
    let first: serde_json::Value = serde_json::from_str(r.stdout.lines().next().unwrap()).unwrap();
    assert_eq!(first["resource"], "file:///srv/docs/top-secret.md");

    write(dir.path(), "bad.json", r#"{"files": "file:///x"}"#);
    let r = mcpgw(dir.path(), &["diff", "old.mcpgw", "new.mcpgw", "--prompts", "bad.json"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("expected an array of prompt names, found a string"), "{}", r.stderr);
}
