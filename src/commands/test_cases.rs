//! `mcpgw test`: expected decisions, checked against a policy.
//!
//! A cases file is a JSON object (or an array of cases, or JSON lines with one case per line;
//! see `mcpgw test --help`):
//!
//! ```json
//! {"rules": "policy.mcpgw",
//!  "default_agent": "default",
//!  "cases": [
//!    {"name": "backend may not drop tables", "agent": "backend", "server": "postgres",
//!     "tool": "drop_table", "expect": "deny", "reason": "explicit_deny",
//!     "rule": "policy.mcpgw:4:27"},
//!    {"agent": "docs", "server": "files", "resource": "file:///srv/docs/a.md", "expect": "allow"},
//!    {"agent": "docs", "server": "files", "prompt": "review_code", "expect": "allow"}]}
//! ```
//!
//! Every problem in the file is reported with its `file:line:col`, the line and a caret before
//! anything runs. Each failing case is printed with the full explanation of what the policy
//! decided; then a summary line.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::cli::TestArgs;
use crate::commands::explain::render;
use crate::commands::{EXIT_BAD_INPUT, fail, load_table};
use crate::config;
use crate::located::json::read::{Reader, Value};
use crate::located::json::{self, Node, NodeKind, PathSegment, SyntaxError};
use crate::located::{Diagnostics, Span};
use crate::policy::{Effect, Explanation, PolicySet, Reason, Request, RuleRef};

/// The reasons a case may expect, as written.
const REASONS: [Reason; 7] = [
    Reason::ExplicitDeny,
    Reason::AllowedByRule,
    Reason::ImplicitGrant,
    Reason::NoMatchingAllow,
    Reason::ServerDenied,
    Reason::UnknownAgent,
    Reason::InvalidAgent,
];
const SUITE_KEYS: [&str; 3] = ["rules", "default_agent", "cases"];
const CASE_KEYS: [&str; 9] = ["name", "agent", "server", "tool", "resource", "prompt", "expect", "reason", "rule"];

/// Runs the command: 0 when every case passes, 1 when one fails, 2 on bad input.
pub fn run(args: &TestArgs) -> ExitCode {
    let text = match config::read_text(&args.cases) {
        Ok(t) => t,
        Err(e) => return fail(&e),
    };
    let file = args.cases.display().to_string();
    let suite = match parse_suite(&file, &text) {
        Ok(s) => s,
        Err(d) => {
            eprintln!("{d}");
            return ExitCode::from(EXIT_BAD_INPUT);
        }
    };
    let rules_path = match rules_path(args, &suite) {
        Ok(p) => p,
        Err(e) => return fail(&e),
    };
    let default_agent = args.default_agent.as_deref().or(suite.default_agent.as_deref());
    let (policy, table) = match load_table(&rules_path, default_agent) {
        Ok(t) => t,
        Err(e) => return fail(&e),
    };

    let mut out = std::io::stdout().lock();
    let (mut passed, mut failed) = (0usize, 0usize);
    for case in &suite.cases {
        let item = super::explain::item_of(case.tool.as_deref(), case.resource.as_deref(), case.prompt.as_deref());
        let req = Request { agent: case.agent.as_deref(), server: &case.server, item };
        let why = table.explain(&req);
        let problems = judge(case, &why, &policy);
        if problems.is_empty() {
            passed += 1;
            continue;
        }
        failed += 1;
        let mut report = format!("FAIL {file}:{}:{}", case.span.line, case.span.column);
        if let Some(name) = &case.name {
            report.push_str(&format!(": {name}"));
        }
        report.push('\n');
        for p in &problems {
            report.push_str(&format!("  {p}\n"));
        }
        report.push_str(&indent(&render(&why)));
        report.push('\n');
        if out.write_all(report.as_bytes()).is_err() {
            return ExitCode::FAILURE;
        }
    }
    if writeln!(out, "{passed} passed, {failed} failed").is_err() || failed > 0 {
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("  {l}\n")).collect()
}

