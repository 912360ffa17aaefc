//! Tests of the language as a whole: every grammar feature, every error kind, and the printer.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use pest::Parser;

use super::grammar::{McpgwParser, Rule};
use super::parse::MAX_ERRORS;
use super::to_dsl_string;
use crate::located::Span;
use crate::policy::ast::PolicySet;

fn parse(text: &str) -> PolicySet {
    match PolicySet::from_dsl_str("p.mcpgw", text) {
        Ok(p) => {
            // The whole-file rule of the grammar accepts everything the recovering reader does.
            assert!(McpgwParser::parse(Rule::file, text).is_ok(), "`file` rejects:\n{text}");
            p
        }
        Err(e) => panic!("unexpected errors:\n{e}"),
    }
}

fn errors(text: &str) -> Vec<String> {
    let e = PolicySet::from_dsl_str("p.mcpgw", text).expect_err("expected errors");
    e.iter().map(ToString::to_string).collect()
}

fn error(text: &str) -> String {
    let e = errors(text);
    assert_eq!(e.len(), 1, "expected one error, got:\n{}", e.join("\n"));
    e.into_iter().next().unwrap()
}

fn texts(patterns: &[crate::policy::ast::Pattern]) -> Vec<&str> {
    patterns.iter().map(|p| p.text.as_str()).collect()
}

const EXAMPLE: &str = "# who may reach what
defaults { deny_on_missing_agent = true }

agent backend {
  allow servers postgres, redis
  allow tools on postgres: query, list_*
  deny tools on postgres: drop_*, truncate_*
  limits { requests_per_second = 10  max_concurrent_calls = 4 }
}

agent \"backend.*\" { deny servers prod_db }
";

// ----- grammar features -------------------------------------------------------------------

#[test]
fn reads_the_example() {
    let p = parse(EXAMPLE);
    assert_eq!(p.source_name, "p.mcpgw");
    assert!(p.defaults.deny_on_missing_agent);
    assert_eq!(p.agents.len(), 2);
    let b = &p.agents[0];
    assert_eq!(b.key.text, "backend");
    assert_eq!(texts(&b.allow.servers), ["postgres", "redis"]);
    assert_eq!(b.allow.tools.len(), 1);
    assert_eq!(b.allow.tools[0].server.text, "postgres");
    assert_eq!(texts(&b.allow.tools[0].tools), ["query", "list_*"]);
    assert_eq!(texts(&b.deny.tools[0].tools), ["drop_*", "truncate_*"]);
    assert_eq!(b.limits.requests_per_second, Some(10));
    assert_eq!(b.limits.max_concurrent_calls, Some(4));
    assert_eq!(p.agents[1].key.text, "backend.*");
    assert_eq!(texts(&p.agents[1].deny.servers), ["prod_db"]);
    assert!(p.agents[1].allow.is_empty());
    assert!(p.agents[1].limits.is_unlimited());
}

#[test]
fn patterns_carry_their_dsl_location() {
    let p = parse(EXAMPLE);
    let b = &p.agents[0];
    let at = |pat: &crate::policy::ast::Pattern| (pat.source.path.clone(), pat.source.span);
    assert_eq!(at(&b.key), (None, Span { line: 4, column: 7 }));
    assert_eq!(at(&b.allow.servers[1]), (None, Span { line: 5, column: 27 }));
    assert_eq!(at(&b.allow.tools[0].server), (None, Span { line: 6, column: 18 }));
    assert_eq!(at(&b.deny.tools[0].tools[1]), (None, Span { line: 7, column: 35 }));
    assert_eq!(at(&p.agents[1].key), (None, Span { line: 11, column: 7 }));
}

#[test]
fn columns_count_characters_not_bytes() {
    let p = parse("agent a { allow servers \"é\", x }");
    assert_eq!(p.agents[0].allow.servers[1].source.span, Span { line: 1, column: 30 });
}

#[test]
fn an_empty_file_is_an_empty_policy() {
    for text in ["", "   \n\n", "# nothing yet\n", "\u{FEFF}"] {
        let p = parse(text);
        assert!(p.agents.is_empty());
        assert!(p.defaults.deny_on_missing_agent);
    }
}

