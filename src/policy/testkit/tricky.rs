//! The vocabulary of the property tests and fuzz targets: small policies whose names collide
//! (a few letters and `*`) and stress quoting and escaping in both syntaxes (quotes, escapes,
//! layout, control and direction characters, the DSL's own punctuation and keywords), and
//! the requests to ask them, many built from the policy's own patterns so that rules match.

use crate::policy::ast::{AgentPolicy, ItemKind, PolicySet};
use crate::policy::testkit::choices::Choices;
use crate::policy::testkit::generate::{self, Count, OwnedRequest, Shape, Vocabulary, matching_name};

/// Characters of server and tool patterns: mostly a few letters and `*` so that patterns and
/// names collide, plus regex metacharacters, everything that stresses quoting and escaping,
/// and non-ASCII.
const PATTERN_CHARS: [char; 41] = [
    'a', 'b', 'a', 'b', 'a', '*', '*', '.', '-', '_', 'A', 'Z', '0', 'é', 'я', ' ', '"', '\\', '#', ',', ':', '{', '}',
    '\t', '\n', '\r', '\u{0}', '\u{7f}', '\u{202e}', '😀', '?', '[', ']', '(', ')', '+', '^', '$', '|', '/', '=',
];

/// Characters of agent keys (all valid in keys).
const KEY_CHARS: [char; 8] = ['a', 'b', '.', '*', '-', '_', '0', 'Z'];

/// Whole keys worth trying: the default agent, globs, and the DSL's keywords.
const KEYS: [&str; 10] = ["default", "a", "a.*", "*", "b", "allow", "deny", "agent", "a-b_0", "backend.*"];

/// Whole words worth trying as names: keywords of the DSL, and the usual globs.
const WORDS: [&str; 14] = [
    "allow", "deny", "agent", "defaults", "limits", "servers", "tools", "on", "true", "false", "*", "list_*",
    "default", "a.*",
];

/// Fills for `*` when a request name is made from a pattern.
const FILLS: [&str; 6] = ["", "a", "b", "ab", "x.y", "*"];

/// Agent ids for requests that are not made from keys, valid and not.
const AGENTS: [&str; 11] = ["a", "b", "default", "ghost", "", "a b", "*", "a.b", "ab", "a-b", "ba"];

/// The tricky vocabulary.
#[derive(Debug, Clone, Copy, Default)]
pub struct Tricky {
    /// Patterns may be empty (which only the structural check refuses).
    pub empty_patterns: bool,
}

impl Tricky {
    /// A pattern: a keyword or glob now and then, else one to four (or, with
    /// `empty_patterns`, zero to four) characters.
    pub fn pattern_text(self, c: &mut Choices<'_>) -> String {
        if c.chance(20) {
            return c.pick_or(&WORDS, "*").to_owned();
        }
        let len = usize::from(!self.empty_patterns) + c.below(4 + usize::from(self.empty_patterns));
        (0..len).map(|_| c.pick_or(&PATTERN_CHARS, 'a')).collect()
    }

    /// A name without `*`, for a request that no pattern was made for.
    fn name(self, c: &mut Choices<'_>) -> String {
        self.pattern_text(c).replace('*', "")
    }
}

impl Vocabulary for Tricky {
    fn servers(&mut self, c: &mut Choices<'_>) -> Vec<String> {
        (0..1 + c.below(4)).map(|_| self.pattern_text(c)).collect()
    }

    fn agent_key(&mut self, c: &mut Choices<'_>, _block: usize, _blocks: usize) -> String {
        if c.chance(25) {
            return c.pick_or(&KEYS, "a").to_owned();
        }
        (0..1 + c.below(4)).map(|_| c.pick_or(&KEY_CHARS, 'a')).collect()
    }

    fn tool_pattern(&mut self, c: &mut Choices<'_>) -> String {
        self.pattern_text(c)
    }

    fn item_pattern(&mut self, c: &mut Choices<'_>, kind: ItemKind) -> String {
        // URIs are full of characters that are literal in a glob; mix them into the names.
        if kind == ItemKind::Resource && c.chance(50) {
            let tail = self.pattern_text(c);
            return format!("{}{tail}", c.pick_or(&URI_HEADS, "file:///"));
        }
        self.pattern_text(c)
    }
}

/// Beginnings of resource-URI patterns: schemes, paths, and the characters (`? # . :`) that
/// other glob dialects would read as syntax.
const URI_HEADS: [&str; 6] = ["file:///", "file:///srv/*/", "https://a.b/?q=", "x:a#", "*://", "a.b?"];

