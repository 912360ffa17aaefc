//! `docs/dsl.md` stays true: every example in it parses, each JSON example and the DSL example
//! after it are the same policy, and the decisions the guide describes are the ones made.

use mcpgw::policy::dsl::to_dsl_string;
use mcpgw::policy::{DecisionTable, PolicySet, Request};

const GUIDE: &str = include_str!("../../docs/dsl.md");

/// The fenced code blocks of the guide, as (language tag, body).
fn blocks() -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut current: Option<(String, String)> = None;
    for line in GUIDE.lines() {
        let fence = line.trim_start().strip_prefix("```");
        match (fence, current.take()) {
            (Some(tag), None) => current = Some((tag.trim().to_owned(), String::new())),
            (Some(_), Some(done)) => out.push(done),
            (None, Some((tag, mut body))) => {
                body.push_str(line);
                body.push('\n');
                current = Some((tag, body));
            }
            (None, None) => {}
        }
    }
    out
}

/// DSL examples: untagged blocks that are whole files (not error displays or indented snippets).
fn dsl_examples() -> Vec<String> {
    blocks()
        .into_iter()
        .filter(|(tag, body)| tag.is_empty() && !body.starts_with("policy.mcpgw:") && !body.starts_with(' '))
        .map(|(_, body)| body)
        .collect()
}

fn parse(text: &str) -> PolicySet {
    PolicySet::from_dsl_str("policy.mcpgw", text)
        .unwrap_or_else(|e| panic!("guide example does not parse:\n{e}\n---\n{text}"))
}

#[test]
fn every_example_parses() {
    let examples = dsl_examples();
    assert!(examples.len() >= 12, "found only {} examples", examples.len());
    for text in &examples {
        parse(text);
    }
}

#[test]
fn json_examples_match_the_dsl_after_them() {
    let all = blocks();
    let mut pairs = 0;
    for pair in all.windows(2) {
        let [(tag, json), (next_tag, dsl)] = pair else { continue };
        if tag != "json" || !next_tag.is_empty() {
            continue;
        }
        let from_json = PolicySet::from_json_str("rules.json", json).unwrap();
        assert_eq!(to_dsl_string(&from_json), *dsl, "the DSL after this JSON is not its canonical form:\n{json}");
        pairs += 1;
    }
    assert_eq!(pairs, 2);
}

#[test]
fn error_examples_are_what_the_reader_says() {
    let cases = [
        "agent backend {\n  alow servers postgres\n}\n",
        "agent backend {\n  allow servers postgres,\n  deny servers x\n}\n",
        "agent backend {\n  allow servers postgres\n\nagent other {}\n",
        "agent backend {}\nagent \"backend\" {}\n",
        "agent backend {\n  allow servers \"p\\xq\"\n}\n",
    ];
    let shown: Vec<String> = blocks().into_iter().map(|(_, b)| b).filter(|b| b.starts_with("policy.mcpgw:")).collect();
    assert_eq!(shown.len(), cases.len());
    for (text, shown) in cases.iter().zip(&shown) {
        let err = PolicySet::from_dsl_str("policy.mcpgw", text).unwrap_err().to_string();
        assert_eq!(format!("{err}\n"), *shown);
    }
}

#[test]
fn the_tool_rules_example_decides_as_described() {
    let example = dsl_examples().into_iter().find(|t| t.contains("deny tools on *: shutdown\n}")).unwrap();
    let table = DecisionTable::compile(&parse(&example)).unwrap();
    let allowed = |server, tool| table.explain(&Request::tool(Some("backend"), server, tool)).is_allowed();
    assert!(allowed("postgres", "query"));
    assert!(allowed("postgres", "list_tables"));
    assert!(!allowed("postgres", "drop_table"));
    assert!(!allowed("postgres", "vacuum"));
    assert!(allowed("redis", "get"));
    assert!(!allowed("redis", "shutdown"));
}

#[test]
fn the_resources_and_prompts_example_decides_as_described() {
    let example = dsl_examples().into_iter().find(|b| b.contains("allow resources on files")).unwrap();
    let table = DecisionTable::compile(&parse(&example)).unwrap();
    let allowed = |r: Request<'_>| table.decide(&r).is_allowed();
    let a = Some("docs");
    assert!(allowed(Request::resource(a, "files", "file:///srv/docs/guide.md")));
    assert!(!allowed(Request::resource(a, "files", "file:///srv/docs/secret.md")));
    assert!(!allowed(Request::resource(a, "files", "file:///etc/passwd")));
    assert!(allowed(Request::resource(a, "web", "https://example.com/?q=1#top")));
    assert!(!allowed(Request::resource(a, "web", "https://example.com/secret")));
    assert!(allowed(Request::prompt(a, "files", "review_code")));
    assert!(allowed(Request::prompt(a, "web", "review_code")));
    assert!(!allowed(Request::prompt(a, "web", "review_admin")));
    assert!(!allowed(Request::prompt(a, "files", "summarize")));
}

#[test]
fn the_agent_blocks_example_combines_blocks_as_described() {
    let example =
        dsl_examples().into_iter().find(|t| t.starts_with("agent backend { allow servers postgres }")).unwrap();
    let table = DecisionTable::compile(&parse(&example)).unwrap();
    let allowed = |agent, server, tool| table.explain(&Request::tool(Some(agent), server, tool)).is_allowed();
    assert!(allowed("backend", "postgres", "query"));
    assert!(!allowed("backend", "postgres", "shutdown"));
    assert!(!allowed("backend.reports", "postgres", "query"));
    assert!(!allowed("backend", "prod_db", "query"));
}