#[test]
fn defaults_may_be_false_and_may_come_last() {
    let p = parse("agent a {}\ndefaults {\n  deny_on_missing_agent = false\n}\n");
    assert!(!p.defaults.deny_on_missing_agent);
    assert!(parse("defaults {}").defaults.deny_on_missing_agent);
}

#[test]
fn agent_keys_may_be_ids_patterns_or_quoted() {
    let p = parse("agent backend.db-1_x {} agent backend.* {} agent * {} agent \"quoted\" {}");
    let keys: Vec<_> = p.agents.iter().map(|a| a.key.text.as_str()).collect();
    assert_eq!(keys, ["backend.db-1_x", "backend.*", "*", "quoted"]);
}

#[test]
fn tool_rules_on_every_server_use_star() {
    let p = parse("agent a { allow tools on *: read_* deny tools on \"*\": write_* }");
    assert_eq!(p.agents[0].allow.tools[0].server.text, "*");
    assert_eq!(p.agents[0].deny.tools[0].server.text, "*");
}

#[test]
fn repeated_statements_add_up_and_tool_rules_merge_by_server() {
    let p = parse(
        "agent a {
           allow servers a
           deny tools on pg: drop
           allow tools on pg: q1
           allow tools on *: r
           allow servers b, c
           allow tools on pg: q2, q3
           deny tools on pg: truncate
         }",
    );
    let a = &p.agents[0];
    assert_eq!(texts(&a.allow.servers), ["a", "b", "c"]);
    assert_eq!(a.allow.tools.len(), 2);
    assert_eq!(a.allow.tools[0].server.text, "pg");
    assert_eq!(a.allow.tools[0].server.source.span.line, 4, "the merged group sits at its first statement");
    assert_eq!(texts(&a.allow.tools[0].tools), ["q1", "q2", "q3"]);
    assert_eq!(a.allow.tools[0].tools[1].source.span.line, 7, "each pattern keeps its own location");
    assert_eq!(texts(&a.allow.tools[1].tools), ["r"]);
    assert_eq!(texts(&a.deny.tools[0].tools), ["drop", "truncate"]);
}

#[test]
fn duplicate_patterns_are_kept() {
    let p = parse("agent a { allow servers x, x }");
    assert_eq!(texts(&p.agents[0].allow.servers), ["x", "x"]);
}

#[test]
fn limits_may_be_partial_or_split() {
    let p = parse("agent a { limits { max_concurrent_calls = 2 } limits { requests_per_second = 4294967295 } }");
    assert_eq!(p.agents[0].limits.max_concurrent_calls, Some(2));
    assert_eq!(p.agents[0].limits.requests_per_second, Some(u32::MAX));
    assert!(parse("agent a { limits {} }").agents[0].limits.is_unlimited());
    assert_eq!(parse("agent a { limits { requests_per_second = 007 } }").agents[0].limits.requests_per_second, Some(7));
}

#[test]
fn layout_is_free_and_comments_go_anywhere() {
    let p = parse(
        "# head\nagent a{allow servers x,y deny servers z}agent b # the key\n{\n allow tools on # which server\n pg :\n q, # first\n r\n}",
    );
    assert_eq!(texts(&p.agents[0].allow.servers), ["x", "y"]);
    assert_eq!(texts(&p.agents[0].deny.servers), ["z"]);
    assert_eq!(texts(&p.agents[1].allow.tools[0].tools), ["q", "r"]);
}

#[test]
fn every_newline_style_counts_lines() {
    let p = parse("agent a {\r\n  allow servers x\r  deny servers y\n}\r\n");
    assert_eq!(p.agents[0].allow.servers[0].source.span, Span { line: 2, column: 17 });
    assert_eq!(p.agents[0].deny.servers[0].source.span, Span { line: 3, column: 16 });
}

#[test]
fn quoted_names_hold_anything_with_json_escapes() {
    let p = parse(
        r##"agent a { allow servers "my server", "a:b", "#not a comment", "tab\there", "\u00e9\ud83d\ude00", "é", "allow", "\"\\\/" }"##,
    );
    assert_eq!(
        texts(&p.agents[0].allow.servers),
        ["my server", "a:b", "#not a comment", "tab\there", "é😀", "é", "allow", "\"\\/"]
    );
}

