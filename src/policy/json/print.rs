//! The canonical JSON form of a policy, for `mcpgw fmt --to json`.
//!
//! The output has the shape of `.mcp-gateway-rules.json` (DESIGN.md section 3) and the layout
//! of `serde_json`'s pretty printer (two-space indent, one array element per line), but keeps
//! the policy's order, which a `serde_json::Map` would sort. It is written by hand so that no
//! error path exists: printing cannot fail.

use crate::policy::ast::{AgentPolicy, ItemKind, Pattern, PolicySet, RuleBlock};

/// Prints a policy as canonical, pretty JSON ending in a newline.
///
/// - `agents` keeps the policy's order; an agent with no rules prints as `{}`.
/// - `allow` and `deny` are left out when they hold no rule, and so are their empty
///   `servers`, `tools`, `resources` and `prompts` (printed in that order).
/// - `tools` is an object keyed by server pattern: every [`ToolRules`](crate::policy::ToolRules)
///   of a block with the same server pattern is merged into one array, at the place of the first.
/// - `limits` appears only when a limit is set; `defaults` always appears.
///
/// ```
/// use mcpgw::policy::PolicySet;
/// use mcpgw::policy::json::print::to_json_string;
///
/// let policy = PolicySet::from_dsl_str("p.mcpgw", "agent backend { allow servers postgres }").unwrap();
/// assert_eq!(
///     to_json_string(&policy),
///     r#"{
///   "agents": {
///     "backend": {
///       "allow": {
///         "servers": [
///           "postgres"
///         ]
///       }
///     }
///   },
///   "defaults": {
///     "deny_on_missing_agent": true
///   }
/// }
/// "#
/// );
/// ```
pub fn to_json_string(policy: &PolicySet) -> String {
    let mut out = String::from("{\n");
    if policy.agents.is_empty() {
        out.push_str("  \"agents\": {},\n");
    } else {
        out.push_str("  \"agents\": {\n");
        for (i, agent) in policy.agents.iter().enumerate() {
            write_agent(&mut out, agent);
            out.push_str(if i + 1 < policy.agents.len() { ",\n" } else { "\n" });
        }
        out.push_str("  },\n");
    }
    out.push_str("  \"defaults\": {\n    \"deny_on_missing_agent\": ");
    out.push_str(if policy.defaults.deny_on_missing_agent { "true" } else { "false" });
    out.push_str("\n  }\n}\n");
    out
}

fn write_agent(out: &mut String, agent: &AgentPolicy) {
    let mut members: Vec<String> = Vec::new();
    for (name, block) in [("allow", &agent.allow), ("deny", &agent.deny)] {
        if let Some(body) = block_members(block) {
            members.push(format!("      \"{name}\": {{\n{body}\n      }}"));
        }
    }
    let limits = [
        ("requests_per_second", agent.limits.requests_per_second),
        ("max_concurrent_calls", agent.limits.max_concurrent_calls),
    ];
    let set: Vec<String> =
        limits.iter().filter_map(|(name, v)| v.map(|v| format!("        \"{name}\": {v}"))).collect();
    if !set.is_empty() {
        members.push(format!("      \"limits\": {{\n{}\n      }}", set.join(",\n")));
    }
    out.push_str("    ");
    write_string(out, &agent.key.text);
    if members.is_empty() {
        out.push_str(": {}");
    } else {
        out.push_str(": {\n");
        out.push_str(&members.join(",\n"));
        out.push_str("\n    }");
    }
}

/// The members of an `allow` or `deny` object, or `None` when it would be empty.
fn block_members(block: &RuleBlock) -> Option<String> {
    let mut members = Vec::new();
    if !block.servers.is_empty() {
        members.push(format!("        \"servers\": {}", array(block.servers.iter(), 8)));
    }
    for kind in ItemKind::ALL {
        let groups = block.items_by_server(kind);
        if groups.is_empty() {
            continue;
        }
        let entries: Vec<String> = groups
            .iter()
            .map(|(server, items)| {
                let mut key = String::from("          ");
                write_string(&mut key, &server.text);
                format!("{key}: {}", array(items.iter().copied(), 10))
            })
            .collect();
        members.push(format!("        \"{}\": {{\n{}\n        }}", kind.plural(), entries.join(",\n")));
    }
    (!members.is_empty()).then(|| members.join(",\n"))
}