/// The rules file: `--rules`, else the one the cases file names (relative to it), else
/// `GATEWAY_RULES`, else the default search.
fn rules_path(args: &TestArgs, suite: &Suite) -> Result<PathBuf, config::ConfigError> {
    if let Some(p) = &args.rules {
        return Ok(p.clone());
    }
    if let Some(r) = &suite.rules {
        let base = args.cases.parent().unwrap_or(Path::new(""));
        return Ok(base.join(r));
    }
    let env = std::env::var_os("GATEWAY_RULES").filter(|v| !v.is_empty()).map(PathBuf::from);
    config::find_rules(env.as_deref())
}

/// What is wrong with the decision for a case; empty when it passes.
fn judge(case: &Case, why: &Explanation, policy: &PolicySet) -> Vec<String> {
    let mut problems = Vec::new();
    if why.decision != case.expect || case.reason.is_some_and(|r| r != why.reason) {
        let expected = match case.reason {
            Some(r) => format!("{} ({})", case.expect.as_str(), r.as_str()),
            None => case.expect.as_str().to_owned(),
        };
        problems.push(format!("expected {expected}, got {} ({})", why.decision.as_str(), why.reason.as_str()));
    }
    for expected in &case.rules {
        if why.determining_rules.iter().any(|r| rule_matches(expected, &r.location, &r.pattern)) {
            continue;
        }
        let exists = policy.rules().any(|r| {
            let p = r.pattern();
            let location = match &p.source.path {
                Some(path) => path.clone(),
                None => format!("{}:{}:{}", policy.source_name, p.source.span.line, p.source.span.column),
            };
            rule_matches(expected, &location, &p.text)
        });
        let got = if why.determining_rules.is_empty() {
            "there are none".to_owned()
        } else {
            why.determining_rules.iter().map(RuleRef::to_string).collect::<Vec<_>>().join("; ")
        };
        let note = if exists { "" } else { " (and no rule of the policy is written there or has that pattern)" };
        problems.push(format!("expected determining rule `{expected}`{note}, but the determining rules are: {got}"));
    }
    problems
}

/// Whether an expected rule, as written in a case, names the rule at `location` with
/// `pattern`: the whole location, the location without a leading directory
/// (`policy.mcpgw:12:5` for `rules/policy.mcpgw:12:5`), only `line:col` for a DSL location,
/// or the pattern text.
fn rule_matches(expected: &str, location: &str, pattern: &str) -> bool {
    if expected == location || expected == pattern {
        return true;
    }
    let Some(before) = location.strip_suffix(expected) else {
        return false;
    };
    let line_col = expected.split(':').count() == 2 && expected.split(':').all(|n| n.parse::<u32>().is_ok());
    before.ends_with('/') || before.ends_with(std::path::MAIN_SEPARATOR) || (line_col && before.ends_with(':'))
}

/// A parsed cases file.
#[derive(Debug, Default)]
struct Suite {
    rules: Option<String>,
    default_agent: Option<String>,
    cases: Vec<Case>,
}

/// One case.
#[derive(Debug)]
struct Case {
    /// Where the case's object starts.
    span: Span,
    name: Option<String>,
    agent: Option<String>,
    server: String,
    tool: Option<String>,
    /// A resource URI, for a resource case.
    resource: Option<String>,
    /// A prompt name, for a prompt case.
    prompt: Option<String>,
    expect: Effect,
    reason: Option<Reason>,
    /// Rules that must be among the determining rules.
    rules: Vec<String>,
}

