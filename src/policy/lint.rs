//! Warnings: policies that work but probably do not say what their author meant.
//!
//! Every check here is sound in the direction that matters: it only warns when it is sure
//! (a rule is shadowed only if a deny provably covers everything it allows; a rule can never
//! apply only if no allow rule can possibly grant its server). It never blocks a policy.

use rustc_hash::{FxHashMap, FxHashSet};

use crate::located::Diagnostic;
use crate::policy::ast::{AgentPolicy, ItemKind, Pattern, PolicySet};
use crate::policy::glob::{glob_contains, glob_match, may_overlap};

/// What the linter knows beyond the policy itself.
#[derive(Debug, Clone, Copy, Default)]
pub struct LintContext<'a> {
    /// The server names configured in `.mcp.json`, when it is known.
    pub known_servers: Option<&'a [String]>,
}

impl PolicySet {
    /// Every warning about this policy, in source order per check.
    pub fn lint(&self, cx: &LintContext<'_>) -> Vec<Diagnostic> {
        let mut out = Vec::new();
        if let Some(known) = cx.known_servers {
            self.lint_unknown_servers(known, &mut out);
        }
        self.lint_empty_and_duplicates(&mut out);
        self.lint_shadowed(&mut out);
        self.lint_unreachable_tool_rules(&mut out);
        self.lint_fallthrough(&mut out);
        out
    }

    fn warn(&self, at: &Pattern, message: String) -> Diagnostic {
        Diagnostic::warning(&self.source_name, message).at_location(at.source.span, at.source.path.as_deref())
    }

    fn lint_unknown_servers(&self, known: &[String], out: &mut Vec<Diagnostic>) {
        let names: FxHashSet<&str> = known.iter().map(String::as_str).collect();
        let mut check = |p: &Pattern| {
            if !p.text.contains('*') {
                if !names.contains(p.text.as_str()) {
                    out.push(
                        self.warn(p, format!("server `{}` is not configured in the MCP config", p.text))
                            .with_hint("the rule is kept and applies once the server is added"),
                    );
                }
            } else if !known.iter().any(|n| glob_match(&p.text, n)) {
                out.push(self.warn(p, format!("server pattern `{}` matches no configured server", p.text)));
            }
        };
        for agent in &self.agents {
            for block in [&agent.allow, &agent.deny] {
                block.servers.iter().for_each(&mut check);
                for kind in ItemKind::ALL {
                    block.items(kind).iter().for_each(|t| check(&t.server));
                }
            }
        }
    }

    fn lint_empty_and_duplicates(&self, out: &mut Vec<Diagnostic>) {
        for agent in &self.agents {
            if agent.allow.is_empty() && agent.deny.is_empty() && agent.limits.is_unlimited() {
                out.push(
                    self.warn(
                        &agent.key,
                        format!("agent `{}` has no rules, so it is denied everything", agent.key.text),
                    ),
                );
            }
            for block in [&agent.allow, &agent.deny] {
                duplicates(&block.servers, |p| out.push(self.warn(p, format!("duplicate pattern `{}`", p.text))));
                for kind in ItemKind::ALL {
                    let mut keys: FxHashMap<&str, ()> = FxHashMap::default();
                    for rules in block.items(kind) {
                        if keys.insert(&rules.server.text, ()).is_some() {
                            out.push(self.warn(
                                &rules.server,
                                format!(
                                    "{} rules for server `{}` are split across entries",
                                    kind.as_str(),
                                    rules.server.text
                                ),
                            ));
                        }
                        duplicates(&rules.tools, |p| {
                            out.push(self.warn(p, format!("duplicate pattern `{}`", p.text)));
                        });
                    }
                }
            }
        }
    }

    /// Blocks whose rules apply to every agent that `agent`'s key matches.
    fn covering_blocks<'p>(&'p self, agent: &'p AgentPolicy) -> impl Iterator<Item = &'p AgentPolicy> {
        self.agents.iter().filter(move |b| glob_contains(&b.key.text, &agent.key.text))
    }

