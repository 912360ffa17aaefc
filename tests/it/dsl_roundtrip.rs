//! Round trips between the policy AST, the `.mcpgw` language and the JSON rules.
//!
//! Any policy printed as DSL (or JSON) parses back to the same AST, up to source locations and
//! the grouping of tool rules by server pattern (both printers and the DSL reader merge rules
//! for the same server pattern in one block; see `normalize`). Printing is a fixed point, and
//! converting DSL -> JSON -> DSL or JSON -> DSL -> JSON gives back the same text.

use mcpgw::policy::dsl::{format_dsl_str, to_dsl_string};
use mcpgw::policy::json::print::to_json_string;
use mcpgw::policy::testkit::choices::Choices;
use mcpgw::policy::testkit::tricky::{self, Options};
use mcpgw::policy::{AgentPolicy, Pattern, PolicySet, RuleBlock, RuleSource, ToolRules};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

/// Clears every source location and merges tool rules that share a server pattern within a
/// block (dropping groups without tool patterns), which is what printing and re-reading do.
fn normalize(policy: &PolicySet) -> PolicySet {
    let pat = |p: &Pattern| Pattern { text: p.text.clone(), source: RuleSource::default() };
    let merge = |list: &[ToolRules]| {
        let mut tools: Vec<ToolRules> = Vec::new();
        for rules in list {
            let patterns = rules.tools.iter().map(pat);
            match tools.iter_mut().find(|t| t.server.text == rules.server.text) {
                Some(t) => t.tools.extend(patterns),
                None => tools.push(ToolRules { server: pat(&rules.server), tools: patterns.collect() }),
            }
        }
        tools.retain(|t| !t.tools.is_empty());
        tools
    };
    let block = |b: &RuleBlock| RuleBlock {
        servers: b.servers.iter().map(pat).collect(),
        tools: merge(&b.tools),
        resources: merge(&b.resources),
        prompts: merge(&b.prompts),
    };
    PolicySet {
        source_name: String::new(),
        agents: policy
            .agents
            .iter()
            .map(|a| AgentPolicy { key: pat(&a.key), allow: block(&a.allow), deny: block(&a.deny), limits: a.limits })
            .collect(),
        defaults: policy.defaults,
    }
}

/// A policy with unique agent keys (both syntaxes require it), from the testkit's generator:
/// names that stress quoting (glob and regex metacharacters, quotes, escapes, layout, control
/// and direction characters, non-ASCII, the DSL's punctuation and keywords), empty patterns
/// too with `empty_patterns`. Proptest shrinks the bytes the generator reads its choices from.
fn policy(empty_patterns: bool) -> impl Strategy<Value = PolicySet> {
    proptest::collection::vec(any::<u8>(), 0..512).prop_map(move |bytes| {
        tricky::policy(&mut Choices::from_bytes(&bytes), Options { unique_keys: true, empty_patterns })
    })
}

fn from_dsl(text: &str) -> PolicySet {
    PolicySet::from_dsl_str("p.mcpgw", text).unwrap_or_else(|e| panic!("printed DSL does not parse:\n{e}\n---\n{text}"))
}

fn from_json(text: &str) -> PolicySet {
    PolicySet::from_json_str("p.json", text)
        .unwrap_or_else(|e| panic!("printed JSON does not parse:\n{e}\n---\n{text}"))
}

/// DSL printing parses back to the same policy, and printing is a fixed point.
fn dsl_printing_round_trip(p: &PolicySet) -> Result<(), TestCaseError> {
    let text = to_dsl_string(p);
    let back = from_dsl(&text);
    prop_assert_eq!(normalize(&back), normalize(p));
    prop_assert_eq!(back.source_name.as_str(), "p.mcpgw");
    prop_assert_eq!(to_dsl_string(&back), text);
    Ok(())
}

/// JSON printing parses back to the same policy, and printing is a fixed point.
fn json_printing_round_trip(p: &PolicySet) -> Result<(), TestCaseError> {
    let text = to_json_string(p);
    let back = from_json(&text);
    prop_assert_eq!(normalize(&back), normalize(p));
    prop_assert_eq!(to_json_string(&back), text);
    Ok(())
}

/// DSL -> JSON -> DSL gives back the same text.
fn dsl_json_dsl_round_trip(p: &PolicySet) -> Result<(), TestCaseError> {
    let dsl = to_dsl_string(p);
    let json = to_json_string(&from_dsl(&dsl));
    prop_assert_eq!(to_dsl_string(&from_json(&json)), dsl);
    Ok(())
}

/// JSON -> DSL -> JSON gives back the same text.
fn json_dsl_json_round_trip(p: &PolicySet) -> Result<(), TestCaseError> {
    let json = to_json_string(p);
    let dsl = to_dsl_string(&from_json(&json));
    prop_assert_eq!(to_json_string(&from_dsl(&dsl)), json);
    Ok(())
}

