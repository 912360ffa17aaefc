//! Lowering a located JSON tree into the policy AST.
//!
//! This is where `deny_unknown_fields` lives: every object is checked against the keys it may
//! hold, and every value against the type it must have. Problems are collected rather than
//! returned at the first one, so an author sees them all in one run.

use crate::located::json::{self, DisplayPath, Member, Node, NodeKind, PathSegment};
use crate::located::suggest::did_you_mean;
use crate::located::{Diagnostic, Diagnostics, LineIndex, Span};
use crate::policy::ast::{AgentLimits, AgentPolicy, Defaults, Pattern, PolicySet, RuleBlock, RuleSource, ToolRules};

impl PolicySet {
    /// Parses and validates policy rules written as JSON (`.mcp-gateway-rules.json`).
    ///
    /// `source_name` is the file name shown in locations. Every syntax, type and validation
    /// error is collected; on failure all of them come back together.
    ///
    /// ```
    /// use mcpgw::policy::PolicySet;
    ///
    /// let policy = PolicySet::from_json_str(
    ///     "rules.json",
    ///     r#"{"agents": {"backend": {"allow": {"servers": ["postgres"]}}}}"#,
    /// )
    /// .unwrap();
    /// assert_eq!(policy.agents.len(), 1);
    ///
    /// let err = PolicySet::from_json_str("rules.json", r#"{"agents": {"backend": {"alow": {}}}}"#).unwrap_err();
    /// assert!(err.to_string().contains("unknown field `alow`"));
    /// ```
    pub fn from_json_str(source_name: &str, text: &str) -> Result<PolicySet, Diagnostics> {
        let index = LineIndex::new(text);
        let root = match json::parse(text) {
            Ok(root) => root,
            Err(e) => {
                let span = index.span(e.offset);
                let mut d = Diagnostic::error(source_name, e.message).at(span).with_line_text(index.shown_line(span));
                if !e.path.is_empty() {
                    d = d.with_path(DisplayPath(&e.path).to_string());
                }
                return Err(Diagnostics(vec![d]));
            }
        };
        let mut lowerer = Lowerer { file: source_name, index: &index, path: Vec::new(), errors: Vec::new() };
        let policy = lowerer.root(&root);
        let mut errors = lowerer.errors;
        errors.extend(policy.structural_errors());
        if errors.is_empty() {
            Ok(policy)
        } else {
            let mut diags = Diagnostics(errors);
            diags.attach_source_lines(text);
            Err(diags)
        }
    }
}

struct Lowerer<'a> {
    file: &'a str,
    index: &'a LineIndex<'a>,
    path: Vec<PathSegment>,
    errors: Vec<Diagnostic>,
}