    /// Blocks that may apply to some agent that `agent`'s key matches.
    fn overlapping_blocks<'p>(&'p self, agent: &'p AgentPolicy) -> impl Iterator<Item = &'p AgentPolicy> {
        self.agents.iter().filter(move |b| may_overlap(&b.key.text, &agent.key.text))
    }

    fn lint_shadowed(&self, out: &mut Vec<Diagnostic>) {
        for agent in &self.agents {
            let covering: Vec<&AgentPolicy> = self.covering_blocks(agent).collect();
            let deny_servers = || covering.iter().flat_map(|b| b.deny.servers.iter());
            for allow in &agent.allow.servers {
                if let Some(deny) = deny_servers().find(|d| glob_contains(&d.text, &allow.text)) {
                    out.push(self.shadowed(allow, deny));
                }
            }
            // Each kind is shadowed only by denies of its own kind (or of the server).
            for kind in ItemKind::ALL {
                for rules in agent.allow.items(kind) {
                    if let Some(deny) = deny_servers().find(|d| glob_contains(&d.text, &rules.server.text)) {
                        for allow in &rules.tools {
                            out.push(self.shadowed(allow, deny));
                        }
                        continue;
                    }
                    for allow in &rules.tools {
                        let deny = covering
                            .iter()
                            .flat_map(|b| b.deny.items(kind).iter())
                            .filter(|d| glob_contains(&d.server.text, &rules.server.text))
                            .flat_map(|d| d.tools.iter())
                            .find(|d| glob_contains(&d.text, &allow.text));
                        if let Some(deny) = deny {
                            out.push(self.shadowed(allow, deny));
                        }
                    }
                }
            }
        }
    }

    fn shadowed(&self, allow: &Pattern, deny: &Pattern) -> Diagnostic {
        let at =
            deny.source.path.clone().unwrap_or_else(|| {
                format!("{}:{}:{}", self.source_name, deny.source.span.line, deny.source.span.column)
            });
        self.warn(allow, format!("allow rule `{}` is shadowed by deny rule `{}` at {at}", allow.text, deny.text))
            .with_hint("deny always wins, so this allow can never grant anything")
    }

    fn lint_unreachable_tool_rules(&self, out: &mut Vec<Diagnostic>) {
        for agent in &self.agents {
            let overlapping: Vec<&AgentPolicy> = self.overlapping_blocks(agent).collect();
            let kinds = ItemKind::ALL.into_iter().flat_map(|k| agent.allow.items(k).iter().map(move |r| (k, r)));
            for (kind, rules) in kinds {
                let grantable = overlapping
                    .iter()
                    .flat_map(|b| b.allow.servers.iter())
                    .any(|s| may_overlap(&s.text, &rules.server.text));
                if !grantable {
                    out.push(
                        self.warn(
                            &rules.server,
                            format!(
                                "{} rules for `{}` can never apply: no allow rule grants agent `{}` a server matching it",
                                kind.as_str(),
                                rules.server.text,
                                agent.key.text
                            ),
                        )
                        .with_hint("allow the server too, e.g. add it to `allow.servers`"),
                    );
                }
            }
        }
    }

    fn lint_fallthrough(&self, out: &mut Vec<Diagnostic>) {
        if self.defaults.deny_on_missing_agent {
            return;
        }
        let message = if self.agents.iter().any(|a| a.key.text == "default") {
            "`deny_on_missing_agent` is false: unknown agent ids are judged by the rules of agent `default`"
        } else {
            "`deny_on_missing_agent` is false but there is no agent `default`: unknown agent ids are still denied unless the gateway sets a default agent"
        };
        out.push(Diagnostic::warning(&self.source_name, message));
    }
}

