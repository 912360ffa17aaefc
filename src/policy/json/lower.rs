//! Lowering a located JSON tree into the policy AST.
//!
//! This is where `deny_unknown_fields` lives: every object is checked against the keys it may
//! hold, and every value against the type it must have, through the typed reader that every
//! JSON front end shares. Problems are collected rather than returned at the first one, so an
//! author sees them all in one run.

use crate::located::json::read::{Field, Reader, Value};
use crate::located::{Diagnostics, Span};
use crate::policy::ast::{
    AgentLimits, AgentPolicy, Defaults, ItemKind, Pattern, PolicySet, RuleBlock, RuleSource, ToolRules,
};

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
        let reader = Reader::new(source_name, text);
        let root = reader.parse();
        let policy = match &root {
            Some(root) => policy(&reader.root(root), source_name),
            None => PolicySet::empty(source_name),
        };
        let mut errors = reader.finish().errors;
        if root.is_none() {
            return Err(Diagnostics(errors));
        }
        errors.extend(policy.structural_errors());
        let mut diags = Diagnostics(errors);
        diags.attach_source_lines(text);
        if diags.0.is_empty() { Ok(policy) } else { Err(diags) }
    }
}

fn source(v: &Value<'_>) -> RuleSource {
    source_at(v, v.span())
}

fn source_at(v: &Value<'_>, span: Span) -> RuleSource {
    RuleSource { path: Some(v.path()), span }
}

/// A pattern written as an object key (an agent key, the server of a tool rule).
fn key_pattern(f: &Field<'_>) -> Pattern {
    Pattern { text: f.key().to_owned(), source: source_at(f.value(), f.key_span()) }
}

fn policy(v: &Value<'_>, file: &str) -> PolicySet {
    let mut policy = PolicySet::empty(file);
    let Some(root) = v.object("an object with `agents` and `defaults`") else {
        return policy;
    };
    root.deny_unknown(&["agents", "defaults"]);
    if let Some(v) = root.get("agents") {
        policy.agents = agents(&v);
    }
    if let Some(v) = root.get("defaults") {
        policy.defaults = defaults(&v);
    }
    policy
}

fn agents(v: &Value<'_>) -> Vec<AgentPolicy> {
    let Some(agents) = v.object("an object mapping agent ids to rules") else {
        return Vec::new();
    };
    agents.fields().map(|f| agent(key_pattern(&f), f.value())).collect()
}

fn agent(key: Pattern, v: &Value<'_>) -> AgentPolicy {
    let mut agent =
        AgentPolicy { key, allow: RuleBlock::default(), deny: RuleBlock::default(), limits: AgentLimits::default() };
    let Some(fields) = v.object("an object with `allow`, `deny` or `limits`") else {
        return agent;
    };
    fields.deny_unknown(&["allow", "deny", "limits"]);
    if let Some(allow) = fields.get("allow") {
        agent.allow = block(&allow);
    }
    if let Some(deny) = fields.get("deny") {
        agent.deny = block(&deny);
    }
    if let Some(v) = fields.get("limits") {
        agent.limits = limits(&v);
    }
    agent
}

fn block(v: &Value<'_>) -> RuleBlock {
    let mut block = RuleBlock::default();
    let Some(fields) = v.object("an object with `servers`, `tools`, `resources` or `prompts`") else {
        return block;
    };
    fields.deny_unknown(&["servers", "tools", "resources", "prompts"]);
    if let Some(servers) = fields.get("servers") {
        block.servers = patterns(&servers, "server");
    }
    for kind in ItemKind::ALL {
        if let Some(items) = fields.get(kind.plural()) {
            *block.items_mut(kind) = item_rules(&items, kind);
        }
    }
    block
}

/// `{"SERVER": ["PATTERN", ...]}` under `tools`, `resources` or `prompts`.
fn item_rules(v: &Value<'_>, kind: ItemKind) -> Vec<ToolRules> {
    let what = match kind {
        ItemKind::Tool => "tool",
        ItemKind::Resource => "resource uri",
        ItemKind::Prompt => "prompt",
    };
    let Some(servers) = v.object(&format!("an object mapping server patterns to {what} patterns")) else {
        return Vec::new();
    };
    servers.fields().map(|f| ToolRules { server: key_pattern(&f), tools: patterns(f.value(), what) }).collect()
}

/// An array of pattern strings.
fn patterns(v: &Value<'_>, what: &str) -> Vec<Pattern> {
    let item_what = format!("a {what} pattern (a string)");
    let item = |item: Value<'_>| Some(Pattern { text: item.string(&item_what)?.to_owned(), source: source(&item) });
    v.array_of(&format!("an array of {what} patterns"), item).unwrap_or_default()
}

fn limits(v: &Value<'_>) -> AgentLimits {
    let mut limits = AgentLimits::default();
    let Some(fields) = v.object("an object with `requests_per_second` or `max_concurrent_calls`") else {
        return limits;
    };
    fields.deny_unknown(&["requests_per_second", "max_concurrent_calls"]);
    if let Some(n) = fields.get("requests_per_second") {
        limits.requests_per_second = positive(&n);
    }
    if let Some(n) = fields.get("max_concurrent_calls") {
        limits.max_concurrent_calls = positive(&n);
    }
    limits
}

/// A whole number from 1 to `u32::MAX`.
fn positive(v: &Value<'_>) -> Option<u32> {
    v.number(&format!("a whole number from 1 to {}", u32::MAX), |text| text.parse::<u32>().ok().filter(|n| *n > 0))
}

fn defaults(v: &Value<'_>) -> Defaults {
    let mut defaults = Defaults::default();
    let Some(fields) = v.object("an object with `deny_on_missing_agent`") else {
        return defaults;
    };
    fields.deny_unknown(&["deny_on_missing_agent"]);
    if let Some(b) = fields.get("deny_on_missing_agent").and_then(|v| v.bool()) {
        defaults.deny_on_missing_agent = b;
    }
    defaults
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
            "rules.json:2:3: error: unknown field `alow`, expected one of `allow`, `deny`, `limits`\n  at agents.backend.alow\n  |\n2 |   \"alow\": {}}}}\n  |   ^\n  hint: did you mean `allow`?"
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