/// The shape of a tricky policy: up to four blocks of up to a dozen tool rules, every choice
/// likely to go either way.
pub const SHAPE: Shape = Shape {
    source_name: "generated",
    blocks: Count::Below(5),
    unique_keys: false,
    rules: Count::Below(12),
    allowed: (0, 4),
    allow_any_server: 15,
    deny_server: 40,
    open_server: 50,
    deny_rule: 40,
    any_server_key: [15, 25],
    other_server_key_below: 45,
    item_kinds: [25, 20],
    limits: 30,
    allow_missing_agent: 50,
};

/// The default agents a policy is compiled with: none, a key, or an id no key may match.
const DEFAULT_AGENTS: [Option<&str>; 4] = [None, Some("default"), Some("a"), Some("ghost")];

/// A decoded input: a policy, how to compile it, and what to ask it.
#[derive(Debug, Clone)]
pub struct Generated {
    /// A valid policy (agent keys valid, patterns non-empty unless asked for).
    pub policy: PolicySet,
    /// The `--default-agent` to compile with.
    pub default_agent: Option<String>,
    /// Requests, many of them built from the policy's own patterns so that rules match.
    pub requests: Vec<OwnedRequest>,
    /// Drives the layout choices of the DSL writer.
    pub layout_seed: u32,
}

/// How to decode an input.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// Agent keys are unique, as both syntaxes require; otherwise they may repeat, which the
    /// AST allows.
    pub unique_keys: bool,
    /// Patterns may be empty.
    pub empty_patterns: bool,
}

/// Decodes `data` into a policy, a default agent and requests.
pub fn generate(data: &[u8], options: Options) -> Generated {
    let mut c = Choices::from_bytes(data);
    let c = &mut c;
    let default_agent = c.pick_or(&DEFAULT_AGENTS, None).map(str::to_owned);
    let layout_seed = c.word();
    let policy = self::policy(c, options);
    let mut requests = Vec::new();
    while !c.is_exhausted() && requests.len() < 64 {
        requests.push(request(c, &policy, options));
    }
    // A few fixed requests, so that even a short input asks something.
    for agent in [None, Some("a"), Some("default"), Some("ghost")] {
        let agent = agent.map(str::to_owned);
        let on_a = |tool: Option<&str>, kind| OwnedRequest {
            agent: agent.clone(),
            server: "a".to_owned(),
            tool: tool.map(str::to_owned),
            kind,
        };
        requests.push(on_a(None, ItemKind::Tool));
        for kind in ItemKind::ALL {
            requests.push(on_a(Some("b"), kind));
        }
    }
    Generated { policy, default_agent, requests, layout_seed }
}

/// A tricky policy read from `c`.
pub fn policy(c: &mut Choices<'_>, options: Options) -> PolicySet {
    let shape = Shape { unique_keys: options.unique_keys, ..SHAPE };
    generate::policy(c, &shape, &mut Tricky { empty_patterns: options.empty_patterns })
}

/// One tricky agent block, its key included.
pub fn agent(c: &mut Choices<'_>, options: Options) -> AgentPolicy {
    let words = &mut Tricky { empty_patterns: options.empty_patterns };
    let key = words.agent_key(c, 0, 1);
    generate::agent(c, &SHAPE, words, key)
}

/// A request to ask `policy`: by no agent, a listed id, or an id made from one of its keys;
/// about a server and tool made from one of its rules, or names no rule was made for.
pub fn request(c: &mut Choices<'_>, policy: &PolicySet, options: Options) -> OwnedRequest {
    let words = Tricky { empty_patterns: options.empty_patterns };
    let keys: Vec<&str> = policy.agents.iter().map(|a| a.key.text.as_str()).collect();
    let agent = match c.below(4) {
        0 => None,
        1 => Some(c.pick_or(&AGENTS, "a").to_owned()),
        _ => match c.pick(&keys) {
            Some(key) => Some(matching_name(c, key, &FILLS)),
            None => Some(c.pick_or(&AGENTS, "a").to_owned()),
        },
    };
    let rules: Vec<_> = policy.rules().collect();
    let rule = if c.chance(75) { c.pick(&rules) } else { None };
    // Mostly the rule's own kind; sometimes another, to check that kinds stay apart.
    let any_kind = |c: &mut Choices<'_>| c.pick_or(&ItemKind::ALL, ItemKind::Tool);
    let (server, tool, kind) = match rule {
        Some(rule) => {
            let server = matching_name(c, &rule.server.text, &FILLS);
            let (tool, kind) = match rule.item {
                Some((kind, t)) if c.chance(70) => {
                    let kind = if c.chance(80) { kind } else { any_kind(c) };
                    (Some(matching_name(c, &t.text, &FILLS)), kind)
                }
                _ if c.chance(50) => (Some(words.pattern_text(c)), any_kind(c)),
                _ => (None, ItemKind::Tool),
            };
            (server, tool, kind)
        }
        None => {
            let server = words.name(c);
            let tool = c.chance(50).then(|| words.name(c));
            (server, tool, any_kind(c))
        }
    };
    OwnedRequest { agent, server, tool, kind }
}