/// A non-empty array of pattern strings, one per line, closed at `indent`.
fn array<'p>(items: impl Iterator<Item = &'p Pattern>, indent: usize) -> String {
    let pad = " ".repeat(indent + 2);
    let lines: Vec<String> = items
        .map(|p| {
            let mut line = pad.clone();
            write_string(&mut line, &p.text);
            line
        })
        .collect();
    format!("[\n{}\n{}]", lines.join(",\n"), " ".repeat(indent))
}

/// Writes a JSON string literal exactly as `serde_json` does: `"` and `\` escaped, the short
/// escapes for common control characters, `\u00XX` for the other ones, everything else as is.
fn write_string(out: &mut String, s: &str) {
    write_escaped(out, s, false);
}

/// Writes `s` as a JSON string literal. With `ascii_only`, every character outside printable
/// ASCII is written as `\uXXXX` (UTF-16 units), as the DSL printer wants for reviewable diffs.
pub(crate) fn write_escaped(out: &mut String, s: &str, ascii_only: bool) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            ' '..='~' => out.push(c),
            c if u32::from(c) < 0x20 || ascii_only => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::policy::ast::{AgentLimits, RuleSource, ToolRules};

    fn pat(text: &str) -> Pattern {
        Pattern { text: text.to_owned(), source: RuleSource::default() }
    }

    fn agent(key: &str) -> AgentPolicy {
        AgentPolicy {
            key: pat(key),
            allow: RuleBlock::default(),
            deny: RuleBlock::default(),
            limits: AgentLimits::default(),
        }
    }

    #[test]
    fn prints_the_design_example_in_its_shape() {
        let mut backend = agent("backend");
        backend.allow.servers.push(pat("postgres"));
        backend.allow.tools.push(ToolRules { server: pat("postgres"), tools: vec![pat("query"), pat("list_*")] });
        backend.deny.tools.push(ToolRules { server: pat("postgres"), tools: vec![pat("drop_*")] });
        backend.deny.tools.push(ToolRules { server: pat("*"), tools: vec![] });
        backend.deny.tools.push(ToolRules { server: pat("postgres"), tools: vec![pat("truncate_*")] });
        backend.limits.max_concurrent_calls = Some(4);
        let mut policy = PolicySet::empty("p");
        policy.agents.push(backend);
        policy.agents.push(agent("idle"));
        policy.defaults.deny_on_missing_agent = false;
        let expected = r#"{
  "agents": {
    "backend": {
      "allow": {
        "servers": [
          "postgres"
        ],
        "tools": {
          "postgres": [
            "query",
            "list_*"
          ]
        }
      },
      "deny": {
        "tools": {
          "postgres": [
            "drop_*",
            "truncate_*"
          ]
        }
      },
      "limits": {
        "max_concurrent_calls": 4
      }
    },
    "idle": {}
  },
  "defaults": {
    "deny_on_missing_agent": false
  }
}
"#;
        assert_eq!(to_json_string(&policy), expected);
    }

    #[test]
    fn empty_policy_prints_defaults() {
        assert_eq!(
            to_json_string(&PolicySet::empty("p")),
            "{\n  \"agents\": {},\n  \"defaults\": {\n    \"deny_on_missing_agent\": true\n  }\n}\n"
        );
    }

    #[test]
    fn output_is_what_serde_json_pretty_prints() {
        let mut a = agent("a\"\\\u{1}\u{7f}é😀\n");
        a.allow.servers.push(pat(""));
        a.allow.tools.push(ToolRules { server: pat("\t"), tools: vec![pat("\u{1f}\u{8}\u{c}\r")] });
        a.limits = AgentLimits { requests_per_second: Some(u32::MAX), max_concurrent_calls: None };
        let mut policy = PolicySet::empty("p");
        policy.agents.push(a);
        let printed = to_json_string(&policy);
        let value: serde_json::Value = serde_json::from_str(&printed).unwrap();
        // Every object here has its keys in sorted order already, so serde's layout must match.
        let mut reprinted = serde_json::to_string_pretty(&value).unwrap();
        reprinted.push('\n');
        assert_eq!(printed, reprinted);
    }
}
