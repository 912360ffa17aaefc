//! The error-recovering parser: source text to [`PolicySet`], with every error in the file.
//!
//! Pest stops at the first error, so the file is read one *unit* at a time (a block opening,
//! a statement, a setting or a closing `}`; see `top_unit`, `agent_unit` and `settings_unit`
//! in the grammar) by a small loop that knows which block it is in. When a unit fails, the
//! error is recorded and the loop skips to the next place where a unit can start (a line that
//! begins with a keyword, or the `}` closing the current block), so one mistake costs one
//! message and the rest of the file is still checked. The mode stack is at most three deep
//! (top level, agent, settings) and nothing recurses, so no input can exhaust the stack.
//!
//! Lowering happens as units are read, straight into the AST the JSON rules use.

use std::collections::HashMap;

use pest::Parser;
use pest::iterators::Pair;

use super::comments::{Comments, Slot, inner_comments};
use super::errors::{Failure, Mode, SyntaxError};
use super::grammar::{McpgwParser, Rule};
use super::names::{self, unescape};
use super::recover::{find_on_line, skip_to_sync};
use super::source::{Comment, LineIndex, skip_trivia, word_at};
use crate::located::suggest::did_you_mean;
use crate::located::{Diagnostic, Span};
use crate::policy::ast::{
    AgentLimits, AgentPolicy, Effect, ItemKind, Pattern, PolicySet, RuleBlock, RuleSource, ToolRules,
};

/// After this many errors the parser stops: the rest would mostly be echoes of the first ones.
pub(crate) const MAX_ERRORS: usize = 100;

/// The settings a `defaults` block takes.
const DEFAULTS_SETTINGS: [&str; 1] = ["deny_on_missing_agent"];
/// The settings a `limits` block takes.
const LIMITS_SETTINGS: [&str; 2] = ["requests_per_second", "max_concurrent_calls"];

/// What [`parse`] found: the policy as far as it could be read, every error, and the comments
/// (for the formatter, which keeps them).
pub(crate) struct Parsed {
    /// The lowered policy; only meaningful when `errors` is empty.
    pub policy: PolicySet,
    /// Syntax and lowering errors, each with its line text attached, in source order.
    pub errors: Vec<Diagnostic>,
    /// Every comment, attached to the line of the canonical text it belongs to.
    pub comments: Comments,
}

/// Parses and lowers a whole `.mcpgw` source. Never panics, whatever the input.
pub(crate) fn parse(source_name: &str, text: &str) -> Parsed {
    let mut p = Driver {
        text,
        file: source_name,
        lines: LineIndex::new(text),
        pos: 0,
        last_end: 0,
        after_list: false,
        policy: PolicySet::empty(source_name),
        errors: Vec::new(),
        found: Vec::new(),
        pending: Vec::new(),
        comments: Comments::default(),
        last_slot: None,
        seen_unit: false,
        agent_keys: HashMap::new(),
        defaults_at: None,
        agent: None,
        settings: None,
    };
    p.run();
    let pending = std::mem::take(&mut p.pending);
    let end = if p.seen_unit { Slot::End } else { Slot::Header };
    for c in pending {
        p.comments.lead(end.clone(), &c.text);
    }
    let mut errors = p.errors;
    errors.sort_by_key(|d| d.span.map_or((u32::MAX, u32::MAX), |s| (s.line, s.column)));
    Parsed { policy: p.policy, errors, comments: p.comments }
}

/// An `agent` block being read.
struct OpenAgent {
    agent: AgentPolicy,
    /// Byte offset of the `agent` keyword.
    opened_at: usize,
    /// `agent backend`, for messages.
    label: String,
    /// False for a block that must not reach the policy (a duplicate, or one whose opening
    /// line failed to parse); its body is still checked.
    keep: bool,
    /// Where each limit was set, to report a second setting of the same limit.
    limits_set: Vec<(&'static str, Span)>,
    /// Index into the item rules of each (allow?, kind, server pattern) group, for merging in O(1).
    tool_groups: HashMap<(bool, ItemKind, String), usize>,
}

/// Which settings block is open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SettingsKind {
    Defaults,
    Limits,
}

/// A `defaults` or `limits` block being read.
struct OpenSettings {
    kind: SettingsKind,
    opened_at: usize,
    keep: bool,
    /// Settings given in this block (defaults only; limits are tracked per agent).
    seen: Vec<(&'static str, Span)>,
}

impl SettingsKind {
    fn keyword(self) -> &'static str {
        match self {
            SettingsKind::Defaults => "defaults",
            SettingsKind::Limits => "limits",
        }
    }

