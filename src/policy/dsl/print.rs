//! The canonical `.mcpgw` text of a policy.
//!
//! One policy has exactly one canonical text, so `mcpgw fmt --check` can compare a file with
//! it and a review diff shows only real changes. The layout:
//!
//! - the `defaults` block first, always, so the fallback for unknown agents is never implicit;
//! - then the agent blocks in policy order, separated by blank lines;
//! - inside a block: `allow servers`, `allow tools on ...` (one line per server pattern, in
//!   order of first appearance), `allow resources on ...`, `allow prompts on ...`, then the
//!   same for `deny`, then `limits`;
//! - two-space indentation; a statement longer than [`MAX_WIDTH`] characters puts each name
//!   on a line of its own;
//! - names bare when the reader accepts them bare, quoted otherwise (see [`super::names`]).

use super::comments::{Comments, Slot, write_leading, write_trailing};
use super::names::{name, write_name};
use crate::policy::ast::{AgentPolicy, Effect, ItemKind, PolicySet, RuleBlock};

/// Statements longer than this many characters are broken into one name per line.
pub(crate) const MAX_WIDTH: usize = 100;

/// Prints a policy as canonical `.mcpgw` text, ending in a newline.
///
/// Parsing the output gives back the same policy (up to source locations, and with the tool
/// rules of a block merged by server pattern, as the parser merges them), and printing that
/// again gives the same text. Comments are not part of the policy, so they are not printed.
///
/// ```
/// use mcpgw::policy::PolicySet;
/// use mcpgw::policy::dsl::to_dsl_string;
///
/// let json = r#"{"agents": {"backend": {"allow": {"servers": ["postgres"],
///                "tools": {"postgres": ["query", "list_*"]}}}}}"#;
/// let policy = PolicySet::from_json_str("rules.json", json).unwrap();
/// assert_eq!(
///     to_dsl_string(&policy),
///     "defaults {
///   deny_on_missing_agent = true
/// }
///
/// agent backend {
///   allow servers postgres
///   allow tools on postgres: query, list_*
/// }
/// "
/// );
/// ```
pub fn to_dsl_string(policy: &PolicySet) -> String {
    render(policy, &Comments::default())
}

/// Prints a policy in canonical form with the comments of its source placed around the lines
/// they were attached to (see [`super::comments`]).
pub(crate) fn render(policy: &PolicySet, comments: &Comments) -> String {
    let mut out = String::new();
    if let Some(header) = comments.get(&Slot::Header) {
        write_leading(&mut out, "", Some(header));
        out.push('\n');
    }
    write_leading(&mut out, "", comments.get(&Slot::Defaults));
    out.push_str("defaults {");
    write_trailing(&mut out, comments.get(&Slot::Defaults));
    out.push('\n');
    write_leading(&mut out, "  ", comments.get(&Slot::DefaultsSetting));
    out.push_str("  deny_on_missing_agent = ");
    out.push_str(if policy.defaults.deny_on_missing_agent { "true" } else { "false" });
    write_trailing(&mut out, comments.get(&Slot::DefaultsSetting));
    out.push('\n');
    write_leading(&mut out, "  ", comments.get(&Slot::DefaultsEnd));
    out.push('}');
    write_trailing(&mut out, comments.get(&Slot::DefaultsEnd));
    out.push('\n');
    for (i, agent) in policy.agents.iter().enumerate() {
        out.push('\n');
        write_agent(&mut out, i, agent, comments);
    }
    if let Some(end) = comments.get(&Slot::End) {
        out.push('\n');
        write_leading(&mut out, "", Some(end));
    }
    out
}

fn write_agent(out: &mut String, i: usize, agent: &AgentPolicy, comments: &Comments) {
    let head = comments.get(&Slot::Agent(i));
    let end = comments.get(&Slot::AgentEnd(i));
    write_leading(out, "", head);
    out.push_str("agent ");
    write_name(out, &agent.key.text);
    let mut body = String::new();
    write_block(&mut body, i, Effect::Allow, &agent.allow, comments);
    write_block(&mut body, i, Effect::Deny, &agent.deny, comments);
    let limits = [
        ("requests_per_second", agent.limits.requests_per_second),
        ("max_concurrent_calls", agent.limits.max_concurrent_calls),
    ];
    if limits.iter().any(|(_, v)| v.is_some()) {
        write_leading(&mut body, "  ", comments.get(&Slot::Limits(i)));
        body.push_str("  limits {");
        write_trailing(&mut body, comments.get(&Slot::Limits(i)));
        body.push('\n');
        for (setting, value) in limits {
            if let Some(v) = value {
                let slot = comments.get(&Slot::Limit(i, setting));
                write_leading(&mut body, "    ", slot);
                body.push_str(&format!("    {setting} = {v}"));
                write_trailing(&mut body, slot);
                body.push('\n');
            }
        }
        write_leading(&mut body, "    ", comments.get(&Slot::LimitsEnd(i)));
        body.push_str("  }");
        write_trailing(&mut body, comments.get(&Slot::LimitsEnd(i)));
        body.push('\n');
    } else {
        // An empty `limits {}` is not printed; its comments go above the closing `}`.
        for slot in [Slot::Limits(i), Slot::LimitsEnd(i)] {
            write_leading(&mut body, "  ", comments.get(&slot));
            if let Some(last) = comments.get(&slot).and_then(|a| a.trailing.last()) {
                body.push_str("  #");
                body.push_str(last);
                body.push('\n');
            }
        }
    }
    let compact = body.is_empty()
        && head.is_none_or(|a| a.trailing.is_empty())
        && end.is_none_or(|a| a.leading.is_empty() && a.trailing.len() <= 1);
    if compact {
        out.push_str(" {}");
        write_trailing(out, end);
        out.push('\n');
        return;
    }
    out.push_str(" {");
    write_trailing(out, head);
    out.push('\n');
    out.push_str(&body);
    write_leading(out, "  ", end);
    out.push('}');
    write_trailing(out, end);
    out.push('\n');
}

fn write_block(out: &mut String, i: usize, effect: Effect, block: &RuleBlock, comments: &Comments) {
    let word = effect.as_str();
    if !block.servers.is_empty() {
        let names: Vec<String> = block.servers.iter().map(|p| name(&p.text)).collect();
        let slot = comments.get(&Slot::Rule(i, effect, None));
        write_leading(out, "  ", slot);
        write_statement(out, &format!("{word} servers"), &names);
        write_trailing(out, slot);
        out.push('\n');
    }
    for kind in ItemKind::ALL {
        for (server, items) in block.items_by_server(kind) {
            let names: Vec<String> = items.iter().map(|p| name(&p.text)).collect();
            let slot = comments.get(&Slot::Rule(i, effect, Some((kind, server.text.clone()))));
            write_leading(out, "  ", slot);
            write_statement(out, &format!("{word} {} on {}:", kind.plural(), name(&server.text)), &names);
            write_trailing(out, slot);
            out.push('\n');
        }
    }
}

/// `  HEAD a, b, c` on one line, or, when that is too wide, `HEAD` then one name per line;
/// without the final newline, so a trailing comment can follow.
fn write_statement(out: &mut String, head: &str, names: &[String]) {
    let one_line = format!("  {head} {}", names.join(", "));
    if one_line.chars().count() <= MAX_WIDTH || names.len() < 2 {
        out.push_str(&one_line);
        return;
    }
    out.push_str("  ");
    out.push_str(head);
    for (i, n) in names.iter().enumerate() {
        out.push_str("\n    ");
        out.push_str(n);
        if i + 1 < names.len() {
            out.push(',');
        }
    }
}
