//! mcpgw's policy in Cedar.
//!
//! The request `(agent, server, tool)` becomes principal `Agent::"<agent>"`, action
//! `Action::"call"` and resource `Tool::"<server>/<tool>"`, an entity with the attributes
//! `server` and `tool`. An exact pattern becomes `==`, a glob becomes `like` (Cedar's `*` is
//! ours: any run of characters, including none), and a rule with an exact server and an exact
//! tool puts the resource in the policy's scope (`resource == Tool::"postgres/query_user"`).
//! Deny rules are `forbid`, allow rules `permit`: Cedar's "any forbid overrides every permit"
//! is mcpgw's "deny before allow", and Cedar's default deny is mcpgw's.
//!
//! mcpgw's implicit grant ("a server allow grants all its tools unless the agent has allow-tool
//! rules keyed by a pattern matching that server") is encoded faithfully, with no restriction
//! on the policy: an allow-server rule `S` becomes
//! `permit ... when { server matches S && !(server matches any allow-tool key K) }`, and an
//! allow-tool rule `(K, T)` also needs its server allowed:
//! `permit ... when { server matches K && tool matches T && server matches some S }`.
//! Together that is exactly DESIGN.md section 4 for tool requests (see `judge` in
//! `src/policy/decide.rs`).
//!
//! Two encodings of the same thing:
//! - [`Encoding::PerRule`]: one Cedar policy per mcpgw rule (a literal translation; 50 rules
//!   give 50 policies).
//! - [`Encoding::PerAgent`]: one `permit` and at most one `forbid` per agent block, each a
//!   disjunction over the block's rules (fewer, bigger policies).

use mcpgw::policy::{AgentPolicy, PolicySet};

/// How mcpgw's rules are grouped into Cedar policies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// One Cedar policy per rule.
    PerRule,
    /// One permit and at most one forbid per agent block.
    PerAgent,
}

/// A Cedar string literal.
fn lit(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\0' => out.push_str("\\0"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `resource.<attr>` against an mcpgw pattern: `==` for an exact name, `like` for a glob.
fn test(attr: &str, pattern: &str) -> String {
    if pattern.contains('*') {
        // Every `*` of ours is a wildcard, and so is Cedar's unescaped `*`; `lit` escapes the
        // rest. (A literal `*` cannot be written in an mcpgw pattern.)
        format!("resource.{attr} like {}", lit(pattern))
    } else {
        format!("resource.{attr} == {}", lit(pattern))
    }
}

fn any(conds: &[String]) -> String {
    match conds.len() {
        0 => "false".to_owned(),
        1 => conds[0].clone(),
        _ => format!("({})", conds.join(" || ")),
    }
}

/// The resource id of a (server, tool) pair.
pub fn resource_id(server: &str, tool: &str) -> String {
    format!("{server}/{tool}")
}

/// Checks that the policy only uses what the translation (and the comparison) covers: exact
/// and unique agent keys, exact or prefix tool patterns, exact or `*` server patterns, and no
/// `/` in names (the resource id joins server and tool with it).
pub fn check_shape(policy: &PolicySet) {
    let mut keys = std::collections::HashSet::new();
    for a in &policy.agents {
        assert!(!a.key.text.contains('*'), "agent key {} is a pattern", a.key.text);
        assert!(keys.insert(&a.key.text), "agent key {} twice", a.key.text);
        for side in [&a.allow, &a.deny] {
            for s in &side.servers {
                assert!(s.text == "*" || !s.text.contains('*'), "server pattern {}", s.text);
            }
            for g in &side.tools {
                assert!(g.server.text == "*" || !g.server.text.contains('*'), "server pattern {}", g.server.text);
                assert!(!g.server.text.contains('/'));
                for t in &g.tools {
                    let stars = t.text.matches('*').count();
                    assert!(stars == 0 || (stars == 1 && t.text.ends_with('*') && t.text.len() > 1), "tool {}", t.text);
                    assert!(!t.text.contains('/'));
                }
            }
        }
    }
}

/// The Cedar policies of one agent block, as Cedar source text.
pub fn agent_policies(a: &AgentPolicy, enc: Encoding) -> String {
    let principal = format!("principal == Agent::{}", lit(&a.key.text));
    let head = |effect: &str, resource: &str| format!("{effect}({principal}, action == Action::\"call\", {resource})");
    let allow_servers: Vec<String> = a.allow.servers.iter().map(|s| test("server", &s.text)).collect();
    let mut keys: Vec<&str> = a.allow.tools.iter().map(|g| g.server.text.as_str()).collect();
    keys.sort_unstable();
    keys.dedup();
    let allow_keys: Vec<String> = keys.iter().map(|k| test("server", k)).collect();
    let server_allowed = any(&allow_servers);
    let mut out = String::new();
    match enc {
        Encoding::PerRule => {
            for s in &allow_servers {
                let cond = if allow_keys.is_empty() { s.clone() } else { format!("{s} && !({})", any(&allow_keys)) };
                out += &format!("{} when {{ {cond} }};\n", head("permit", "resource"));
            }
            // A rule with an exact server and an exact tool scopes the resource; any other
            // tests the attributes. `extra` is what else must hold (the server being allowed).
            let tool_rule = |effect: &str, server: &str, tool: &str, extra: Option<&str>| {
                let (resource, mut conds) = if !server.contains('*') && !tool.contains('*') {
                    (format!("resource == Tool::{}", lit(&resource_id(server, tool))), Vec::new())
                } else {
                    ("resource".to_owned(), vec![test("server", server), test("tool", tool)])
                };
                conds.extend(extra.map(str::to_owned));
                match conds.is_empty() {
                    true => format!("{};\n", head(effect, &resource)),
                    false => format!("{} when {{ {} }};\n", head(effect, &resource), conds.join(" && ")),
                }
            };
            for g in &a.allow.tools {
                for t in &g.tools {
                    out += &tool_rule("permit", &g.server.text, &t.text, Some(&server_allowed));
                }
            }
            for s in &a.deny.servers {
                out += &format!("{} when {{ {} }};\n", head("forbid", "resource"), test("server", &s.text));
            }
            for g in &a.deny.tools {
                for t in &g.tools {
                    out += &tool_rule("forbid", &g.server.text, &t.text, None);
                }
            }
        }
        Encoding::PerAgent => {
            let group = |g: &mcpgw::policy::ToolRules| {
                let tools: Vec<String> = g.tools.iter().map(|t| test("tool", &t.text)).collect();
                format!("({} && {})", test("server", &g.server.text), any(&tools))
            };
            if !allow_servers.is_empty() {
                let cond = if allow_keys.is_empty() {
                    server_allowed
                } else {
                    let tool_hits: Vec<String> = a.allow.tools.iter().map(group).collect();
                    format!("{server_allowed} && (!({}) || {})", any(&allow_keys), any(&tool_hits))
                };
                out += &format!("{} when {{ {cond} }};\n", head("permit", "resource"));
            }
            let denies: Vec<String> =
                a.deny.servers.iter().map(|s| test("server", &s.text)).chain(a.deny.tools.iter().map(group)).collect();
            if !denies.is_empty() {
                out += &format!("{} when {{ {} }};\n", head("forbid", "resource"), any(&denies));
            }
        }
    }
    out
}
