//! Writing a policy as DSL text the way people write it, not canonically, for the
//! `dsl_json_dsl_preserves_decisions` property: statements split and shuffled, tool rules for
//! one server spread over several statements, names bare or quoted, comments and every
//! line-break style between the tokens.

use crate::policy::ast::{AgentLimits, Effect, ItemKind, Pattern, PolicySet};
use crate::policy::testkit::choices::Choices;

/// Separators between tokens: layout, comments (that contain punctuation and quotes), and
/// every line-break style.
const SEPARATORS: [&str; 9] = [
    " ",
    " ",
    "\n",
    "  ",
    "\t",
    "\r\n",
    "\r",
    " # a comment, with \"quotes\" and {braces}\n",
    "\n# allow servers x\n\n",
];

const RESERVED: [&str; 5] = ["agent", "defaults", "allow", "deny", "limits"];

/// A name as the DSL reads it: bare when it can be, otherwise (or when `quote`) in quotes
/// with JSON escapes for `"`, `\` and control characters.
fn dsl_name(text: &str, quote: bool) -> String {
    let bare_ok = !text.is_empty()
        && text.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '*' | '-'))
        && !RESERVED.contains(&text);
    if bare_ok && !quote {
        return text.to_owned();
    }
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// One statement of an agent block, before layout.
enum Statement<'p> {
    Servers(Effect, Vec<&'p Pattern>),
    Items(Effect, ItemKind, &'p Pattern, Vec<&'p Pattern>),
    Limits(AgentLimits),
}

/// Writes `policy` as DSL text with layout chosen by `seed`: the `defaults` block first, last
/// or (when it says the default) left out; statements split into pieces and shuffled within
/// each block; names bare or quoted; separators and comments between tokens.
pub fn write_dsl(policy: &PolicySet, seed: u32) -> String {
    let mut rng = Choices::seeded(u64::from(seed));
    let mut out = String::new();
    let sep = |rng: &mut Choices<'_>| SEPARATORS.get(rng.below(SEPARATORS.len())).copied().unwrap_or(" ");
    let defaults = |rng: &mut Choices<'_>| {
        format!(
            "defaults{}{{{}deny_on_missing_agent{}={}{}{}}}{}",
            sep(rng),
            sep(rng),
            sep(rng),
            sep(rng),
            policy.defaults.deny_on_missing_agent,
            sep(rng),
            sep(rng)
        )
    };
    let placement = rng.below(3);
    if placement == 0 || (placement == 2 && !policy.defaults.deny_on_missing_agent) {
        out.push_str(&defaults(&mut rng));
    }
    for agent in &policy.agents {
        let mut statements: Vec<Statement<'_>> = Vec::new();
        for (effect, block) in [(Effect::Allow, &agent.allow), (Effect::Deny, &agent.deny)] {
            for chunk in chunks(&mut rng, block.servers.iter().collect()) {
                statements.push(Statement::Servers(effect, chunk));
            }
            for kind in ItemKind::ALL {
                for rules in block.items(kind) {
                    for chunk in chunks(&mut rng, rules.tools.iter().collect()) {
                        statements.push(Statement::Items(effect, kind, &rules.server, chunk));
                    }
                }
            }
        }
        if !agent.limits.is_unlimited() {
            statements.push(Statement::Limits(agent.limits));
        }
        // Shuffle: statements of a block may come in any order.
        for i in (1..statements.len()).rev() {
            statements.swap(i, rng.below(i + 1));
        }
        out.push_str(&format!(
            "agent{}{}{}{{",
            sep(&mut rng),
            dsl_name(&agent.key.text, rng.below(4) == 0),
            sep(&mut rng)
        ));
        for s in &statements {
            out.push_str(sep(&mut rng));
            match s {
                Statement::Servers(effect, names) => {
                    out.push_str(&format!("{}{}servers{}", effect.as_str(), sep(&mut rng), sep(&mut rng)));
                    write_list(&mut out, &mut rng, names);
                }
                Statement::Items(effect, kind, server, names) => {
                    out.push_str(&format!(
                        "{}{}{}{}on{}{}{}:{}",
                        effect.as_str(),
                        sep(&mut rng),
                        kind.plural(),
                        sep(&mut rng),
                        sep(&mut rng),
                        dsl_name(&server.text, rng.below(4) == 0),
                        sep(&mut rng),
                        sep(&mut rng)
                    ));
                    write_list(&mut out, &mut rng, names);
                }
                Statement::Limits(limits) => {
                    out.push_str(&format!("limits{}{{", sep(&mut rng)));
                    for (name, value) in [
                        ("requests_per_second", limits.requests_per_second),
                        ("max_concurrent_calls", limits.max_concurrent_calls),
                    ] {
                        if let Some(v) = value {
                            out.push_str(&format!("{}{name}{}={}{v}", sep(&mut rng), sep(&mut rng), sep(&mut rng)));
                        }
                    }
                    out.push_str(&format!("{}}}", sep(&mut rng)));
                }
            }
        }
        out.push_str(sep(&mut rng));
        out.push('}');
        out.push_str(sep(&mut rng));
    }
    if placement == 1 {
        out.push_str(&defaults(&mut rng));
    }
    out
}

/// Splits a list into one to three consecutive non-empty pieces.
fn chunks<'p>(rng: &mut Choices<'_>, items: Vec<&'p Pattern>) -> Vec<Vec<&'p Pattern>> {
    let mut out: Vec<Vec<&'p Pattern>> = Vec::new();
    let pieces = 1 + rng.below(3);
    for item in items {
        let join = out.len() >= pieces || rng.below(2) == 0;
        match out.last_mut() {
            Some(last) if join => last.push(item),
            _ => out.push(vec![item]),
        }
    }
    out
}

fn write_list(out: &mut String, rng: &mut Choices<'_>, names: &[&Pattern]) {
    for (i, p) in names.iter().enumerate() {
        if i > 0 {
            let before =
                if rng.below(3) == 0 { SEPARATORS.get(rng.below(SEPARATORS.len())).copied().unwrap_or("") } else { "" };
            out.push_str(before);
            out.push(',');
            out.push_str(SEPARATORS.get(rng.below(SEPARATORS.len())).copied().unwrap_or(" "));
        }
        out.push_str(&dsl_name(&p.text, rng.below(4) == 0));
    }
}
