//! Structural validation: the errors that make a policy unusable whatever its syntax.
//!
//! Both the JSON and the DSL front ends call [`PolicySet::structural_errors`] after lowering,
//! so the rules checked here hold for every policy that reaches the compiler. Warnings about
//! policies that work but probably do not say what their author meant live in
//! [`lint`](crate::policy::lint).

use crate::located::Diagnostic;
use crate::policy::ast::{ItemKind, Pattern, PolicySet};

/// Whether `id` is a well-formed agent id: one or more of `A-Z a-z 0-9 _ . -`.
///
/// Anything else (spaces, slashes, `*`, Unicode) is refused before any rule is consulted, so an
/// id can never smuggle glob or path syntax into a decision.
pub fn is_valid_agent_id(id: &str) -> bool {
    !id.is_empty() && id.bytes().all(is_agent_id_byte)
}

/// Whether `key` may stand under `agents`: an agent id, or an id pattern that also uses `*`.
pub fn is_valid_agent_key(key: &str) -> bool {
    !key.is_empty() && key.bytes().all(|b| b == b'*' || is_agent_id_byte(b))
}

fn is_agent_id_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-')
}

impl PolicySet {
    /// Every structural error: malformed agent keys and empty patterns.
    ///
    /// An empty pattern matches only the empty name, which is never what an author means;
    /// write `*` to match everything.
    pub fn structural_errors(&self) -> Vec<Diagnostic> {
        let mut errors = Vec::new();
        for agent in &self.agents {
            if !is_valid_agent_key(&agent.key.text) {
                errors.push(
                    self.located_error(&agent.key, format!("invalid agent id `{}`", agent.key.text))
                        .with_hint("agent ids use only letters, digits, `_`, `.` and `-`; patterns may also use `*`"),
                );
            }
            for block in [&agent.allow, &agent.deny] {
                for server in &block.servers {
                    self.check_not_empty(server, "server pattern", &mut errors);
                }
                for kind in ItemKind::ALL {
                    for rules in block.items(kind) {
                        self.check_not_empty(&rules.server, "server pattern", &mut errors);
                        for item in &rules.tools {
                            self.check_not_empty(item, kind.pattern_what(), &mut errors);
                        }
                    }
                }
            }
        }
        errors
    }

    fn check_not_empty(&self, pattern: &Pattern, what: &str, errors: &mut Vec<Diagnostic>) {
        if pattern.text.is_empty() {
            errors
                .push(self.located_error(pattern, format!("empty {what}")).with_hint("write `*` to match every name"));
        }
    }

    /// An error located at a pattern's source.
    pub(crate) fn located_error(&self, at: &Pattern, message: String) -> Diagnostic {
        Diagnostic::error(&self.source_name, message).at_location(at.source.span, at.source.path.as_deref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agent_ids() {
        assert!(is_valid_agent_id("backend.db-1_x"));
        assert!(!is_valid_agent_id(""));
        assert!(!is_valid_agent_id("a/b"));
        assert!(!is_valid_agent_id("a*"));
        assert!(!is_valid_agent_id("é"));
        assert!(!is_valid_agent_id("a b"));
        assert!(is_valid_agent_key("backend.*"));
        assert!(!is_valid_agent_key("../etc"));
    }
}
