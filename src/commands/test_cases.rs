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
//!     "rule": "policy.mcpgw:4:27"}]}
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
use crate::located::json::{self, DisplayPath, Member, Node, NodeKind, PathSegment};
use crate::located::{Diagnostic, Diagnostics, LineIndex, Span};
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
const CASE_KEYS: [&str; 7] = ["name", "agent", "server", "tool", "expect", "reason", "rule"];

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
        let req = Request { agent: case.agent.as_deref(), server: &case.server, tool: case.tool.as_deref() };
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
    expect: Effect,
    reason: Option<Reason>,
    /// Rules that must be among the determining rules.
    rules: Vec<String>,
}

/// Reads a cases file in either form, or every problem in it.
fn parse_suite(file: &str, text: &str) -> Result<Suite, Diagnostics> {
    let lines = LineIndex::new(text);
    let mut cx = Cx { file, lines: &lines, line_offset: 0, errors: Vec::new() };
    match json::parse(text) {
        Ok(node) => {
            let suite = match &node.kind {
                // A bare array of cases.
                NodeKind::Array(items) => Suite {
                    cases: items.iter().enumerate().filter_map(|(i, n)| cx.case(n, &[PathSegment::Index(i)])).collect(),
                    ..Suite::default()
                },
                // A single case (JSON lines with one line).
                NodeKind::Object(members) if !members.iter().any(|m| SUITE_KEYS.contains(&m.key.as_str())) => {
                    Suite { cases: cx.case(&node, &[]).into_iter().collect(), ..Suite::default() }
                }
                _ => cx.suite(&node),
            };
            cx.finish(suite)
        }
        Err(e) => {
            // Several lines that each hold a JSON value: JSON lines.
            let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or_default();
            let json_lines = e.message.starts_with("unexpected trailing characters")
                && matches!(json::parse(first.trim()), Ok(Node { kind: NodeKind::Object(_), .. }));
            if !json_lines {
                cx.error(e.offset, &e.path, e.message);
                return cx.finish(Suite::default());
            }
            let mut suite = Suite::default();
            let mut offset = 0;
            for (i, line) in text.split_inclusive('\n').enumerate() {
                cx.line_offset = offset;
                offset += line.len();
                if line.trim().is_empty() {
                    continue;
                }
                let at = [PathSegment::Index(i)];
                match json::parse(line) {
                    Ok(node) => suite.cases.extend(cx.case(&node, &at)),
                    Err(e) => cx.error(e.offset, &[], e.message),
                }
            }
            cx.finish(suite)
        }
    }
}

/// Parsing context: where errors go and how offsets become positions.
struct Cx<'a> {
    file: &'a str,
    lines: &'a LineIndex<'a>,
    /// Added to node offsets (JSON lines are parsed one line at a time).
    line_offset: usize,
    errors: Vec<Diagnostic>,
}

