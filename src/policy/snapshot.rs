//! Snapshot ids: a content hash of the normalized policy.
//!
//! Normalized means reduced to what decisions depend on: the set of (agent key, effect, server
//! pattern, tool pattern) rules, the agent keys (an agent with no rules is known, not
//! unknown), limits, defaults and the default agent. Rule order, duplicates, formatting and
//! syntax (JSON or DSL) do not change the id, so the same id always means the same decisions.

use sha2::{Digest, Sha256};

use crate::policy::ast::{ItemKind, PolicySet};

/// The id of a policy: `sha256:` and the first 16 hex digits of the hash.
pub(crate) fn snapshot_id(policy: &PolicySet, default_agent: Option<&str>) -> String {
    let mut items: Vec<Vec<u8>> = Vec::new();
    for rule in policy.rules() {
        let effect = rule.effect.as_str();
        match rule.item {
            None => items.push(record(&["rule", &rule.agent.text, effect, &rule.server.text, "\u{0}server"])),
            // Tool rules hash as they did before other kinds existed, so ids stay stable.
            Some((ItemKind::Tool, t)) => {
                items.push(record(&["rule", &rule.agent.text, effect, &rule.server.text, &t.text]))
            }
            Some((kind, p)) => {
                items.push(record(&[kind.plural(), &rule.agent.text, effect, &rule.server.text, &p.text]));
            }
        }
    }
    for agent in &policy.agents {
        items.push(record(&["agent", &agent.key.text]));
        let limits = agent.limits;
        if let Some(n) = limits.requests_per_second {
            items.push(record(&["rps", &agent.key.text, &n.to_string()]));
        }
        if let Some(n) = limits.max_concurrent_calls {
            items.push(record(&["concurrent", &agent.key.text, &n.to_string()]));
        }
    }
    items.sort_unstable();
    items.dedup();
    let mut hasher = Sha256::new();
    hasher.update(record(&["defaults", if policy.defaults.deny_on_missing_agent { "deny" } else { "fallback" }]));
    hasher.update(record(&["default_agent", default_agent.unwrap_or("\u{0}none")]));
    for item in &items {
        hasher.update(item);
    }
    let digest = hasher.finalize();
    let hex: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

/// Length-prefixed fields, so no choice of names can make two records collide.
fn record(fields: &[&str]) -> Vec<u8> {
    let mut out = Vec::new();
    for f in fields {
        out.extend_from_slice(&(f.len() as u64).to_le_bytes());
        out.extend_from_slice(f.as_bytes());
    }
    out
}