    fn settings(self) -> &'static [&'static str] {
        match self {
            SettingsKind::Defaults => &DEFAULTS_SETTINGS,
            SettingsKind::Limits => &LIMITS_SETTINGS,
        }
    }
}

struct Driver<'t> {
    text: &'t str,
    file: &'t str,
    lines: LineIndex<'t>,
    /// Byte offset of the next unit.
    pos: usize,
    /// End of the last unit that parsed, where a missing `}` at the end of the file belongs.
    last_end: usize,
    /// Whether the last unit was a rule, whose list of names a `,` would have continued.
    after_list: bool,
    policy: PolicySet,
    errors: Vec<Diagnostic>,
    /// Comments just skipped, not yet attached.
    found: Vec<Comment>,
    /// Comments on their own lines, waiting for the unit they stand above.
    pending: Vec<Comment>,
    comments: Comments,
    /// The slot of the last unit read, which a comment later on its line trails.
    last_slot: Option<Slot>,
    /// Whether any unit has been read (comments above the first may be the file's header).
    seen_unit: bool,
    /// First span of every agent key seen, to report duplicate blocks.
    agent_keys: HashMap<String, Span>,
    /// Where the first `defaults` block was.
    defaults_at: Option<Span>,
    agent: Option<OpenAgent>,
    settings: Option<OpenSettings>,
}