impl Cx<'_> {
    fn span(&self, offset: usize) -> Span {
        self.lines.span(self.line_offset + offset)
    }

    fn error(&mut self, offset: usize, path: &[PathSegment], message: impl Into<String>) {
        let span = self.span(offset);
        let mut d = Diagnostic::error(self.file, message).at(span).with_line_text(self.lines.shown_line(span));
        if !path.is_empty() {
            d = d.with_path(DisplayPath(path).to_string());
        }
        self.errors.push(d);
    }

    fn finish(mut self, suite: Suite) -> Result<Suite, Diagnostics> {
        self.errors.sort_by_key(|d| d.span.map(|s| (s.line, s.column)));
        if self.errors.is_empty() { Ok(suite) } else { Err(Diagnostics(self.errors)) }
    }

    fn members<'n>(&mut self, node: &'n Node, path: &[PathSegment], what: &str) -> Option<&'n [Member]> {
        match &node.kind {
            NodeKind::Object(m) => Some(m),
            other => {
                self.error(node.offset, path, format!("expected {what} (an object), found {}", other.type_name()));
                None
            }
        }
    }

    fn unknown_key(&mut self, m: &Member, path: &[PathSegment], known: &[&str]) {
        let list = known.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ");
        let d_path = extend(path, &m.key);
        self.error(m.key_offset, &d_path, format!("unknown key `{}`", m.key));
        if let Some(d) = self.errors.last_mut() {
            d.hint = Some(format!("the keys are {list}"));
        }
    }

    fn string(&mut self, node: &Node, path: &[PathSegment], nullable: bool) -> Option<Option<String>> {
        match &node.kind {
            NodeKind::String(s) => Some(Some(s.clone())),
            NodeKind::Null if nullable => Some(None),
            other => {
                let want = if nullable { "a string or null" } else { "a string" };
                self.error(node.offset, path, format!("expected {want}, found {}", other.type_name()));
                None
            }
        }
    }

    fn suite(&mut self, node: &Node) -> Suite {
        let mut suite = Suite::default();
        let Some(members) = self.members(node, &[], "the test suite") else {
            return suite;
        };
        let mut saw_cases = false;
        for m in members {
            let path = vec![PathSegment::Key(m.key.clone())];
            match m.key.as_str() {
                "rules" => suite.rules = self.string(&m.value, &path, false).flatten(),
                "default_agent" => suite.default_agent = self.string(&m.value, &path, true).flatten(),
                "cases" => {
                    saw_cases = true;
                    match &m.value.kind {
                        NodeKind::Array(items) => {
                            for (i, item) in items.iter().enumerate() {
                                let at = [PathSegment::Key("cases".into()), PathSegment::Index(i)];
                                suite.cases.extend(self.case(item, &at));
                            }
                        }
                        other => self.error(
                            m.value.offset,
                            &path,
                            format!("expected `cases` to be an array, found {}", other.type_name()),
                        ),
                    }
                }
                _ => self.unknown_key(m, &[], &SUITE_KEYS),
            }
        }
        if !saw_cases {
            self.error(node.offset, &[], "the test suite has no `cases` array");
        }
        suite
    }

    fn case(&mut self, node: &Node, at: &[PathSegment]) -> Option<Case> {
        let members = self.members(node, at, "a test case")?;
        let start_errors = self.errors.len();
        let mut case = Case {
            span: self.span(node.offset),
            name: None,
            agent: None,
            server: String::new(),
            tool: None,
            expect: Effect::Deny,
            reason: None,
            rules: Vec::new(),
        };
        let (mut server, mut expect) = (false, false);
        for m in members {
            let path = extend(at, &m.key);
            match m.key.as_str() {
                "name" => case.name = self.string(&m.value, &path, false).flatten(),
                "agent" => case.agent = self.string(&m.value, &path, true).flatten(),
                "server" => {
                    server = true;
                    case.server = self.string(&m.value, &path, false).flatten().unwrap_or_default();
                }
                "tool" => case.tool = self.string(&m.value, &path, true).flatten(),
                "expect" => {
                    expect = true;
                    match self.string(&m.value, &path, false).flatten().as_deref() {
                        Some("allow") => case.expect = Effect::Allow,
                        Some("deny") => case.expect = Effect::Deny,
                        Some(other) => self.error(
                            m.value.offset,
                            &path,
                            format!("`expect` must be \"allow\" or \"deny\", not `{other}`"),
                        ),
                        None => {}
                    }
                }
                "reason" => {
                    if let Some(Some(s)) = self.string(&m.value, &path, false) {
                        match REASONS.iter().find(|r| r.as_str() == s) {
                            Some(r) => case.reason = Some(*r),
                            None => {
                                let list = REASONS.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(", ");
                                self.error(m.value.offset, &path, format!("unknown reason `{s}`"));
                                if let Some(d) = self.errors.last_mut() {
                                    d.hint = Some(format!("the reasons are {list}"));
                                }
                            }
                        }
                    }
                }
                "rule" => match &m.value.kind {
                    NodeKind::String(s) => case.rules.push(s.clone()),
                    NodeKind::Array(items) => {
                        for (i, item) in items.iter().enumerate() {
                            let mut item_path = path.clone();
                            item_path.push(PathSegment::Index(i));
                            case.rules.extend(self.string(item, &item_path, false).flatten());
                        }
                    }
                    other => self.error(
                        m.value.offset,
                        &path,
                        format!("expected `rule` to be a string or an array of strings, found {}", other.type_name()),
                    ),
                },
                _ => self.unknown_key(m, at, &CASE_KEYS),
            }
        }
        if case.rules.iter().any(String::is_empty) {
            self.error(node.offset, at, "a `rule` is empty");
        }
        for (present, key) in [(server, "server"), (expect, "expect")] {
            if !present {
                self.error(node.offset, at, format!("the test case has no `{key}`"));
            }
        }
        (self.errors.len() == start_errors).then_some(case)
    }
}

fn extend(path: &[PathSegment], key: &str) -> Vec<PathSegment> {
    let mut p = path.to_vec();
    p.push(PathSegment::Key(key.to_owned()));
    p
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
        assert!(e.contains("c.json:2:43: error: `expect` must be \"allow\" or \"deny\", not `alow`"), "{e}");
        assert!(e.contains("c.json:3:13: error: expected a string or null, found a number"), "{e}");
        assert!(e.contains("c.json:3:44: error: unknown reason `nope`"), "{e}");
        assert!(e.contains("c.json:3:52: error: unknown key `extra`"), "{e}");
        assert!(e.contains("c.json:3:3: error: the test case has no `server`"), "{e}");
        assert!(e.contains("at cases[1].extra"), "{e}");

        let e =
            parse_suite("c.jsonl", "{\"server\": \"s\", \"expect\": \"deny\"}\n{\"server\": \"s\" \"expect\": 1}\n")
                .unwrap_err()
                .to_string();
        assert!(e.contains("c.jsonl:2:16: error: expected `,` or `}` after an object member"), "{e}");
    }
}