#[test]
fn keywords_are_names_where_they_cannot_be_keywords() {
    // Only the five words that start blocks or statements are reserved.
    let p = parse("agent servers { allow servers tools, on, servers, true, allowed, deny_all }");
    assert_eq!(p.agents[0].key.text, "servers");
    assert_eq!(texts(&p.agents[0].allow.servers), ["tools", "on", "servers", "true", "allowed", "deny_all"]);
    let p = parse("agent a { allow tools on on: on }");
    assert_eq!(p.agents[0].allow.tools[0].server.text, "on");
}

// ----- errors -----------------------------------------------------------------------------

#[test]
fn unknown_keyword_renders_with_caret_and_hint() {
    assert_eq!(
        error("agent backend {\n  alow servers postgres\n}\n"),
        "p.mcpgw:2:3: error: expected `allow`, `deny`, `limits` or `}`, found `alow`
  |
2 |   alow servers postgres
  |   ^
  hint: did you mean `allow`?"
    );
    assert_eq!(
        error("agnet backend {}"),
        "p.mcpgw:1:1: error: expected `agent` or `defaults`, found `agnet`
  |
1 | agnet backend {}
  | ^
  hint: did you mean `agent`?"
    );
    assert!(error("agent a { allow srevers x }").ends_with("hint: did you mean `servers`?"));
    assert!(error("agent a { limtis {} }").contains("hint: did you mean `limits`?"));
}

#[test]
fn missing_brace_before_the_next_block() {
    assert_eq!(
        error("agent backend {\n  allow servers postgres\n\nagent other {}\n"),
        "p.mcpgw:4:1: error: missing `}` before `agent`
  |
4 | agent other {}
  | ^
  hint: the `agent backend` block opened at line 1 is not closed"
    );
    let e = error("agent a {\n  limits {\n    requests_per_second = 1\n  allow servers x\n}\n");
    assert!(e.starts_with("p.mcpgw:4:3: error: missing `}` before `allow`"), "{e}");
    assert!(e.ends_with("hint: the `limits` block opened at line 2 is not closed"), "{e}");
}

#[test]
fn missing_brace_at_the_end_of_the_file() {
    assert_eq!(
        error("agent backend {\n  allow servers postgres\n# trailing\n"),
        "p.mcpgw:2:25: error: missing `}` at the end of the file
  |
2 |   allow servers postgres
  |                         ^
  hint: the `agent backend` block opened at line 1 is not closed"
    );
    let e = error("agent a {\n  limits {\n");
    assert!(e.ends_with("the `limits` block opened at line 2 and the `agent a` block opened at line 1 are not closed"));
    assert!(error("defaults {").contains("the `defaults` block opened at line 1 is not closed"));
}

#[test]
fn duplicate_agent_block() {
    assert_eq!(
        error("agent backend {}\nagent \"backend\" {}\n"),
        "p.mcpgw:2:7: error: duplicate agent block `backend`
  |
2 | agent \"backend\" {}
  |       ^
  hint: `agent backend` is already defined at line 1; merge the two blocks into one"
    );
}

#[test]
fn duplicate_defaults_block_and_settings() {
    let e = error("defaults {}\ndefaults { deny_on_missing_agent = false }");
    assert!(e.starts_with("p.mcpgw:2:1: error: duplicate `defaults` block"), "{e}");
    assert!(e.ends_with("hint: the first `defaults` block is at line 1; merge the two"), "{e}");
    let e = error("agent a {\n  limits { max_concurrent_calls = 1 }\n  limits { max_concurrent_calls = 2 }\n}");
    assert!(e.starts_with("p.mcpgw:3:12: error: `max_concurrent_calls` is set twice"), "{e}");
    assert!(e.ends_with("hint: it is first set at line 2; keep one"), "{e}");
    let e = error("defaults { deny_on_missing_agent = true deny_on_missing_agent = true }");
    assert!(e.contains("`deny_on_missing_agent` is set twice"), "{e}");
}

