//! The audit writer's memory of explanations: a call's decision is explained once per
//! question (agent, server, item) and snapshot, not once per call. Most calls of a busy
//! gateway ask the same few questions, and `explain` (which collects every matching rule and
//! writes a summary) was the writer's largest cost after the file itself.

use std::collections::HashMap;
use std::sync::Arc;

use crate::config::PolicySnapshot;
use crate::policy::{Item, ItemKind, Request, RuleRef};
use crate::telemetry::audit::Decided;

/// Questions remembered before the memory starts over: a bound on what a caller sending
/// ever-new tool names can make the writer keep.
const MOST: usize = 4096;

/// What an audit line says of a decision.
#[derive(Clone)]
pub struct Why {
    /// `allow` or `deny`.
    pub decision: &'static str,
    /// The reason's name.
    pub reason: &'static str,
    /// The default agent, when it stood in.
    pub judged_as: Option<String>,
    /// The rules that decided.
    pub determining_rules: Vec<RuleRef>,
    /// The snapshot's id.
    pub snapshot: String,
}

type Question = (Option<String>, String, Option<(ItemKind, String)>);

/// Explanations of one snapshot, by question.
#[derive(Default)]
pub struct Explained {
    /// The snapshot they are of (kept, so that its address cannot be reused by another).
    snapshot: Option<Arc<PolicySnapshot>>,
    known: HashMap<Question, Why>,
}

impl Explained {
    /// What the line of the decision `d` says, explained now or remembered.
    pub fn why(&mut self, d: &Decided) -> Why {
        if !self.snapshot.as_ref().is_some_and(|s| Arc::ptr_eq(s, &d.snapshot)) || self.known.len() >= MOST {
            self.known.clear();
            self.snapshot = Some(d.snapshot.clone());
        }
        let question = (d.agent.clone(), d.server.clone(), d.item.clone());
        if let Some(why) = self.known.get(&question) {
            return why.clone();
        }
        let req = Request {
            agent: d.agent.as_deref(),
            server: &d.server,
            item: d.item.as_ref().map(|(k, n)| Item::new(*k, n)),
        };
        let e = d.snapshot.table.explain(&req);
        let why = Why {
            decision: e.decision.as_str(),
            reason: e.reason.as_str(),
            judged_as: e.judged_as,
            determining_rules: e.determining_rules,
            snapshot: e.snapshot,
        };
        self.known.insert(question, why.clone());
        why
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::{DecisionTable, PolicySet};

    fn snapshot(rules: &str) -> Arc<PolicySnapshot> {
        let table = DecisionTable::compile(&PolicySet::from_json_str("r.json", rules).unwrap()).unwrap();
        Arc::new(PolicySnapshot { table, path: "r.json".into(), loaded_at: std::time::SystemTime::now() })
    }

    fn asked(snapshot: &Arc<PolicySnapshot>, tool: &str) -> Decided {
        Decided {
            snapshot: snapshot.clone(),
            agent: Some("a".into()),
            server: "s".into(),
            item: Some((ItemKind::Tool, tool.into())),
        }
    }

    #[test]
    fn a_question_is_explained_once_per_snapshot_and_a_new_snapshot_is_explained_again() {
        let allow = snapshot(r#"{"agents": {"a": {"allow": {"servers": ["s"], "tools": {"s": ["t"]}}}}}"#);
        let mut explained = Explained::default();
        let first = explained.why(&asked(&allow, "t"));
        assert_eq!((first.decision, first.determining_rules.len()), ("allow", 2));
        assert_eq!(explained.known.len(), 1);
        let again = explained.why(&asked(&allow, "t"));
        assert_eq!((again.decision, again.snapshot), (first.decision, first.snapshot.clone()));
        assert_eq!(explained.known.len(), 1, "remembered, not explained again");
        assert_eq!(explained.why(&asked(&allow, "u")).decision, "deny");
        // A reload: the same question under the new rules.
        let deny = snapshot(r#"{"agents": {"a": {"allow": {"servers": ["s"]}, "deny": {"tools": {"s": ["t"]}}}}}"#);
        let now = explained.why(&asked(&deny, "t"));
        assert_eq!((now.decision, now.reason), ("deny", "explicit_deny"));
        assert_ne!(now.snapshot, first.snapshot);
        assert_eq!(explained.known.len(), 1, "the old snapshot's answers are gone");
    }
}
