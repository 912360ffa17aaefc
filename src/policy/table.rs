//! The compiled, immutable decision table.

use std::borrow::Cow;

use rustc_hash::FxHashMap;

use crate::located::{Diagnostic, Diagnostics};
use crate::policy::ast::{AgentLimits, Defaults, Effect, ItemKind, PolicySet, RuleSource, RuleView};
use crate::policy::compile::fast::FastIndex;
use crate::policy::compile::pattern_set::{GlobChecks, GlobTooComplex, PatternSet, PatternSetBuilder};
use crate::policy::compile::unit::{AgentUnit, build_unit};
use crate::policy::glob::{GlobKind, classify};
use crate::policy::snapshot::snapshot_id;

/// Settings that shape a table but are not written in the policy file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CompileOptions {
    /// The agent that a request without `agent_id` is judged as (the `--default-agent` flag).
    /// When unset, an agent named `default` in the policy plays this part, if there is one.
    pub default_agent: Option<String>,
}

/// A compiled policy: immutable, `Send + Sync`, and queried through `&self`.
///
/// Build it once with [`DecisionTable::compile`] and share it (the gateway keeps it behind an
/// `ArcSwap` and swaps in a new one on reload). [`decide`](DecisionTable::decide) is the fast
/// path; [`explain`](DecisionTable::explain) gives the same decision with its reasons.
///
/// ```
/// use mcpgw::policy::{DecisionTable, PolicySet, Request};
///
/// let policy = PolicySet::from_json_str("rules.json", r#"{"agents": {"backend": {
///     "allow": {"servers": ["postgres"], "tools": {"postgres": ["query", "list_*"]}},
///     "deny": {"tools": {"postgres": ["drop_*"]}}}}}"#).unwrap();
/// let table = DecisionTable::compile(&policy).unwrap();
///
/// assert!(table.decide(&Request::tool(Some("backend"), "postgres", "list_tables")).is_allowed());
/// assert!(!table.decide(&Request::tool(Some("backend"), "postgres", "drop_table")).is_allowed());
/// assert!(!table.decide(&Request::server(Some("intruder"), "postgres")).is_allowed());
///
/// let why = table.explain(&Request::tool(Some("backend"), "postgres", "drop_table"));
/// assert_eq!(why.determining_rules[0].location, "agents.backend.deny.tools.postgres[0]");
/// ```
#[derive(Debug, Clone)]
pub struct DecisionTable {
    pub(crate) rules: Box<[RuleInfo]>,
    /// One unit per agent block: its server rules and tool rules.
    pub(crate) units: Box<[AgentUnit]>,
    /// One unit per agent block: its server rules and resource rules. Kept apart from the
    /// tool units so that tool decisions read exactly what they read before resources existed.
    pub(crate) resource_units: Box<[AgentUnit]>,
    /// One unit per agent block: its server rules and prompt rules.
    pub(crate) prompt_units: Box<[AgentUnit]>,
    /// Exact agent keys, each with every unit that applies to it (its own and matching patterns').
    pub(crate) exact_agents: FxHashMap<Box<str>, Box<[u32]>>,
    /// Agent key patterns; the ids are unit indices.
    pub(crate) pattern_agents: PatternSet,
    pub(crate) unit_limits: Box<[AgentLimits]>,
    /// The decide fast path: exact agents on servers they name, flattened.
    pub(crate) fast: FastIndex,
    pub(crate) defaults: Defaults,
    pub(crate) default_agent: Option<Box<str>>,
    pub(crate) source_name: Box<str>,
    pub(crate) snapshot: Box<str>,
}

/// One rule of the policy, kept for explanations.
#[derive(Debug, Clone)]
pub(crate) struct RuleInfo {
    pub effect: Effect,
    pub agent: Box<str>,
    pub server: Box<str>,
    pub item: Option<(ItemKind, Box<str>)>,
    pub source: RuleSource,
}

impl DecisionTable {
    /// Compiles a policy with default options.
    pub fn compile(policy: &PolicySet) -> Result<DecisionTable, Diagnostics> {
        Self::compile_with(policy, &CompileOptions::default())
    }