#[test]
fn bad_escapes_point_at_the_backslash() {
    assert_eq!(
        error("agent a {\n  allow servers \"p\\xq\"\n}"),
        "p.mcpgw:2:19: error: invalid escape `\\x`
  |
2 |   allow servers \"p\\xq\"
  |                   ^
  hint: the escapes are `\\\"`, `\\\\`, `\\/`, `\\b`, `\\f`, `\\n`, `\\r`, `\\t` and `\\uXXXX`"
    );
    assert!(error(r#"agent a { allow servers "\ud800" }"#).contains("unpaired surrogate `\\ud800`"));
    assert!(error(r#"agent a { allow servers "\u12" }"#).contains("expected four hex digits"));
    assert!(error("agent a { allow servers \"a\tb\" }").contains("control character U+0009 in a quoted name"));
}

#[test]
fn unterminated_quote() {
    assert_eq!(
        errors("agent a {\n  allow servers \"postgres\n}\n")[0],
        "p.mcpgw:2:17: error: unterminated quoted name
  |
2 |   allow servers \"postgres
  |                 ^
  hint: add the closing `\"`; a quoted name cannot span lines"
    );
}

#[test]
fn bad_agent_id() {
    assert_eq!(
        error("agent \"bad id\" {}"),
        "p.mcpgw:1:7: error: invalid agent id `bad id`
  |
1 | agent \"bad id\" {}
  |       ^
  hint: agent ids use only letters, digits, `_`, `.` and `-`; patterns may also use `*`"
    );
    assert!(error("agent \"\" {}").contains("invalid agent id ``"));
    assert!(error("agent \"é\" {}").contains("invalid agent id `é`"));
}

#[test]
fn empty_patterns_are_refused_like_in_json() {
    assert!(error("agent a { allow servers \"\" }").contains("empty server pattern"));
    assert!(error("agent a { deny tools on x: \"\" }").contains("empty tool pattern"));
}

#[test]
fn list_mistakes() {
    let e = error("agent a {\n  allow servers postgres redis\n}");
    assert!(e.starts_with("p.mcpgw:2:26: error: expected `,`, `allow`, `deny`, `limits` or `}`, found `redis`"), "{e}");
    assert!(e.ends_with("hint: separate names with `,`"), "{e}");
    let e = error("agent a {\n  allow servers postgres,\n  deny servers x\n}");
    assert!(e.starts_with("p.mcpgw:3:3: error: expected a name, found keyword `deny`"), "{e}");
    assert!(e.ends_with("hint: remove the trailing `,` before `deny`, or write `\"deny\"` to use it as a name"), "{e}");
    let e = error("agent a { allow servers deny }");
    assert!(e.ends_with("hint: `deny` is a keyword; write `\"deny\"` to use it as a name"), "{e}");
    let e = error("agent a { allow servers my server }");
    assert!(e.contains("found `server`"), "{e}");
    let e = error("agent a { allow servers é }");
    assert!(e.contains("expected a name, found `é`"), "{e}");
    assert!(e.contains("hint: write names made of other characters in double quotes"), "{e}");
    let e = error("agent a { allow servers }");
    assert!(e.contains("expected a name, found `}`"), "{e}");
}

#[test]
fn tool_rule_mistakes() {
    let e = error("agent a { allow tools postgres: q }");
    assert!(e.contains("error: expected `on`, found `postgres`"), "{e}");
    assert!(e.ends_with("hint: write `tools on SERVER: TOOL, ...`; `*` as SERVER means every server"), "{e}");
    assert!(error("agent a { allow tools on postgres q }").contains("error: expected `:`, found `q`"));
    assert!(error("agent a { allow tools on postgres: }").contains("error: expected a name, found `}`"));
}

#[test]
fn setting_mistakes() {
    let e = error("defaults { deny_on_mising_agent = true }");
    assert!(
        e.contains("unknown setting `deny_on_mising_agent` in `defaults`, expected `deny_on_missing_agent`"),
        "{e}"
    );
    assert!(e.ends_with("hint: did you mean `deny_on_missing_agent`?"), "{e}");
    let e = error("agent a { limits { request_per_second = 1 } }");
    assert!(e.contains("expected `requests_per_second` or `max_concurrent_calls`"), "{e}");
    assert!(e.ends_with("did you mean `requests_per_second`?"), "{e}");
    let e = error("defaults { deny_on_missing_agent = 1 }");
    assert!(e.contains("expected `true` or `false` for `deny_on_missing_agent`, found `1`"), "{e}");
    let e = error("agent a { limits { requests_per_second = true } }");
    assert!(e.contains("expected a whole number for `requests_per_second`, found `true`"), "{e}");
    for bad in ["0", "4294967296", "99999999999999999999999"] {
        let e = error(&format!("agent a {{ limits {{ max_concurrent_calls = {bad} }} }}"));
        assert!(
            e.contains(&format!(
                "expected a whole number from 1 to 4294967295 for `max_concurrent_calls`, found `{bad}`"
            )),
            "{e}"
        );
    }
    let e = error("agent a { limits { requests_per_second = -1 } }");
    assert!(e.contains("expected `true`, `false` or a number, found `-1`"), "{e}");
    let e = error("agent a { limits { requests_per_second 1 } }");
    assert!(e.contains("expected `=`, found `1`"), "{e}");
}

#[test]
fn stray_things_at_the_top_level() {
    let e = error("allow servers x\n");
    assert!(e.contains("expected `agent` or `defaults`, found `allow`"), "{e}");
    assert!(e.ends_with("hint: rules and limits go inside an `agent NAME { ... }` block"), "{e}");
    let e = error("agent a {}\n}\n");
    assert!(e.starts_with("p.mcpgw:2:1: error: unexpected `}`"), "{e}");
    assert!(error("agent a { }\nagent b").contains("expected `{`, found end of input"));
}

#[test]
fn every_error_in_the_file_is_reported() {
    let text = "\
defaults { deny_on_missing_agent = maybe }
agent a {
  alow servers x
  allow servers y z
  limits { requests_per_second = 0 }
  deny tools on pg drop
}
agent a {}
agent \"bad id\" {
  allow servers \"\\q\"
}
agnet c {
  allow servers ok,
}
";
    let e = errors(text);
    let heads: Vec<&str> = e.iter().map(|d| d.lines().next().unwrap()).collect();
    assert_eq!(
        heads,
        [
            "p.mcpgw:1:36: error: expected `true`, `false` or a number, found `maybe`",
            "p.mcpgw:3:3: error: expected `allow`, `deny`, `limits` or `}`, found `alow`",
            "p.mcpgw:4:19: error: expected `,`, `allow`, `deny`, `limits` or `}`, found `z`",
            "p.mcpgw:5:34: error: expected a whole number from 1 to 4294967295 for `requests_per_second`, found `0`",
            "p.mcpgw:6:20: error: expected `:`, found `drop`",
            "p.mcpgw:8:7: error: duplicate agent block `a`",
            "p.mcpgw:9:7: error: invalid agent id `bad id`",
            "p.mcpgw:10:18: error: invalid escape `\\q`",
            "p.mcpgw:12:1: error: expected `agent` or `defaults`, found `agnet`",
            "p.mcpgw:14:1: error: expected a name, found `}`",
        ]
    );
}

#[test]
fn a_broken_block_opening_still_checks_the_block() {
    let e = errors("agent x y {\n  alow servers a\n}\nagent z {}\n");
    assert_eq!(e.len(), 2, "{e:?}");
    assert!(e[0].starts_with("p.mcpgw:1:9: error: expected `{`, found `y`"));
    assert!(e[1].starts_with("p.mcpgw:2:3: error:"));
}

#[test]
fn errors_stop_after_a_cap() {
    let text = "agent a {\n".to_owned() + &"  alow x\n".repeat(500) + "}\n";
    let e = errors(&text);
    assert_eq!(e.len(), MAX_ERRORS + 1);
    assert_eq!(e[MAX_ERRORS], "p.mcpgw: error: too many errors; stopped after the first 100");
}

#[test]
fn hostile_lines_are_defused_in_messages() {
    let e = error("agent a { allow servers \u{1b}[31m }");
    assert!(!e.contains('\u{1b}'), "{e:?}");
    assert!(e.contains("found `\\u{1b}`"), "{e:?}");
}

// ----- robustness -------------------------------------------------------------------------

#[test]
fn never_panics_on_odd_inputs() {
    let long = "a".repeat(100_000);
    let inputs = [
        "{".repeat(100_000),
        "}".repeat(100_000),
        "agent a {".repeat(10_000),
        "agent a { limits {".repeat(10_000),
        "\"".repeat(10_001),
        "agent a { allow servers \"\\".to_owned(),
        "agent a { allow servers \"\\u".to_owned(),
        "agent a { allow servers \"\\ud83d\\u".to_owned(),
        "agent \u{FEFF} {}".to_owned(),
        "\u{FEFF}\u{FEFF}".to_owned(),
        "\r\r\r\n\n#".to_owned(),
        "agent é {} agent 😀 {}".to_owned(),
        format!("agent {long} {{ allow servers {long} }}"),
        "\0\u{1}\u{7f}\u{202e}".to_owned(),
        "defaults { deny_on_missing_agent = true".to_owned(),
        "agent a { allow tools on".to_owned(),
        ",,,,:::===".to_owned(),
    ];
    for input in &inputs {
        let _ = PolicySet::from_dsl_str("p.mcpgw", input);
    }
}

#[test]
fn large_files_parse_in_linear_time() {
    let names: Vec<String> = (0..100_000).map(|i| format!("tool_{i}")).collect();
    let one_line = format!("agent a {{ allow tools on pg: {} }}", names.join(", "));
    let p = parse(&one_line);
    assert_eq!(p.agents[0].allow.tools[0].tools.len(), 100_000);
    let column = one_line.rfind("tool_99999").unwrap() + 1;
    assert_eq!(p.agents[0].allow.tools[0].tools[99_999].source.span.column as usize, column);
    let many_blocks: String = (0..20_000).map(|i| format!("agent a{i} {{\n  allow servers s{i}\n}}\n")).collect();
    assert_eq!(parse(&many_blocks).agents.len(), 20_000);
}

// ----- printing ---------------------------------------------------------------------------

#[test]
fn prints_canonical_text() {
    assert_eq!(
        to_dsl_string(&parse(EXAMPLE)),
        "defaults {
  deny_on_missing_agent = true
}

agent backend {
  allow servers postgres, redis
  allow tools on postgres: query, list_*
  deny tools on postgres: drop_*, truncate_*
  limits {
    requests_per_second = 10
    max_concurrent_calls = 4
  }
}

agent backend.* {
  deny servers prod_db
}
"
    );
}

#[test]
fn printing_orders_statements_and_merges_tool_rules() {
    let text = "agent a { limits { max_concurrent_calls = 1 } deny servers d allow tools on x: 1 allow servers s allow tools on y: 2 allow tools on x: 3 }\nagent e {}\ndefaults { deny_on_missing_agent = false }";
    assert_eq!(
        to_dsl_string(&parse(text)),
        "defaults {
  deny_on_missing_agent = false
}

agent a {
  allow servers s
  allow tools on x: 1, 3
  allow tools on y: 2
  deny servers d
  limits {
    max_concurrent_calls = 1
  }
}

agent e {}
"
    );
}

#[test]
fn printing_quotes_only_what_needs_it() {
    let p =
        parse(r#"agent a { allow servers "plain", "my server", "deny", "é", "tab	x" }"#.replace('\t', "\\t").as_str());
    assert!(to_dsl_string(&p).contains(r#"allow servers plain, "my server", "deny", "\u00e9", "tab\tx""#));
}

#[test]
fn long_statements_wrap_one_name_per_line() {
    let names: Vec<String> = (0..12).map(|i| format!("some_long_tool_name_{i}")).collect();
    let text = format!("agent a {{ allow tools on pg: {} }}", names.join(", "));
    let printed = to_dsl_string(&parse(&text));
    let expected_body: String =
        names.iter().enumerate().map(|(i, n)| format!("    {n}{}\n", if i < 11 { "," } else { "" })).collect();
    assert!(printed.contains(&format!("  allow tools on pg:\n{expected_body}}}\n")), "{printed}");
    assert!(printed.lines().all(|l| l.chars().count() <= super::print::MAX_WIDTH));
    assert_eq!(to_dsl_string(&parse(&printed)), printed);
}

#[test]
fn printing_is_a_fixed_point() {
    for text in [EXAMPLE, "", "agent * { allow tools on *: * }", "agent a { deny tools on \"a b\": \"\\\"\" }"] {
        let Ok(p) = PolicySet::from_dsl_str("p.mcpgw", text) else { continue };
        let once = to_dsl_string(&p);
        let twice = to_dsl_string(&parse(&once));
        assert_eq!(once, twice);
    }
}

// ----- formatting with comments -----------------------------------------------------------

fn format(text: &str) -> String {
    let once = super::format_dsl_str("p.mcpgw", text).unwrap_or_else(|e| panic!("{e}"));
    let twice = super::format_dsl_str("p.mcpgw", &once).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(once, twice, "formatting is not a fixed point");
    assert_eq!(to_dsl_string(&parse(&once)), to_dsl_string(&parse(text)), "formatting changed the policy");
    once
}

#[test]
fn formatting_keeps_comments_where_they_were() {
    let text = "\
# Policy for the data team.
# Reviewed by security.

agent backend { # the API servers
  # reads only
  allow tools on postgres: query,   # plain SQL
     list_*
  limits { requests_per_second = 5 } # agreed with ops
  allow servers postgres  # primary
  # nothing else
}   # end of backend
defaults {
  # fail closed
  deny_on_missing_agent = true
}
agent idle {}  # placeholder
# trailing words
";
    assert_eq!(
        format(text),
        "\
# Policy for the data team.
# Reviewed by security.

defaults {
  # fail closed
  deny_on_missing_agent = true
}

agent backend {  # the API servers
  allow servers postgres  # primary
  # reads only
  # plain SQL
  allow tools on postgres: query, list_*
  limits {
    requests_per_second = 5
  }  # agreed with ops
  # nothing else
}  # end of backend

agent idle {}  # placeholder

# trailing words
"
    );
}

#[test]
fn formatting_merges_the_comments_of_merged_statements() {
    let text = "agent a {\n  allow tools on pg: q1  # first\n  allow tools on pg: q2  # second\n}\n";
    assert_eq!(
        format(text),
        "defaults {\n  deny_on_missing_agent = true\n}\n\nagent a {\n  # first\n  allow tools on pg: q1, q2  # second\n}\n"
    );
}

#[test]
fn formatting_keeps_comments_of_empty_blocks_and_files() {
    assert_eq!(format("# only a comment\n"), "# only a comment\n\ndefaults {\n  deny_on_missing_agent = true\n}\n");
    assert_eq!(
        format("agent a {\n  limits {\n    # none yet\n  }\n}\n"),
        "defaults {\n  deny_on_missing_agent = true\n}\n\nagent a {\n  # none yet\n}\n"
    );
    assert_eq!(
        format("agent a { # todo\n}\n"),
        "defaults {\n  deny_on_missing_agent = true\n}\n\nagent a {  # todo\n}\n"
    );
    assert_eq!(
        format("# about a\nagent a {}\n"),
        "defaults {\n  deny_on_missing_agent = true\n}\n\n# about a\nagent a {}\n"
    );
}

#[test]
fn formatting_reports_errors_instead() {
    let e = super::format_dsl_str("p.mcpgw", "agent a { alow }").unwrap_err();
    assert!(e.to_string().contains("did you mean `allow`?"));
}

#[test]
fn formatting_without_comments_is_printing() {
    let p = parse(EXAMPLE.trim_start_matches("# who may reach what\n"));
    assert_eq!(format(EXAMPLE.trim_start_matches("# who may reach what\n")), to_dsl_string(&p));
}

#[test]
fn resource_and_prompt_rules_lower_like_json() {
    let dsl = PolicySet::from_dsl_str(
        "p.mcpgw",
        "agent docs {\n  allow servers files\n  allow resources on files: \"file:///srv/docs/*\"\n  allow prompts on *: review_*\n  deny resources on *: \"*secret*\"\n}\n",
    )
    .unwrap();
    let json = PolicySet::from_json_str(
        "r.json",
        r#"{"agents": {"docs": {"allow": {"servers": ["files"], "resources": {"files": ["file:///srv/docs/*"]},
                                 "prompts": {"*": ["review_*"]}},
                       "deny":  {"resources": {"*": ["*secret*"]}}}}}"#,
    )
    .unwrap();
    assert_eq!(crate::policy::json::print::to_json_string(&dsl), crate::policy::json::print::to_json_string(&json));
    let r = &dsl.agents[0].allow.resources[0].tools[0];
    assert_eq!((r.text.as_str(), r.source.span.line, r.source.span.column), ("file:///srv/docs/*", 3, 29));
    let text = crate::policy::to_dsl_string(&json);
    assert!(
        text.contains("  allow resources on files: \"file:///srv/docs/*\"\n  allow prompts on *: review_*\n"),
        "{text}"
    );
    assert!(text.contains("  deny resources on *: *secret*\n"), "{text}");
    let e = error("agent a { allow resources files: x }");
    assert!(e.contains("error: expected `on`, found `files`"), "{e}");
}