fn duplicates(patterns: &[Pattern], mut report: impl FnMut(&Pattern)) {
    let mut seen: FxHashSet<&str> = FxHashSet::default();
    for p in patterns {
        if !seen.insert(&p.text) {
            report(p);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn warnings(json: &str, known: Option<&[String]>) -> Vec<String> {
        let p = PolicySet::from_json_str("r.json", json).unwrap();
        p.lint(&LintContext { known_servers: known }).iter().map(|d| d.to_string()).collect()
    }

    #[test]
    fn unknown_servers() {
        let known = vec!["postgres".to_owned()];
        let w = warnings(
            r#"{"agents": {"a": {"allow": {"servers": ["postgres", "redis", "post*", "x*"]}}}}"#,
            Some(&known),
        );
        let all = w.join("\n");
        assert!(all.contains("server `redis` is not configured"), "{all}");
        assert!(all.contains("server pattern `x*` matches no configured server"), "{all}");
        assert!(all.contains("at agents.a.allow.servers[1]"), "{all}");
        assert_eq!(w.len(), 2, "{all}");
        assert!(warnings(r#"{"agents": {"a": {"allow": {"servers": ["redis"]}}}}"#, None).is_empty());
    }

    #[test]
    fn shadowed_allows() {
        let w = warnings(
            r#"{"agents": {
                "a": {"allow": {"servers": ["pg", "web"], "tools": {"pg": ["drop_table", "query"], "web": ["get"]}},
                      "deny": {"tools": {"*": ["drop_*"]}}},
                "*": {"deny": {"servers": ["web"]}}}}"#,
            None,
        );
        let all = w.join("\n");
        assert!(all.contains("allow rule `drop_table` is shadowed by deny rule `drop_*`"), "{all}");
        assert!(
            all.contains("allow rule `web` is shadowed by deny rule `web` at agents[\"*\"].deny.servers[0]"),
            "{all}"
        );
        assert!(all.contains("allow rule `get` is shadowed"), "{all}");
        assert!(!all.contains("`query` is shadowed"), "{all}");
    }

    #[test]
    fn a_deny_for_other_agents_shadows_nothing() {
        let w =
            warnings(r#"{"agents": {"a": {"allow": {"servers": ["pg"]}}, "b": {"deny": {"servers": ["pg"]}}}}"#, None);
        assert!(w.iter().all(|w| !w.contains("shadowed")), "{w:?}");
    }

    #[test]
    fn unreachable_tool_rules_and_empty_agents() {
        let w = warnings(
            r#"{"agents": {"a": {"allow": {"servers": ["pg"], "tools": {"redis": ["get"], "p*": ["q"]}}}, "b": {}}}"#,
            None,
        );
        let all = w.join("\n");
        assert!(all.contains("tool rules for `redis` can never apply"), "{all}");
        assert!(!all.contains("tool rules for `p*`"), "{all}");
        assert!(all.contains("agent `b` has no rules"), "{all}");
    }

    #[test]
    fn resource_and_prompt_rules_are_linted_by_kind() {
        let w = warnings(
            r#"{"agents": {
                "a": {"allow": {"servers": ["files"],
                                "resources": {"files": ["file:///srv/secret/x", "file:///srv/docs/*"], "web": ["https://*"]},
                                "prompts": {"*": ["admin_all", "review_*"]}},
                      "deny": {"resources": {"*": ["file:///srv/secret/*"]}, "prompts": {"files": ["admin_*"]},
                               "tools": {"*": ["review_*"]}}}}}"#,
            None,
        );
        let all = w.join("\n");
        assert!(
            all.contains("allow rule `file:///srv/secret/x` is shadowed by deny rule `file:///srv/secret/*`"),
            "{all}"
        );
        assert!(all.contains("at agents.a.allow.resources.files[0]"), "{all}");
        assert!(!all.contains("`file:///srv/docs/*` is shadowed"), "{all}");
        assert!(all.contains("resource rules for `web` can never apply"), "{all}");
        // `admin_*` is denied on `files` only, and the allow is keyed by `*`: not covered.
        assert!(!all.contains("`admin_all` is shadowed"), "{all}");
        // A tool deny never shadows a prompt allow.
        assert!(!all.contains("`review_*` is shadowed"), "{all}");
        assert_eq!(w.len(), 2, "{all}");
    }

    #[test]
    fn duplicates_and_fallthrough() {
        let w = warnings(
            r#"{"agents": {"a": {"allow": {"servers": ["pg", "pg"]}}}, "defaults": {"deny_on_missing_agent": false}}"#,
            None,
        );
        let all = w.join("\n");
        assert!(all.contains("duplicate pattern `pg`"), "{all}");
        assert!(all.contains("there is no agent `default`"), "{all}");
    }
}