    /// Compiles a policy. Fails with every structural error, and with an error naming the rule
    /// of any glob too complex for the automaton size limits (never silently dropped).
    pub fn compile_with(policy: &PolicySet, options: &CompileOptions) -> Result<DecisionTable, Diagnostics> {
        let structural = policy.structural_errors();
        if !structural.is_empty() {
            return Err(Diagnostics(structural));
        }
        let views: Vec<_> = policy.rules().collect();
        let rules: Box<[RuleInfo]> = views
            .iter()
            .map(|r| RuleInfo {
                effect: r.effect,
                agent: r.agent.text.as_str().into(),
                server: r.server.text.as_str().into(),
                item: r.item.map(|(k, p)| (k, p.text.as_str().into())),
                source: r.pattern().source.clone(),
            })
            .collect();

        let mut per_block: Vec<Vec<(u32, _)>> = vec![Vec::new(); policy.agents.len()];
        for (id, view) in views.iter().enumerate() {
            if let Some(block) = per_block.get_mut(view.agent_index) {
                block.push((rule_id(id), *view));
            }
        }
        let mut errors = Vec::new();
        let mut checks = GlobChecks::default();
        let mut kind_units: [Vec<AgentUnit>; 3] = Default::default();
        for (kind, units) in ItemKind::ALL.into_iter().zip(kind_units.iter_mut()) {
            units.reserve(policy.agents.len());
            for block in &per_block {
                // The block's server rules and its rules of this kind.
                let of_kind: Vec<(u32, RuleView<'_>)> =
                    block.iter().filter(|(_, r)| r.item.is_none_or(|(k, _)| k == kind)).copied().collect();
                match build_unit(&of_kind, &mut checks) {
                    Ok(unit) => units.push(unit),
                    Err(e) => {
                        // A server glob is in every kind's unit: report it once.
                        let d = too_complex(policy, &rules, e);
                        if !errors.contains(&d) {
                            errors.push(d);
                        }
                    }
                }
            }
        }
        if !errors.is_empty() {
            return Err(Diagnostics(errors));
        }
        let [units, resource_units, prompt_units] = kind_units;

        let mut exact: FxHashMap<Box<str>, Vec<u32>> = FxHashMap::default();
        let mut patterns = PatternSetBuilder::default();
        for (i, agent) in policy.agents.iter().enumerate() {
            match classify(&agent.key.text) {
                GlobKind::Exact(key) => exact.entry(key.into()).or_default().push(rule_id(i)),
                _ => patterns.push(&agent.key.text, rule_id(i)),
            }
        }
        let pattern_agents = patterns.build(&mut checks).map_err(|e| {
            let at = e.ids.first().and_then(|&i| policy.agents.get(i as usize));
            let message = format!("agent pattern `{}` is too complex to compile: {}", e.pattern, e.reason);
            let d = match at {
                Some(agent) => policy.located_error(&agent.key, message),
                None => Diagnostic::error(&policy.source_name, message),
            };
            Diagnostics(vec![d])
        })?;
        // Each exact key with its own blocks and every block that applies to it (its own and
        // the pattern blocks that match it, as the general path resolves them).
        let keyed: Vec<KeyedUnits> = exact
            .into_iter()
            .map(|(key, own)| {
                let mut all = own.clone();
                pattern_agents.collect(&key, &mut all);
                all.sort_unstable();
                all.dedup();
                (key, own, all.into_boxed_slice())
            })
            .collect();
        let fast = FastIndex::build(keyed.iter().map(|(key, own, all)| (&**key, &own[..], &all[..])), &units);
        let exact_agents: FxHashMap<Box<str>, Box<[u32]>> = keyed.into_iter().map(|(key, _, all)| (key, all)).collect();

        let default_agent = options
            .default_agent
            .clone()
            .or_else(|| policy.agents.iter().any(|a| a.key.text == "default").then(|| "default".to_owned()));
        Ok(DecisionTable {
            snapshot: snapshot_id(policy, default_agent.as_deref()).into(),
            rules,
            units: units.into_boxed_slice(),
            resource_units: resource_units.into_boxed_slice(),
            prompt_units: prompt_units.into_boxed_slice(),
            exact_agents,
            pattern_agents,
            unit_limits: policy.agents.iter().map(|a| a.limits).collect(),
            fast,
            defaults: policy.defaults,
            default_agent: default_agent.map(Into::into),
            source_name: policy.source_name.as_str().into(),
        })
    }

    /// The compiled units for items of `kind`, one per agent block.
    #[inline]
    pub(crate) fn units_of(&self, kind: ItemKind) -> &[AgentUnit] {
        match kind {
            ItemKind::Tool => &self.units,
            ItemKind::Resource => &self.resource_units,
            ItemKind::Prompt => &self.prompt_units,
        }
    }

    /// The snapshot id: a content hash of the normalized policy and the default agent. Two
    /// tables with the same id make the same decisions.
    pub fn snapshot_id(&self) -> &str {
        &self.snapshot
    }

    /// The policy-wide settings.
    pub fn defaults(&self) -> Defaults {
        self.defaults
    }

    /// The agent that requests without an id (and, when `deny_on_missing_agent` is false,
    /// unknown ids) are judged as.
    pub fn default_agent(&self) -> Option<&str> {
        self.default_agent.as_deref()
    }

    /// How many agent blocks the policy has.
    pub fn agent_count(&self) -> usize {
        self.units.len()
    }

    /// How many rules the policy has.
    pub fn rule_count(&self) -> usize {
        self.rules.len()
    }

    /// Approximate heap bytes used by the compiled table.
    pub fn memory_usage(&self) -> usize {
        self.units
            .iter()
            .chain(&*self.resource_units)
            .chain(&*self.prompt_units)
            .map(AgentUnit::memory_usage)
            .sum::<usize>()
            + self.rules.iter().map(|r| r.agent.len() + r.server.len() + 96).sum::<usize>()
            + self.exact_agents.iter().map(|(k, v)| k.len() + v.len() * 4 + 32).sum::<usize>()
            + self.pattern_agents.memory_usage()
            + self.fast.memory_usage()
    }

    /// The rate limits that apply to `agent` (resolved as for decisions): for each limit, the
    /// strictest value among the agent blocks that apply. Unknown agents get no limits, since
    /// they are denied anyway.
    pub fn limits_for(&self, agent: Option<&str>) -> AgentLimits {
        let mut out = AgentLimits::default();
        if let Some(units) = self.resolve(agent).units() {
            for l in units.iter().filter_map(|&u| self.unit_limits.get(u as usize)) {
                out.requests_per_second = min_some(out.requests_per_second, l.requests_per_second);
                out.max_concurrent_calls = min_some(out.max_concurrent_calls, l.max_concurrent_calls);
            }
        }
        out
    }

    /// The units that apply to a well-formed agent id, if any key matches it.
    pub(crate) fn lookup(&self, id: &str) -> Option<Cow<'_, [u32]>> {
        if let Some(units) = self.exact_agents.get(id) {
            return Some(Cow::Borrowed(units));
        }
        if self.pattern_agents.is_empty() {
            return None;
        }
        let mut units = Vec::new();
        self.pattern_agents.collect(id, &mut units);
        if units.is_empty() {
            return None;
        }
        units.sort_unstable();
        units.dedup();
        Some(Cow::Owned(units))
    }
}

/// An exact agent key, the units of its own blocks, and every unit that applies to it.
type KeyedUnits = (Box<str>, Vec<u32>, Box<[u32]>);

fn min_some(a: Option<u32>, b: Option<u32>) -> Option<u32> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Rule and block counts are bounded by the input size, far below `u32::MAX`; saturate anyway.
fn rule_id(i: usize) -> u32 {
    u32::try_from(i).unwrap_or(u32::MAX)
}

fn too_complex(policy: &PolicySet, rules: &[RuleInfo], e: GlobTooComplex) -> Diagnostic {
    let message =
        format!("pattern `{}` is too complex to compile within the automaton limits: {}", e.pattern, e.reason);
    let mut d = Diagnostic::error(&policy.source_name, message)
        .with_hint("split the pattern into simpler ones, or use fewer `*` in the middle of names");
    if let Some(rule) = e.ids.first().and_then(|&i| rules.get(i as usize)) {
        d = d.at_location(rule.source.span, rule.source.path.as_deref());
    }
    d
}