impl Driver<'_> {
    fn mode(&self) -> Mode {
        if self.settings.is_some() {
            Mode::Settings
        } else if self.agent.is_some() {
            Mode::Agent
        } else {
            Mode::Top
        }
    }

    fn span(&self, offset: usize) -> Span {
        self.lines.span(offset)
    }

    fn error(&mut self, offset: usize, message: String, hint: Option<String>) {
        let span = self.span(offset);
        let mut d = Diagnostic::error(self.file, message).at(span).with_line_text(self.lines.shown_line(span));
        d.hint = hint;
        self.errors.push(d);
    }

    fn run(&mut self) {
        loop {
            if self.errors.len() >= MAX_ERRORS {
                self.errors.push(Diagnostic::error(
                    self.file,
                    format!("too many errors; stopped after the first {MAX_ERRORS}"),
                ));
                return;
            }
            self.pos = skip_trivia(self.text, self.pos, &mut self.found);
            for c in std::mem::take(&mut self.found) {
                match (&self.last_slot, c.trailing) {
                    (Some(slot), true) => self.comments.trail(slot.clone(), &c.text),
                    _ => self.pending.push(c),
                }
            }
            if self.pos >= self.text.len() {
                self.end_of_file();
                return;
            }
            if self.close_before_outer_keyword() {
                continue;
            }
            let mode = self.mode();
            let rule = match mode {
                Mode::Top => Rule::top_unit,
                Mode::Agent => Rule::agent_unit,
                Mode::Settings => Rule::settings_unit,
            };
            let base = self.pos;
            let rest = self.text.get(base..).unwrap_or("");
            match McpgwParser::parse(rule, rest) {
                Ok(mut pairs) => {
                    let Some(unit) = pairs.next() else { return };
                    // End at the unit's last token, not after the layout pest may have taken
                    // with it: comments there belong to the next unit, and a missing `}` at the
                    // end of the file is shown right after the last token.
                    let end = base + last_token_end(&unit);
                    self.after_list = false;
                    let start = base + unit.as_span().start();
                    for item in unit.into_inner() {
                        if let Some(slot) = self.unit(base, item) {
                            self.attach(slot, start, end);
                        }
                    }
                    if end <= base {
                        // Every unit consumes a token; this guards the loop against a grammar slip.
                        return;
                    }
                    self.pos = end;
                    self.last_end = end;
                }
                Err(e) => {
                    let failure = Failure { text: self.text, unit_start: base, mode, after_list: self.after_list };
                    let err = failure.explain(&e);
                    let offset = err.offset;
                    self.syntax_error(err);
                    self.after_list = false;
                    self.recover(mode, base, offset);
                }
            }
        }
    }

    fn syntax_error(&mut self, err: SyntaxError) {
        self.error(err.offset, err.message, err.hint);
    }

    /// A keyword that only makes sense outside the open block means its `}` is missing: say so,
    /// close the block, and read the keyword again one level out.
    fn close_before_outer_keyword(&mut self) -> bool {
        let word = word_at(self.text, self.pos).unwrap_or("");
        let outer = match self.mode() {
            Mode::Settings => ["allow", "deny", "limits", "agent", "defaults"].contains(&word),
            Mode::Agent => ["agent", "defaults"].contains(&word),
            Mode::Top => false,
        };
        if !outer {
            return false;
        }
        let hint = self.unclosed_hint();
        self.error(self.pos, format!("missing `}}` before `{word}`"), Some(hint));
        self.close_block();
        true
    }

    /// "the `limits` block opened at line 4 is not closed", naming every open block.
    fn unclosed_hint(&self) -> String {
        let mut open = Vec::new();
        if let Some(s) = &self.settings {
            open.push(format!("the `{}` block opened at line {}", s.kind.keyword(), self.span(s.opened_at).line));
        }
        if let Some(a) = &self.agent
            && self.settings.is_none()
        {
            open.push(format!("the `{}` block opened at line {}", a.label, self.span(a.opened_at).line));
        }
        let verb = if open.len() > 1 { "are" } else { "is" };
        format!("{} {verb} not closed", open.join(" and "))
    }

    fn end_of_file(&mut self) {
        while self.settings.is_some() || self.agent.is_some() {
            let mut open = Vec::new();
            if let Some(s) = &self.settings {
                open.push(format!("the `{}` block opened at line {}", s.kind.keyword(), self.span(s.opened_at).line));
            }
            if let Some(a) = &self.agent {
                open.push(format!("the `{}` block opened at line {}", a.label, self.span(a.opened_at).line));
            }
            let verb = if open.len() > 1 { "are" } else { "is" };
            let hint = format!("{} {verb} not closed", open.join(" and "));
            self.error(self.last_end, "missing `}` at the end of the file".to_owned(), Some(hint));
            self.close_block();
            self.close_block();
        }
    }

    /// Skips past a failed unit to the next place a unit can start.
    ///
    /// A failed block opening (`agent x y {`) still opens its block, marked so that it does not
    /// reach the policy, so errors inside the block are reported too. Otherwise the skip stops
    /// at the `}` that closes the current block, or at a line whose first word can start a
    /// unit here; braces opened inside the skipped text are matched so their contents stay
    /// skipped.
    fn recover(&mut self, mode: Mode, unit_start: usize, error_at: usize) {
        if let Some(kind) = self.failed_opener(mode, unit_start)
            && let Some(brace) = find_on_line(self.text, unit_start, '{')
            && brace >= error_at
        {
            match kind {
                Opener::Agent => {
                    self.agent = Some(OpenAgent {
                        agent: empty_agent(Pattern { text: String::new(), source: RuleSource::default() }),
                        opened_at: unit_start,
                        label: "agent".to_owned(),
                        keep: false,
                        limits_set: Vec::new(),
                        tool_groups: HashMap::new(),
                    });
                }
                Opener::Defaults | Opener::Limits => {
                    let kind = if kind == Opener::Limits { SettingsKind::Limits } else { SettingsKind::Defaults };
                    self.settings = Some(OpenSettings { kind, opened_at: unit_start, keep: false, seen: Vec::new() });
                }
            }
            self.pos = brace + 1;
            return;
        }
        self.pos = skip_to_sync(self.text, mode, unit_start, error_at);
    }

    /// Whether a failed unit looks like a block opening (its first word is, or is close to,
    /// a block keyword that may appear here).
    fn failed_opener(&self, mode: Mode, unit_start: usize) -> Option<Opener> {
        let word = word_at(self.text, unit_start)?;
        let candidates: &[&str] = match mode {
            Mode::Top => &["agent", "defaults"],
            Mode::Agent => &["limits"],
            Mode::Settings => &[],
        };
        let keyword = if candidates.contains(&word) {
            word
        } else {
            let hint = did_you_mean(word, candidates.iter().copied())?;
            candidates.iter().copied().find(|c| hint.contains(&format!("`{c}`")))?
        };
        match keyword {
            "agent" => Some(Opener::Agent),
            "defaults" => Some(Opener::Defaults),
            "limits" => Some(Opener::Limits),
            _ => None,
        }
    }

    /// Lowers one parsed unit and returns the slot its comments go to. `base` is the byte
    /// offset the pairs' positions are relative to.
    fn unit(&mut self, base: usize, pair: Pair<'_, Rule>) -> Option<Slot> {
        let agent = self.policy.agents.len();
        let slot = match pair.as_rule() {
            Rule::defaults_open => {
                self.open_defaults(base, &pair);
                Slot::Defaults
            }
            Rule::agent_open => {
                self.open_agent(base, pair);
                Slot::Agent(agent)
            }
            Rule::limits_open => {
                self.open_limits(base, &pair);
                Slot::Limits(agent)
            }
            Rule::rule_statement => {
                self.after_list = true;
                let (effect, server) = self.rule_statement(base, pair);
                Slot::Rule(agent, effect, server)
            }
            Rule::setting => match self.setting(base, pair) {
                Some(name) if self.settings.as_ref().is_some_and(|s| s.kind == SettingsKind::Limits) => {
                    Slot::Limit(agent, name)
                }
                Some(_) => Slot::DefaultsSetting,
                None => Slot::Limits(agent),
            },
            Rule::block_close => {
                let slot = match (self.settings.as_ref().map(|s| s.kind), self.agent.is_some()) {
                    (Some(SettingsKind::Defaults), _) => Slot::DefaultsEnd,
                    (Some(SettingsKind::Limits), _) => Slot::LimitsEnd(agent),
                    (None, _) => Slot::AgentEnd(agent),
                };
                self.close_block();
                slot
            }
            _ => return None,
        };
        Some(slot)
    }

    /// Attaches the waiting comments, and those inside the unit, above the unit's slot.
    fn attach(&mut self, slot: Slot, start: usize, end: usize) {
        let pending = std::mem::take(&mut self.pending);
        let mut header_until = 0;
        if !self.seen_unit {
            self.seen_unit = true;
            // Comments above the first block that a blank line separates from it are the
            // file's header, and stay at the top even when the block moves down.
            let mut next_line = self.span(start).line;
            for (i, c) in pending.iter().enumerate().rev() {
                let line = self.span(c.offset).line;
                if next_line.saturating_sub(line) >= 2 {
                    header_until = i + 1;
                    break;
                }
                next_line = line;
            }
        }
        for (i, c) in pending.iter().enumerate() {
            let to = if i < header_until { Slot::Header } else { slot.clone() };
            self.comments.lead(to, &c.text);
        }
        for c in inner_comments(self.text, start, end) {
            self.comments.lead(slot.clone(), &c.text);
        }
        self.last_slot = Some(slot);
    }

    fn open_defaults(&mut self, base: usize, pair: &Pair<'_, Rule>) {
        let at = base + pair.as_span().start();
        let span = self.span(at);
        let keep = match self.defaults_at {
            Some(first) => {
                self.error(
                    at,
                    "duplicate `defaults` block".to_owned(),
                    Some(format!("the first `defaults` block is at line {}; merge the two", first.line)),
                );
                false
            }
            None => {
                self.defaults_at = Some(span);
                true
            }
        };
        self.settings = Some(OpenSettings { kind: SettingsKind::Defaults, opened_at: at, keep, seen: Vec::new() });
    }

    fn open_agent(&mut self, base: usize, pair: Pair<'_, Rule>) {
        let at = base + pair.as_span().start();
        let Some(name) = pair.into_inner().find(|p| p.as_rule() == Rule::name) else { return };
        let key_at = base + name.as_span().start();
        let key = self.name(base, name);
        let label = format!("agent {}", names::name(&key.text));
        let keep = match self.agent_keys.get(&key.text) {
            Some(first) => {
                let first_line = first.line;
                self.error(
                    key_at,
                    format!("duplicate agent block `{}`", key.text),
                    Some(format!("`{label}` is already defined at line {first_line}; merge the two blocks into one")),
                );
                false
            }
            None => {
                self.agent_keys.insert(key.text.clone(), key.source.span);
                true
            }
        };
        self.agent = Some(OpenAgent {
            agent: empty_agent(key),
            opened_at: at,
            label,
            keep,
            limits_set: Vec::new(),
            tool_groups: HashMap::new(),
        });
    }

    fn open_limits(&mut self, base: usize, pair: &Pair<'_, Rule>) {
        let at = base + pair.as_span().start();
        let keep = self.agent.as_ref().is_some_and(|a| a.keep);
        self.settings = Some(OpenSettings { kind: SettingsKind::Limits, opened_at: at, keep, seen: Vec::new() });
    }

    /// Closes the innermost open block, adding a finished agent block to the policy.
    fn close_block(&mut self) {
        if self.settings.take().is_some() {
            return;
        }
        if let Some(open) = self.agent.take()
            && open.keep
        {
            self.policy.agents.push(open.agent);
        }
    }

    /// `allow servers a, b`, `deny tools on s: t, u`, `allow resources on s: "uri"` or
    /// `deny prompts on s: p`.
    ///
    /// Several statements for the same side and the same server pattern in one block are
    /// merged into one [`ToolRules`], at the place of the first, so a policy has the same AST
    /// whether it was written in the DSL or as JSON (where a server key can appear only once).
    fn rule_statement(&mut self, base: usize, pair: Pair<'_, Rule>) -> (Effect, Option<(ItemKind, String)>) {
        let mut allow = true;
        let mut servers: Vec<Pattern> = Vec::new();
        let mut tools: Option<(ItemKind, Pattern, Vec<Pattern>)> = None;
        for part in pair.into_inner() {
            match part.as_rule() {
                Rule::effect => allow = part.into_inner().next().is_some_and(|k| k.as_rule() == Rule::kw_allow),
                Rule::servers_rule => {
                    for p in part.into_inner() {
                        if p.as_rule() == Rule::name_list {
                            servers = self.name_list(base, p);
                        }
                    }
                }
                Rule::tools_rule | Rule::resources_rule | Rule::prompts_rule => {
                    let kind = match part.as_rule() {
                        Rule::resources_rule => ItemKind::Resource,
                        Rule::prompts_rule => ItemKind::Prompt,
                        _ => ItemKind::Tool,
                    };
                    let mut server = None;
                    let mut list = Vec::new();
                    for p in part.into_inner() {
                        match p.as_rule() {
                            Rule::name => server = Some(self.name(base, p)),
                            Rule::name_list => list = self.name_list(base, p),
                            _ => {}
                        }
                    }
                    tools = server.map(|s| (kind, s, list));
                }
                _ => {}
            }
        }
        let effect = if allow { Effect::Allow } else { Effect::Deny };
        let server_text = tools.as_ref().map(|(kind, server, _)| (*kind, server.text.clone()));
        let Some(open) = self.agent.as_mut() else { return (effect, server_text) };
        let block = if allow { &mut open.agent.allow } else { &mut open.agent.deny };
        block.servers.extend(servers);
        if let Some((kind, server, list)) = tools {
            let group = (allow, kind, server.text.clone());
            let items = block.items_mut(kind);
            match open.tool_groups.get(&group).and_then(|&i| items.get_mut(i)) {
                Some(existing) => existing.tools.extend(list),
                None => {
                    open.tool_groups.insert(group, items.len());
                    items.push(ToolRules { server, tools: list });
                }
            }
        }
        (effect, server_text)
    }

    fn name_list(&mut self, base: usize, pair: Pair<'_, Rule>) -> Vec<Pattern> {
        pair.into_inner().filter(|p| p.as_rule() == Rule::name).map(|p| self.name(base, p)).collect()
    }

    /// A bare or quoted name as a [`Pattern`] located at its first character.
    fn name(&mut self, base: usize, pair: Pair<'_, Rule>) -> Pattern {
        let at = base + pair.as_span().start();
        let source = RuleSource { path: None, span: self.span(at) };
        let Some(inner) = pair.into_inner().next() else {
            return Pattern { text: String::new(), source };
        };
        let text = match inner.as_rule() {
            Rule::quoted_name => {
                let raw = inner.into_inner().next();
                let raw_at = raw.as_ref().map_or(at + 1, |r| base + r.as_span().start());
                let raw_text = raw.as_ref().map_or("", |r| r.as_str());
                let (text, problems) = unescape(raw_text);
                if problems.is_empty() {
                    text
                } else {
                    for problem in problems {
                        self.error(raw_at + problem.offset, problem.message, Some(problem.hint.to_owned()));
                    }
                    // Keep the text as written, so later checks do not add echoes of this error.
                    raw_text.to_owned()
                }
            }
            _ => inner.as_str().to_owned(),
        };
        Pattern { text, source }
    }

    /// `name = value` inside `defaults` or `limits`; returns the setting's name when it is a
    /// known one.
    fn setting(&mut self, base: usize, pair: Pair<'_, Rule>) -> Option<&'static str> {
        let kind = self.settings.as_ref().map(|s| s.kind)?;
        let mut name_pair = None;
        let mut value_pair = None;
        for p in pair.into_inner() {
            match p.as_rule() {
                Rule::setting_name => name_pair = Some(p),
                Rule::boolean | Rule::integer => value_pair = Some(p),
                _ => {}
            }
        }
        let (Some(name_pair), Some(value_pair)) = (name_pair, value_pair) else { return None };
        let name_at = base + name_pair.as_span().start();
        let value_at = base + value_pair.as_span().start();
        let written = name_pair.as_str();
        let Some(&name) = kind.settings().iter().find(|&&s| s == written) else {
            let known = kind.settings().iter().map(|s| format!("`{s}`")).collect::<Vec<_>>();
            let expected = match known.as_slice() {
                [one] => one.clone(),
                [init @ .., last] => format!("{} or {last}", init.join(", ")),
                [] => String::new(),
            };
            let hint = did_you_mean(written, kind.settings().iter().copied());
            let message = format!("unknown setting `{written}` in `{}`, expected {expected}", kind.keyword());
            self.error(name_at, message, hint);
            return None;
        };
        let span = self.span(name_at);
        let first = match kind {
            SettingsKind::Defaults => self.settings.as_ref().and_then(|s| s.seen.iter().find(|(n, _)| *n == name)),
            SettingsKind::Limits => self.agent.as_ref().and_then(|a| a.limits_set.iter().find(|(n, _)| *n == name)),
        }
        .map(|&(_, s)| s);
        if let Some(first) = first {
            self.error(
                name_at,
                format!("`{name}` is set twice"),
                Some(format!("it is first set at line {}; keep one", first.line)),
            );
            return Some(name);
        }
        match kind {
            SettingsKind::Defaults => {
                if let Some(s) = self.settings.as_mut() {
                    s.seen.push((name, span));
                }
            }
            SettingsKind::Limits => {
                if let Some(a) = self.agent.as_mut() {
                    a.limits_set.push((name, span));
                }
            }
        }
        let value = value_pair.as_str();
        let keep = self.settings.as_ref().is_some_and(|s| s.keep);
        match (name, value_pair.as_rule()) {
            ("deny_on_missing_agent", Rule::boolean) => {
                if keep {
                    self.policy.defaults.deny_on_missing_agent = value == "true";
                }
            }
            ("deny_on_missing_agent", _) => {
                self.error(value_at, format!("expected `true` or `false` for `{name}`, found `{value}`"), None);
            }
            (_, Rule::integer) => match value.parse::<u32>() {
                Ok(n) if n > 0 => {
                    if let Some(a) = self.agent.as_mut().filter(|_| keep) {
                        set_limit(&mut a.agent.limits, name, n);
                    }
                }
                _ => self.error(
                    value_at,
                    format!("expected a whole number from 1 to {} for `{name}`, found `{value}`", u32::MAX),
                    Some("leave the setting out for no limit".to_owned()),
                ),
            },
            (_, _) => {
                self.error(value_at, format!("expected a whole number for `{name}`, found `{value}`"), None);
            }
        }
        Some(name)
    }
}

/// Which block a failed opening line was trying to open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Opener {
    Agent,
    Defaults,
    Limits,
}

/// The end of the last token in a unit (relative to the unit's input). Composite rules that
/// end in a repetition can span trailing layout; tokens (pairs without children, and quoted
/// names, whose only child stops before the closing quote) cannot.
fn last_token_end(unit: &Pair<'_, Rule>) -> usize {
    unit.clone()
        .into_inner()
        .flatten()
        .filter(|p| p.as_rule() == Rule::quoted_name || p.clone().into_inner().next().is_none())
        .map(|p| p.as_span().end())
        .max()
        .unwrap_or_else(|| unit.as_span().end())
}

fn empty_agent(key: Pattern) -> AgentPolicy {
    AgentPolicy { key, allow: RuleBlock::default(), deny: RuleBlock::default(), limits: AgentLimits::default() }
}

fn set_limit(limits: &mut AgentLimits, name: &str, n: u32) {
    match name {
        "requests_per_second" => limits.requests_per_second = Some(n),
        "max_concurrent_calls" => limits.max_concurrent_calls = Some(n),
        _ => {}
    }
}