/// Policies that once broke a round trip (kept from the seeds proptest saved before the
/// generator was the testkit's): a tool pattern `"` under agent keys `*` and `-`.
#[test]
fn past_failures_round_trip() {
    for (key, side) in [("*", "deny"), ("-", "allow")] {
        let json = format!(
            r#"{{"agents": {{"{key}": {{"{side}": {{"tools": {{"a": ["\""]}}}}}}}}, "defaults": {{"deny_on_missing_agent": false}}}}"#
        );
        let p = from_json(&json);
        for check in
            [dsl_printing_round_trip, json_printing_round_trip, dsl_json_dsl_round_trip, json_dsl_json_round_trip]
        {
            check(&p).unwrap();
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn dsl_printing_parses_back_to_the_same_policy(p in policy(false)) {
        dsl_printing_round_trip(&p)?;
    }

    #[test]
    fn json_printing_parses_back_to_the_same_policy(p in policy(false)) {
        json_printing_round_trip(&p)?;
    }

    #[test]
    fn dsl_to_json_to_dsl_keeps_the_text(p in policy(false)) {
        dsl_json_dsl_round_trip(&p)?;
    }

    #[test]
    fn json_to_dsl_to_json_keeps_the_text(p in policy(false)) {
        json_dsl_json_round_trip(&p)?;
    }

    /// Empty patterns print (quoted as `""`) and read back; only the structural check, which
    /// both syntaxes share, refuses them.
    #[test]
    fn empty_patterns_print_and_are_refused_only_for_being_empty(p in policy(true)) {
        let text = to_dsl_string(&p);
        match PolicySet::from_dsl_str("p.mcpgw", &text) {
            Ok(back) => prop_assert_eq!(normalize(&back), normalize(&p)),
            Err(e) => {
                for d in e.iter() {
                    prop_assert!(d.message.starts_with("empty "), "unexpected error: {}\n---\n{}", d, text);
                }
            }
        }
        let json = to_json_string(&p);
        prop_assert!(serde_json::from_str::<serde_json::Value>(&json).is_ok());
    }

    /// The reader never panics, whatever it is given, and every error it reports has a
    /// location inside the text.
    #[test]
    fn reading_arbitrary_text_never_panics(text in proptest::collection::vec(
        prop_oneof![
            4 => proptest::sample::select(vec!["agent", "defaults", "allow", "deny", "servers", "tools", "on", "limits",
                "{", "}", ",", ":", "=", "\"", "\\", "#", "\n", " ", "x", "*", "1", "true", "é", "\r", "\u{FEFF}",
                "requests_per_second", "deny_on_missing_agent", "\\u", "d83d"]).prop_map(str::to_owned),
            1 => any::<String>(),
        ], 0..60).prop_map(|parts| parts.concat())
    ) {
        if let Err(e) = PolicySet::from_dsl_str("p.mcpgw", &text) {
            let lines = text.split('\n').count() + text.matches('\r').count();
            for d in e.iter() {
                if let Some(span) = d.span {
                    prop_assert!(span.line as usize <= lines.max(1), "{} outside the text", d);
                }
            }
        }
    }
}

/// Adds comments to canonical text: for each line, per `plan`, nothing, a comment on its own
/// line above it, a comment after it, or both. Returns the text and the comments' texts.
fn sprinkle_comments(text: &str, plan: &[u8]) -> (String, Vec<String>) {
    let mut out = String::new();
    let mut added = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let choice = plan.get(i % plan.len().max(1)).copied().unwrap_or(0) % 4;
        if choice & 1 == 1 {
            let c = format!(" above {i}");
            out.push_str(&format!("#{c}\n"));
            added.push(c);
        }
        out.push_str(line);
        if choice & 2 == 2 && !line.is_empty() {
            let c = format!(" after {i} \"#,{{}}");
            out.push_str(&format!("  #{c}"));
            added.push(c);
        }
        out.push('\n');
    }
    (out, added)
}

/// The texts of every comment in formatted output (a `#` inside a quoted name is not one).
fn comment_texts(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in text.lines() {
        let mut in_quote = false;
        let mut escaped = false;
        for (i, c) in line.char_indices() {
            match c {
                _ if escaped => escaped = false,
                '\\' if in_quote => escaped = true,
                '"' => in_quote = !in_quote,
                '#' if !in_quote => {
                    out.push(line[i + 1..].to_owned());
                    break;
                }
                _ => {}
            }
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// `format_dsl_str` keeps every comment, keeps the policy, and is a fixed point.
    #[test]
    fn formatting_keeps_every_comment(p in policy(false), plan in proptest::collection::vec(any::<u8>(), 1..16)) {
        let (text, mut added) = sprinkle_comments(&to_dsl_string(&p), &plan);
        let formatted = format_dsl_str("p.mcpgw", &text).unwrap_or_else(|e| panic!("{e}\n---\n{text}"));
        prop_assert_eq!(normalize(&from_dsl(&formatted)), normalize(&p));
        let mut kept = comment_texts(&formatted);
        kept.sort();
        added.sort();
        prop_assert_eq!(kept, added, "\n---\n{}\n---\n{}", text, formatted);
        prop_assert_eq!(format_dsl_str("p.mcpgw", &formatted).unwrap(), formatted);
    }
}

/// The README's example policy, in both syntaxes, is the same policy.
#[test]
fn readme_example_in_both_syntaxes() {
    let json = r#"{"agents": {"backend": {"allow": {"servers": ["postgres"], "tools": {"postgres": ["query", "list_*"]}},
                        "deny":  {"tools": {"postgres": ["drop_*", "truncate_*"]}}}},
 "defaults": {"deny_on_missing_agent": true}}"#;
    let dsl = "defaults {
  deny_on_missing_agent = true
}

agent backend {
  allow servers postgres
  allow tools on postgres: query, list_*
  deny tools on postgres: drop_*, truncate_*
}
";
    let from_json = from_json(json);
    assert_eq!(normalize(&from_dsl(dsl)), normalize(&from_json));
    assert_eq!(to_dsl_string(&from_json), dsl);
}