/// Reads a cases file in any of its forms, or every problem in it.
fn parse_suite(file: &str, text: &str) -> Result<Suite, Diagnostics> {
    let reader = Reader::new(file, text);
    let suite = match json::parse(text) {
        Ok(node) => {
            let v = reader.root(&node);
            match node.kind {
                // A bare array of cases.
                NodeKind::Array(_) => Suite { cases: v.items().iter().filter_map(case).collect(), ..Suite::default() },
                // A single case (JSON lines with one line).
                NodeKind::Object(ref members) if !members.iter().any(|m| SUITE_KEYS.contains(&m.key.as_str())) => {
                    Suite { cases: case(&v).into_iter().collect(), ..Suite::default() }
                }
                _ => suite(&v),
            }
        }
        Err(e) if is_json_lines(text, &e) => json_lines(&reader, text),
        Err(e) => {
            reader.syntax_error(&e, 0, &[]);
            Suite::default()
        }
    };
    reader.finish().or_errors(suite)
}

/// Whether a text that is not one JSON document is several lines that each hold one.
fn is_json_lines(text: &str, e: &SyntaxError) -> bool {
    let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or_default();
    e.message.starts_with("unexpected trailing characters")
        && matches!(json::parse(first.trim()), Ok(Node { kind: NodeKind::Object(_), .. }))
}

/// JSON lines: one case per line, parsed one line at a time; the path of a line's case is
/// its line index (`[2]`).
fn json_lines(reader: &Reader<'_>, text: &str) -> Suite {
    let mut suite = Suite::default();
    let mut offset = 0;
    for (i, line) in text.split_inclusive('\n').enumerate() {
        let at = offset;
        offset += line.len();
        if line.trim().is_empty() {
            continue;
        }
        match json::parse(line) {
            Ok(node) => suite.cases.extend(case(&reader.value_at(&node, at, vec![PathSegment::Index(i)]))),
            Err(e) => reader.syntax_error(&e, at, &[PathSegment::Index(i)]),
        }
    }
    suite
}

fn suite(v: &Value<'_>) -> Suite {
    let Some(fields) = v.object("the test suite (an object)") else {
        return Suite::default();
    };
    fields.deny_unknown(&SUITE_KEYS);
    Suite {
        rules: fields.get("rules").and_then(|v| v.string("a string").map(str::to_owned)),
        default_agent: fields.get("default_agent").and_then(|v| nullable(&v)),
        cases: fields
            .required("cases")
            .and_then(|v| v.array_of("an array of test cases", |c| case(&c)))
            .unwrap_or_default(),
    }
}

fn nullable(v: &Value<'_>) -> Option<String> {
    v.nullable_string().flatten().map(str::to_owned)
}

fn case(v: &Value<'_>) -> Option<Case> {
    let fields = v.object("a test case (an object)")?;
    fields.deny_unknown(&CASE_KEYS);
    let name = fields.get("name").and_then(|v| v.string("a string").map(str::to_owned));
    let agent = fields.get("agent").and_then(|v| nullable(&v));
    let server = fields.required("server").and_then(|v| v.string("a string").map(str::to_owned));
    let tool = fields.get("tool").and_then(|v| nullable(&v));
    let resource = fields.get("resource").and_then(|v| nullable(&v));
    let prompt = fields.get("prompt").and_then(|v| nullable(&v));
    if [&tool, &resource, &prompt].iter().filter(|x| x.is_some()).count() > 1 {
        v.error("a case asks about at most one of `tool`, `resource` and `prompt`");
    }
    let expect = fields.required("expect").and_then(|v| v.one_of(&["allow", "deny"]));
    let reason = fields.get("reason").and_then(|v| v.one_of(&REASONS.map(Reason::as_str)));
    let rules = fields.get("rule").map(|v| expected_rules(&v)).unwrap_or_default();
    if rules.iter().any(String::is_empty) {
        v.error("a `rule` is empty");
    }
    Some(Case {
        span: v.span(),
        name,
        agent,
        server: server?,
        tool,
        resource,
        prompt,
        expect: if expect? == "allow" { Effect::Allow } else { Effect::Deny },
        reason: reason.and_then(|r| REASONS.into_iter().find(|known| known.as_str() == r)),
        rules,
    })
}