impl Lowerer<'_> {
    fn span(&self, offset: usize) -> Span {
        self.index.span(offset)
    }

    fn source(&self, offset: usize) -> RuleSource {
        RuleSource { path: Some(DisplayPath(&self.path).to_string()), span: self.span(offset) }
    }

    fn error(&mut self, offset: usize, message: String) {
        self.error_with_hint(offset, message, None);
    }

    fn error_with_hint(&mut self, offset: usize, message: String, hint: Option<String>) {
        let mut d =
            Diagnostic::error(self.file, message).at(self.span(offset)).with_path(DisplayPath(&self.path).to_string());
        d.hint = hint;
        self.errors.push(d);
    }

    /// Runs `f` with `segment` pushed onto the current path.
    fn at<T>(&mut self, segment: PathSegment, f: impl FnOnce(&mut Self) -> T) -> T {
        self.path.push(segment);
        let out = f(self);
        self.path.pop();
        out
    }

    /// The members of an object node, or an error and `None` when it is not an object.
    fn object<'n>(&mut self, node: &'n Node, what: &str) -> Option<&'n [Member]> {
        match &node.kind {
            NodeKind::Object(members) => Some(members),
            other => {
                let found = other.type_name();
                self.error(node.offset, format!("expected {what}, found {found}"));
                None
            }
        }
    }

    /// Reports members whose keys are not in `allowed`, with a suggestion.
    fn check_fields(&mut self, members: &[Member], allowed: &[&str]) {
        for m in members {
            if allowed.contains(&m.key.as_str()) {
                continue;
            }
            let expected = allowed.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ");
            let key = m.key.clone();
            let hint = did_you_mean(&key, allowed.iter().copied());
            self.error_with_hint(m.key_offset, format!("unknown field `{key}`, expected one of {expected}"), hint);
        }
    }

    fn root(&mut self, node: &Node) -> PolicySet {
        let mut policy = PolicySet::empty(self.file);
        let Some(members) = self.object(node, "an object with `agents` and `defaults`") else {
            return policy;
        };
        self.check_fields(members, &["agents", "defaults"]);
        for m in members {
            match m.key.as_str() {
                "agents" => {
                    policy.agents = self.at(PathSegment::Key(m.key.clone()), |l| l.agents(&m.value));
                }
                "defaults" => {
                    policy.defaults = self.at(PathSegment::Key(m.key.clone()), |l| l.defaults(&m.value));
                }
                _ => {}
            }
        }
        policy
    }

    fn agents(&mut self, node: &Node) -> Vec<AgentPolicy> {
        let Some(members) = self.object(node, "an object mapping agent ids to rules") else {
            return Vec::new();
        };
        let mut agents = Vec::with_capacity(members.len());
        for m in members {
            let agent = self.at(PathSegment::Key(m.key.clone()), |l| {
                let key = Pattern { text: m.key.clone(), source: l.source(m.key_offset) };
                l.agent(key, &m.value)
            });
            agents.push(agent);
        }
        agents
    }

    fn agent(&mut self, key: Pattern, node: &Node) -> AgentPolicy {
        let mut agent = AgentPolicy {
            key,
            allow: RuleBlock::default(),
            deny: RuleBlock::default(),
            limits: AgentLimits::default(),
        };
        let Some(members) = self.object(node, "an object with `allow`, `deny` or `limits`") else {
            return agent;
        };
        self.check_fields(members, &["allow", "deny", "limits"]);
        for m in members {
            let seg = PathSegment::Key(m.key.clone());
            match m.key.as_str() {
                "allow" => agent.allow = self.at(seg, |l| l.block(&m.value)),
                "deny" => agent.deny = self.at(seg, |l| l.block(&m.value)),
                "limits" => agent.limits = self.at(seg, |l| l.limits(&m.value)),
                _ => {}
            }
        }
        agent
    }

    fn block(&mut self, node: &Node) -> RuleBlock {
        let mut block = RuleBlock::default();
        let Some(members) = self.object(node, "an object with `servers` and `tools`") else {
            return block;
        };
        self.check_fields(members, &["servers", "tools"]);
        for m in members {
            let seg = PathSegment::Key(m.key.clone());
            match m.key.as_str() {
                "servers" => block.servers = self.at(seg, |l| l.patterns(&m.value, "server")),
                "tools" => block.tools = self.at(seg, |l| l.tool_rules(&m.value)),
                _ => {}
            }
        }
        block
    }

    fn tool_rules(&mut self, node: &Node) -> Vec<ToolRules> {
        let Some(members) = self.object(node, "an object mapping server patterns to tool patterns") else {
            return Vec::new();
        };
        let mut out = Vec::with_capacity(members.len());
        for m in members {
            let rules = self.at(PathSegment::Key(m.key.clone()), |l| {
                let server = Pattern { text: m.key.clone(), source: l.source(m.key_offset) };
                let tools = l.patterns(&m.value, "tool");
                ToolRules { server, tools }
            });
            out.push(rules);
        }
        out
    }

    /// An array of pattern strings.
    fn patterns(&mut self, node: &Node, what: &str) -> Vec<Pattern> {
        let NodeKind::Array(items) = &node.kind else {
            let found = node.kind.type_name();
            self.error(node.offset, format!("expected an array of {what} patterns, found {found}"));
            return Vec::new();
        };
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            self.at(PathSegment::Index(i), |l| match &item.kind {
                NodeKind::String(s) => out.push(Pattern { text: s.clone(), source: l.source(item.offset) }),
                other => {
                    let found = other.type_name();
                    l.error(item.offset, format!("expected a {what} pattern (a string), found {found}"));
                }
            });
        }
        out
    }

    fn limits(&mut self, node: &Node) -> AgentLimits {
        let mut limits = AgentLimits::default();
        let Some(members) = self.object(node, "an object with `requests_per_second` or `max_concurrent_calls`") else {
            return limits;
        };
        self.check_fields(members, &["requests_per_second", "max_concurrent_calls"]);
        for m in members {
            let seg = PathSegment::Key(m.key.clone());
            match m.key.as_str() {
                "requests_per_second" => limits.requests_per_second = self.at(seg, |l| l.positive(&m.value)),
                "max_concurrent_calls" => limits.max_concurrent_calls = self.at(seg, |l| l.positive(&m.value)),
                _ => {}
            }
        }
        limits
    }

    /// A whole number from 1 to `u32::MAX`.
    fn positive(&mut self, node: &Node) -> Option<u32> {
        if let NodeKind::Number(text) = &node.kind {
            if let Ok(n) = text.parse::<u32>()
                && n > 0
            {
                return Some(n);
            }
            self.error(node.offset, format!("expected a whole number from 1 to {}, found `{text}`", u32::MAX));
            return None;
        }
        let found = node.kind.type_name();
        self.error(node.offset, format!("expected a whole number, found {found}"));
        None
    }

    fn defaults(&mut self, node: &Node) -> Defaults {
        let mut defaults = Defaults::default();
        let Some(members) = self.object(node, "an object with `deny_on_missing_agent`") else {
            return defaults;
        };
        self.check_fields(members, &["deny_on_missing_agent"]);
        for m in members {
            if m.key == "deny_on_missing_agent" {
                self.at(PathSegment::Key(m.key.clone()), |l| match m.value.kind {
                    NodeKind::Bool(b) => defaults.deny_on_missing_agent = b,
                    ref other => {
                        let found = other.type_name();
                        l.error(m.value.offset, format!("expected `true` or `false`, found {found}"));
                    }
                });
            }
        }
        defaults
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> PolicySet {
        PolicySet::from_json_str("rules.json", text).unwrap()
    }

    fn errors(text: &str) -> Vec<String> {
        PolicySet::from_json_str("rules.json", text).unwrap_err().iter().map(|d| d.to_string()).collect()
    }

    #[test]
    fn lowers_the_design_example() {
        let p = parse(
            r#"{"agents": {"backend": {"allow": {"servers": ["postgres"], "tools": {"postgres": ["query", "list_*"]}},
                                      "deny":  {"tools": {"postgres": ["drop_*", "truncate_*"]}}}},
                "defaults": {"deny_on_missing_agent": true}}"#,
        );
        let a = &p.agents[0];
        assert_eq!(a.key.text, "backend");
        assert_eq!(a.allow.servers[0].text, "postgres");
        assert_eq!(a.allow.tools[0].tools[1].text, "list_*");
        assert_eq!(a.allow.tools[0].tools[1].source.path.as_deref(), Some("agents.backend.allow.tools.postgres[1]"));
        assert_eq!(a.deny.tools[0].tools[0].source.path.as_deref(), Some("agents.backend.deny.tools.postgres[0]"));
        assert_eq!(a.deny.tools[0].tools[0].source.span, Span { line: 2, column: 72 });
        assert!(p.defaults.deny_on_missing_agent);
    }

    #[test]
    fn reads_limits_and_defaults() {
        let p = parse(
            r#"{"agents": {"a": {"limits": {"requests_per_second": 5, "max_concurrent_calls": 2}}},
                "defaults": {"deny_on_missing_agent": false}}"#,
        );
        assert_eq!(p.agents[0].limits.requests_per_second, Some(5));
        assert_eq!(p.agents[0].limits.max_concurrent_calls, Some(2));
        assert!(!p.defaults.deny_on_missing_agent);
        assert!(parse("{}").agents.is_empty());
    }

    #[test]
    fn unknown_fields_are_errors_with_a_hint() {
        let e = errors("{\"agents\": {\"backend\": {\n  \"alow\": {}}}}");
        assert_eq!(e.len(), 1);
        assert_eq!(
            e[0],
            "rules.json:2:3: error: unknown field `alow`, expected one of `allow`, `deny`, `limits`\n  at agents.backend\n  |\n2 |   \"alow\": {}}}}\n  |   ^\n  hint: did you mean `allow`?"
        );
    }

    #[test]
    fn collects_every_error() {
        let e = errors(
            r#"{"agents": {"bad id!": {"allow": {"servers": ["ok", 3, ""], "tools": {"pg": "query"}}},
                           "b": {"limits": {"requests_per_second": 0}}},
                "defaults": {"deny_on_missing_agent": "yes"}, "extra": 1}"#,
        );
        let all = e.join("\n");
        assert!(all.contains("unknown field `extra`"), "{all}");
        assert!(all.contains("expected a server pattern (a string), found a number"), "{all}");
        assert!(all.contains("at agents[\"bad id!\"].allow.servers[1]"), "{all}");
        assert!(all.contains("expected an array of tool patterns, found a string"), "{all}");
        assert!(all.contains("expected a whole number from 1"), "{all}");
        assert!(all.contains("expected `true` or `false`, found a string"), "{all}");
        assert!(all.contains("invalid agent id `bad id!`"), "{all}");
        assert!(all.contains("empty server pattern"), "{all}");
        assert_eq!(e.len(), 7, "{all}");
    }

    #[test]
    fn syntax_errors_point_at_the_spot() {
        let e = errors("{\"agents\": {\"a\": {\"allow\": {\"servers\": [\"x\",]}}}}");
        assert_eq!(e.len(), 1);
        assert!(e[0].starts_with("rules.json:1:45: error: expected a value after `,`"), "{}", e[0]);
        assert!(e[0].contains("at agents.a.allow.servers"), "{}", e[0]);
        let dup = errors("{\"agents\": {\"a\": {}, \"a\": {}}}");
        assert!(dup[0].contains("duplicate key `a`"), "{}", dup[0]);
    }

    #[test]
    fn wrong_root_types() {
        assert!(errors("[]")[0].contains("expected an object with `agents` and `defaults`, found an array"));
        assert!(errors("{\"agents\": []}")[0].contains("expected an object mapping agent ids to rules"));
    }
}