/// The `rule` of a case: one string, or an array of them.
fn expected_rules(v: &Value<'_>) -> Vec<String> {
    match v.kind() {
        NodeKind::String(s) => vec![s.clone()],
        NodeKind::Array(_) => v.items().iter().filter_map(|item| item.string("a string").map(str::to_owned)).collect(),
        _ => {
            v.wrong_type("a string or an array of strings");
            Vec::new()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expected_rules_match_by_location_suffix_or_pattern() {
        let loc = "some/dir/policy.mcpgw:12:5";
        for yes in [loc, "policy.mcpgw:12:5", "dir/policy.mcpgw:12:5", "12:5", "drop_*"] {
            assert!(rule_matches(yes, loc, "drop_*"), "{yes}");
        }
        for no in ["icy.mcpgw:12:5", "2:5", "5", "drop", "policy.mcpgw:12"] {
            assert!(!rule_matches(no, loc, "drop_*"), "{no}");
        }
        let json = "agents.backend.deny.tools.postgres[0]";
        assert!(rule_matches(json, json, "drop_*"));
        assert!(!rule_matches("backend.deny.tools.postgres[0]", json, "drop_*"));
    }

    #[test]
    fn suites_and_json_lines_parse_with_locations() {
        let suite = parse_suite(
            "c.json",
            r#"{"rules": "p.mcpgw", "cases": [
  {"agent": "a", "server": "s", "expect": "allow", "rule": ["x", "1:2"]},
  {"server": "s", "tool": "t", "expect": "deny", "reason": "server_denied"}]}"#,
        )
        .unwrap();
        assert_eq!(suite.rules.as_deref(), Some("p.mcpgw"));
        assert_eq!(suite.cases.len(), 2);
        assert_eq!((suite.cases[1].span.line, suite.cases[1].span.column), (3, 3));
        assert_eq!(suite.cases[0].rules, ["x", "1:2"]);

        let lines = parse_suite(
            "c.jsonl",
            "{\"agent\": \"a\", \"server\": \"s\", \"expect\": \"allow\"}\n\n{\"server\": \"s\", \"expect\": \"deny\"}\n",
        )
        .unwrap();
        assert_eq!(lines.cases.len(), 2);
        assert_eq!(lines.cases[1].span.line, 3);

        let array = parse_suite("c.json", r#"[{"server": "s", "expect": "deny"}, {"server": "t", "expect": "allow"}]"#);
        assert_eq!(array.unwrap().cases.len(), 2);
    }

    #[test]
    fn every_problem_is_reported_with_its_place() {
        let e = parse_suite(
            "c.json",
            r#"{"cases": [
  {"agent": "a", "server": "s", "expect": "alow"},
  {"agent": 1, "expect": "deny", "reason": "nope", "extra": true}]}"#,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("c.json:2:43: error: expected one of `allow`, `deny`, found `alow`"), "{e}");
        assert!(e.contains("c.json:3:13: error: expected a string or null, found a number"), "{e}");
        assert!(e.contains("c.json:3:44: error: expected one of `explicit_deny`, `allowed_by_rule`, `implicit_grant`, `no_matching_allow`, `server_denied`, `unknown_agent`, `invalid_agent`, found `nope`"), "{e}");
        assert!(e.contains("c.json:3:52: error: unknown field `extra`, expected one of `name`, `agent`"), "{e}");
        assert!(e.contains("c.json:3:3: error: missing field `server`"), "{e}");
        assert!(e.contains("at cases[1].extra"), "{e}");

        let e =
            parse_suite("c.jsonl", "{\"server\": \"s\", \"expect\": \"deny\"}\n{\"server\": \"s\" \"expect\": 1}\n")
                .unwrap_err()
                .to_string();
        assert!(e.contains("c.jsonl:2:16: error: expected `,` or `}` after an object member"), "{e}");
    }
}
