//! Property functions for fuzzing, shared by the cargo-fuzz targets in `fuzz/fuzz_targets/`
//! and by `tests/fuzz_regressions.rs`, which replays the seed corpus and every crash found.
//!
//! Each property takes the raw fuzz input and returns `Err` with a description when the
//! property does not hold; a panic inside the library is a failure too (the fuzzer catches it,
//! and so does the test harness). Inputs longer than a property's cap are accepted without
//! checking, so the fuzzer spends its time on small inputs.
//!
//! The structured properties decode their input with a small byte reader ([`generate`]) into
//! a policy and a list of requests, so that a crash file is self-contained and replays without
//! the `arbitrary` crate. Like the rest of [`crate::policy`], this module is pure and does not
//! panic.

use crate::policy::ast::{
    AgentLimits, AgentPolicy, Defaults, Effect, Pattern, PolicySet, RuleBlock, RuleSource, ToolRules,
};
use crate::policy::decide::Request;
use crate::policy::dsl::{format_dsl_str, to_dsl_string};
use crate::policy::explain::{Explanation, RuleRef};
use crate::policy::json::print::to_json_string;
use crate::policy::reference::reference_decide;
use crate::policy::table::{CompileOptions, DecisionTable};

/// The longest text input the parser properties look at.
pub const MAX_TEXT_LEN: usize = 16 * 1024;
/// The longest input the structured properties look at.
pub const MAX_STRUCTURED_LEN: usize = 2048;

/// What a property returns: `Err` describes a violation.
pub type Outcome = Result<(), String>;

/// A property: raw fuzz input in, verdict out.
pub type Property = fn(&[u8]) -> Outcome;

/// Every property, by the name of its fuzz target (and of its corpus and regression folders).
pub const PROPERTIES: [(&str, Property); 5] = [
    ("dsl_parse_never_panics", dsl_parse_never_panics),
    ("json_parse_never_panics", json_parse_never_panics),
    ("json_dsl_json_preserves_decisions", json_dsl_json_preserves_decisions),
    ("dsl_json_dsl_preserves_decisions", dsl_json_dsl_preserves_decisions),
    ("decide_matches_reference", decide_matches_reference),
];

/// The property of a fuzz target, by name.
pub fn property(target: &str) -> Option<Property> {
    PROPERTIES.iter().find(|(name, _)| *name == target).map(|(_, p)| *p)
}

// ---------------------------------------------------------------------------------------------
// Text properties
// ---------------------------------------------------------------------------------------------

/// The DSL reader never panics on any input; every error it reports lies inside the text; and
/// a policy it accepts formats (with comments) to a fixed point that reads back to the same
/// policy, as does its canonical text.
pub fn dsl_parse_never_panics(data: &[u8]) -> Outcome {
    if data.len() > MAX_TEXT_LEN {
        return Ok(());
    }
    let text = String::from_utf8_lossy(data);
    let policy = match PolicySet::from_dsl_str("fuzz.mcpgw", &text) {
        Ok(p) => p,
        Err(errors) => {
            let lines = text.split('\n').count() + text.matches('\r').count();
            for d in errors.iter() {
                if d.span.is_some_and(|s| s.line == 0 || s.column == 0 || s.line as usize > lines) {
                    return Err(format!("error outside the text: {d}"));
                }
            }
            if errors.iter().next().is_none() {
                return Err("the reader failed without an error".to_owned());
            }
            let _ = errors.to_string();
            if format_dsl_str("fuzz.mcpgw", &text).is_ok() {
                return Err("format_dsl_str accepts text that from_dsl_str refuses".to_owned());
            }
            return Ok(());
        }
    };
    let json = to_json_string(&policy);
    let formatted = format_dsl_str("fuzz.mcpgw", &text).map_err(|e| format!("accepted text does not format:\n{e}"))?;
    let from_formatted = read_dsl(&formatted, "formatted text")?;
    same_text("the formatted text's policy (as JSON)", &json, &to_json_string(&from_formatted))?;
    let again =
        format_dsl_str("fuzz.mcpgw", &formatted).map_err(|e| format!("formatted text does not format:\n{e}"))?;
    same_text("formatting the formatted text", &formatted, &again)?;
    let canonical = to_dsl_string(&policy);
    let back = read_dsl(&canonical, "canonical text")?;
    same_text("the canonical text's policy (as JSON)", &json, &to_json_string(&back))?;
    check_dsl_locations(&formatted, &from_formatted)
}

/// The JSON rules reader never panics on any input; a policy it accepts prints as canonical
/// JSON that reads back to the same text, and as DSL that reads back to the same policy.
pub fn json_parse_never_panics(data: &[u8]) -> Outcome {
    if data.len() > MAX_TEXT_LEN {
        return Ok(());
    }
    let text = String::from_utf8_lossy(data);
    let policy = match PolicySet::from_json_str("fuzz.json", &text) {
        Ok(p) => p,
        Err(errors) => {
            let _ = errors.to_string();
            return if errors.iter().next().is_none() {
                Err("the reader failed without an error".to_owned())
            } else {
                Ok(())
            };
        }
    };
    let json = to_json_string(&policy);
    let back = read_json(&json, "printed JSON")?;
    same_text("printing the printed JSON's policy", &json, &to_json_string(&back))?;
    let dsl = to_dsl_string(&policy);
    let back = read_dsl(&dsl, "printed DSL")?;
    same_text("the printed DSL's policy (as JSON)", &json, &to_json_string(&back))
}

// ---------------------------------------------------------------------------------------------
// Structured properties
// ---------------------------------------------------------------------------------------------

/// JSON -> DSL -> JSON keeps every decision, the determining rules of every decision, and the
/// JSON text; and every rule read from the DSL points at its name in the DSL text.
pub fn json_dsl_json_preserves_decisions(data: &[u8]) -> Outcome {
    if data.len() > MAX_STRUCTURED_LEN {
        return Ok(());
    }
    let g = generate(data, true);
    let json = to_json_string(&g.policy);
    let from_json = read_json(&json, "printed JSON")?;
    let dsl = to_dsl_string(&from_json);
    let from_dsl = read_dsl(&dsl, "DSL printed from JSON")?;
    check_dsl_locations(&dsl, &from_dsl)?;
    let json2 = to_json_string(&from_dsl);
    same_text("JSON -> DSL -> JSON", &json, &json2)?;
    // The last JSON text is the first one, so it reads back to the same policy.
    let tables = [
        ("the generated policy", compile(&g.policy, &g)?),
        ("JSON", compile(&from_json, &g)?),
        ("JSON -> DSL", compile(&from_dsl, &g)?),
    ];
    same_decisions(&tables, &g)
}

/// DSL -> JSON -> DSL keeps every decision, the determining rules of every decision, and the
/// canonical DSL text. The DSL is written the way people write it, not canonically: statements
/// split and shuffled, tool rules for one server spread over several statements, names bare
/// or quoted, comments and odd layout between the tokens. Reading it must give the policy it
/// was written from.
pub fn dsl_json_dsl_preserves_decisions(data: &[u8]) -> Outcome {
    if data.len() > MAX_STRUCTURED_LEN {
        return Ok(());
    }
    let g = generate(data, true);
    let text = write_dsl(&g.policy, g.layout_seed);
    let from_text = read_dsl(&text, "generated DSL text")?;
    check_dsl_locations(&text, &from_text)?;
    let json = to_json_string(&from_text);
    let from_json = read_json(&json, "JSON printed from DSL")?;
    let dsl = to_dsl_string(&from_json);
    same_text("DSL -> JSON -> DSL (canonical)", &to_dsl_string(&from_text), &dsl)?;
    let from_dsl = read_dsl(&dsl, "DSL printed from JSON")?;
    check_dsl_locations(&dsl, &from_dsl)?;
    let formatted = format_dsl_str("fuzz.mcpgw", &text).map_err(|e| format!("generated DSL does not format:\n{e}"))?;
    let from_formatted = read_dsl(&formatted, "formatted DSL")?;
    same_text("formatting keeps the policy", &json, &to_json_string(&from_formatted))?;
    let tables = [
        ("the generated policy", compile(&g.policy, &g)?),
        ("DSL", compile(&from_text, &g)?),
        ("DSL -> JSON", compile(&from_json, &g)?),
        ("DSL -> JSON -> DSL", compile(&from_dsl, &g)?),
    ];
    same_decisions(&tables, &g)
}

/// The compiled table's `decide` agrees with [`reference_decide`] on every request; `explain`
/// agrees with `decide`; and the determining and overridden rules are the reference's.
pub fn decide_matches_reference(data: &[u8]) -> Outcome {
    if data.len() > MAX_STRUCTURED_LEN {
        return Ok(());
    }
    let g = generate(data, false);
    let table = compile(&g.policy, &g)?;
    for r in &g.requests {
        let req = r.as_request();
        let fast = table.decide(&req);
        let why = table.explain(&req);
        let reference = reference_decide(&g.policy, g.default_agent.as_deref(), &req);
        if fast != reference.decision {
            return Err(format!(
                "decide says {fast:?}, the reference says {:?}, for {r:?} (default agent {:?})\n{}",
                reference.decision,
                g.default_agent,
                to_json_string(&g.policy)
            ));
        }
        if why.to_decision() != fast {
            return Err(format!("explain says {:?}, decide says {fast:?}, for {r:?}", why.to_decision()));
        }
        let ids = |rules: &[RuleRef]| rules.iter().map(|x| x.id).collect::<Vec<u32>>();
        if ids(&why.determining_rules) != reference.determining || ids(&why.overridden_allows) != reference.overridden {
            return Err(format!(
                "explain's rules {:?} / {:?} differ from the reference's {:?} / {:?} for {r:?}\n{}",
                ids(&why.determining_rules),
                ids(&why.overridden_allows),
                reference.determining,
                reference.overridden,
                to_json_string(&g.policy)
            ));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

fn read_dsl(text: &str, what: &str) -> Result<PolicySet, String> {
    PolicySet::from_dsl_str("fuzz.mcpgw", text).map_err(|e| format!("{what} does not read back:\n{e}\n---\n{text}"))
}

fn read_json(text: &str, what: &str) -> Result<PolicySet, String> {
    PolicySet::from_json_str("fuzz.json", text).map_err(|e| format!("{what} does not read back:\n{e}\n---\n{text}"))
}

fn same_text(what: &str, expected: &str, got: &str) -> Outcome {
    if expected == got { Ok(()) } else { Err(format!("{what} changed the text:\n{expected}\n--- became ---\n{got}")) }
}

fn compile(policy: &PolicySet, g: &Generated) -> Result<DecisionTable, String> {
    let options = CompileOptions { default_agent: g.default_agent.clone() };
    DecisionTable::compile_with(policy, &options)
        .map_err(|e| format!("a small valid policy does not compile:\n{e}\n---\n{}", to_json_string(policy)))
}

/// What identifies a rule across syntaxes: everything but its location and number.
type RuleKey = (Effect, String, String, Option<String>, String);

fn rule_keys(rules: &[RuleRef]) -> Vec<RuleKey> {
    let mut keys: Vec<RuleKey> = rules
        .iter()
        .map(|r| (r.effect, r.agent.clone(), r.server.clone(), r.tool.clone(), r.pattern.clone()))
        .collect();
    keys.sort();
    keys
}

fn explanation_key(e: &Explanation) -> (Effect, &'static str, Vec<RuleKey>, Vec<RuleKey>) {
    (e.decision, e.reason.as_str(), rule_keys(&e.determining_rules), rule_keys(&e.overridden_allows))
}

/// Every table decides every request the same way, for the same rules (compared as a
/// multiset, since statement order and merging may renumber them).
fn same_decisions(tables: &[(&str, DecisionTable)], g: &Generated) -> Outcome {
    let Some((first_name, first)) = tables.first() else {
        return Ok(());
    };
    for r in &g.requests {
        let req = r.as_request();
        let expected = explanation_key(&first.explain(&req));
        for (name, table) in tables.iter().skip(1) {
            let got = explanation_key(&table.explain(&req));
            if got != expected {
                return Err(format!(
                    "{name} decides {r:?} as {got:?}, {first_name} as {expected:?}\n{}",
                    to_json_string(&g.policy)
                ));
            }
            if table.decide(&req) != first.decide(&req) {
                return Err(format!("{name} and {first_name} disagree on decide for {r:?}"));
            }
        }
    }
    Ok(())
}

/// Every pattern read from DSL `text` carries a location that points at its name there: the
/// opening quote of a quoted name, or the bare name itself.
fn check_dsl_locations(text: &str, policy: &PolicySet) -> Outcome {
    let lines: Vec<&str> = split_lines(text);
    let mut patterns: Vec<&Pattern> = policy.agents.iter().map(|a| &a.key).collect();
    patterns.extend(policy.rules().flat_map(|r| [r.server].into_iter().chain(r.tool)));
    for p in patterns {
        let span = p.source.span;
        if p.source.path.is_some() {
            return Err(format!("a DSL rule has a JSON path: {:?}", p.source));
        }
        let at: String = lines
            .get((span.line as usize).wrapping_sub(1))
            .map(|l| l.chars().skip((span.column as usize).saturating_sub(1)).collect())
            .unwrap_or_default();
        if !(at.starts_with('"') || at.starts_with(p.text.as_str())) {
            return Err(format!(
                "pattern `{}` is said to be at {}:{}, where the text is `{}`\n---\n{text}",
                p.text.escape_debug(),
                span.line,
                span.column,
                at.escape_debug()
            ));
        }
    }
    Ok(())
}

/// Lines as the DSL counts them: `\n`, `\r\n` and a lone `\r` each end one.
fn split_lines(text: &str) -> Vec<&str> {
    let mut lines = Vec::new();
    let mut start = 0;
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes.get(i) {
            Some(b'\n') => {
                lines.push(text.get(start..i).unwrap_or_default());
                start = i + 1;
            }
            Some(b'\r') => {
                lines.push(text.get(start..i).unwrap_or_default());
                if bytes.get(i + 1) == Some(&b'\n') {
                    i += 1;
                }
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    lines.push(text.get(start..).unwrap_or_default());
    lines
}

// ---------------------------------------------------------------------------------------------
// Decoding fuzz input into a policy and requests
// ---------------------------------------------------------------------------------------------

/// A request with owned strings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnedRequest {
    /// The agent id as given.
    pub agent: Option<String>,
    /// The server.
    pub server: String,
    /// The tool, for a tool request.
    pub tool: Option<String>,
}

impl OwnedRequest {
    /// Borrows it as a [`Request`].
    pub fn as_request(&self) -> Request<'_> {
        Request { agent: self.agent.as_deref(), server: &self.server, tool: self.tool.as_deref() }
    }
}

/// A decoded fuzz input.
#[derive(Debug, Clone)]
pub struct Generated {
    /// A valid policy (agent keys valid, patterns non-empty).
    pub policy: PolicySet,
    /// The `--default-agent` to compile with.
    pub default_agent: Option<String>,
    /// Requests, many of them built from the policy's own patterns so that rules match.
    pub requests: Vec<OwnedRequest>,
    /// Drives the layout choices of [`write_dsl`].
    pub layout_seed: u32,
}

/// Reads bytes one at a time; past the end it reads zeros.
struct Bytes<'a>(&'a [u8]);

impl Bytes<'_> {
    fn byte(&mut self) -> u8 {
        match self.0.split_first() {
            Some((b, rest)) => {
                self.0 = rest;
                *b
            }
            None => 0,
        }
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 { 0 } else { usize::from(self.byte()) % n }
    }

    fn pick<T: Copy>(&mut self, items: &[T], fallback: T) -> T {
        let i = self.below(items.len());
        items.get(i).copied().unwrap_or(fallback)
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Characters of server and tool patterns: mostly a few letters and `*` so that patterns and
/// names collide, plus everything that stresses quoting and escaping in both syntaxes.
const PATTERN_CHARS: [char; 32] = [
    'a', 'b', 'a', 'b', 'a', '*', '*', '.', '-', '_', 'A', '0', 'é', ' ', '"', '\\', '#', ',', ':', '{', '}', '\t',
    '\n', '\r', '\u{0}', '\u{7f}', '\u{202e}', '😀', '?', '[', '/', '=',
];

/// Characters of agent keys (all valid in keys).
const KEY_CHARS: [char; 7] = ['a', 'b', '.', '*', '-', '_', '0'];

/// Whole words worth trying as names: keywords of the DSL, and the usual globs.
const WORDS: [&str; 14] = [
    "allow", "deny", "agent", "defaults", "limits", "servers", "tools", "on", "true", "false", "*", "list_*",
    "default", "a.*",
];

/// Fills for `*` when a request name is made from a pattern.
const FILLS: [&str; 6] = ["", "a", "b", "ab", "x.y", "*"];

/// Agent ids for requests that are not made from keys, valid and not.
const AGENTS: [&str; 8] = ["a", "b", "default", "ghost", "", "a b", "*", "a.b"];

/// Decodes fuzz input into a policy and requests. With `unique_keys`, agent keys are unique
/// (both syntaxes require it); otherwise keys may repeat, which the AST allows.
pub fn generate(data: &[u8], unique_keys: bool) -> Generated {
    let mut b = Bytes(data);
    let flags = b.byte();
    let layout_seed = u32::from_le_bytes([b.byte(), b.byte(), b.byte(), b.byte()]);
    let default_agent = match (flags >> 1) % 4 {
        0 => None,
        1 => Some("default".to_owned()),
        2 => Some("a".to_owned()),
        _ => Some("ghost".to_owned()),
    };
    let mut agents: Vec<AgentPolicy> = Vec::new();
    for _ in 0..b.below(5) {
        let key = agent_key(&mut b);
        let allow = block(&mut b);
        let deny = block(&mut b);
        let limits = limits(&mut b);
        if unique_keys && agents.iter().any(|a| a.key.text == key) {
            continue;
        }
        agents.push(AgentPolicy { key: pattern(key), allow, deny, limits });
    }
    let policy = PolicySet {
        source_name: "generated".to_owned(),
        agents,
        defaults: Defaults { deny_on_missing_agent: flags & 1 == 0 },
    };
    let mut requests = Vec::new();
    while !b.is_empty() && requests.len() < 64 {
        requests.push(request(&mut b, &policy));
    }
    // A few fixed requests, so that even a short input asks something.
    for agent in [None, Some("a"), Some("default"), Some("ghost")] {
        requests.push(OwnedRequest { agent: agent.map(str::to_owned), server: "a".to_owned(), tool: None });
        requests.push(OwnedRequest {
            agent: agent.map(str::to_owned),
            server: "a".to_owned(),
            tool: Some("b".to_owned()),
        });
    }
    Generated { policy, default_agent, requests, layout_seed }
}

fn pattern(text: String) -> Pattern {
    Pattern { text, source: RuleSource::default() }
}

fn agent_key(b: &mut Bytes<'_>) -> String {
    let choice = b.byte();
    if choice.is_multiple_of(4) {
        return b.pick(&["default", "a", "a.*", "*", "b", "allow", "a-b_0"], "a").to_owned();
    }
    let len = 1 + b.below(4);
    (0..len).map(|_| b.pick(&KEY_CHARS, 'a')).collect()
}

fn pattern_text(b: &mut Bytes<'_>) -> String {
    let choice = b.byte();
    if choice.is_multiple_of(5) {
        return b.pick(&WORDS, "*").to_owned();
    }
    let len = 1 + b.below(4);
    (0..len).map(|_| b.pick(&PATTERN_CHARS, 'a')).collect()
}

fn block(b: &mut Bytes<'_>) -> RuleBlock {
    let servers = (0..b.below(4)).map(|_| pattern(pattern_text(b))).collect();
    let tools = (0..b.below(4))
        .map(|_| {
            let server = pattern(pattern_text(b));
            let tools = (0..b.below(4)).map(|_| pattern(pattern_text(b))).collect();
            ToolRules { server, tools }
        })
        .collect();
    RuleBlock { servers, tools }
}

fn limits(b: &mut Bytes<'_>) -> AgentLimits {
    let choice = b.byte();
    let value = |b: &mut Bytes<'_>, on: bool| {
        on.then(|| match b.byte() {
            0 => u32::MAX,
            n => u32::from(n),
        })
    };
    AgentLimits {
        requests_per_second: value(b, choice & 0x30 == 0x10),
        max_concurrent_calls: value(b, choice & 0xc0 == 0x40),
    }
}

/// A name matched by `pattern`, with each `*` filled in.
fn instance(b: &mut Bytes<'_>, pattern: &str) -> String {
    let mut out = String::new();
    for c in pattern.chars() {
        if c == '*' {
            out.push_str(b.pick(&FILLS, ""));
        } else {
            out.push(c);
        }
    }
    out
}

fn request(b: &mut Bytes<'_>, policy: &PolicySet) -> OwnedRequest {
    let choice = b.byte();
    let keys: Vec<&str> = policy.agents.iter().map(|a| a.key.text.as_str()).collect();
    let agent = match choice % 4 {
        0 => None,
        1 => Some(b.pick(&AGENTS, "a").to_owned()),
        _ if keys.is_empty() => Some(b.pick(&AGENTS, "a").to_owned()),
        _ => {
            let key = b.pick(&keys, "a");
            Some(instance(b, key))
        }
    };
    let rules: Vec<_> = policy.rules().collect();
    let (server, tool) = if rules.is_empty() || choice & 0x10 != 0 {
        let server = pattern_text(b).replace('*', "");
        let tool = (choice & 0x20 != 0).then(|| pattern_text(b).replace('*', ""));
        (server, tool)
    } else {
        let i = b.below(rules.len());
        let rule = rules.get(i).or(rules.first());
        let server = rule.map(|r| instance(b, &r.server.text)).unwrap_or_default();
        let tool = match rule.and_then(|r| r.tool) {
            Some(t) if choice & 0x20 == 0 => Some(instance(b, &t.text)),
            _ if choice & 0x40 != 0 => Some(pattern_text(b)),
            _ => None,
        };
        (server, tool)
    };
    OwnedRequest { agent, server, tool }
}

// ---------------------------------------------------------------------------------------------
// Writing DSL the way people do
// ---------------------------------------------------------------------------------------------

/// A tiny deterministic generator for layout choices.
struct Rng(u32);

impl Rng {
    fn next(&mut self) -> u32 {
        // xorshift32; a zero state would stay zero, so nudge it.
        let mut x = self.0 | 1;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.0 = x;
        x
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 { 0 } else { self.next() as usize % n }
    }
}

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
    Tools(Effect, &'p Pattern, Vec<&'p Pattern>),
    Limits(AgentLimits),
}

/// Writes `policy` as DSL text with layout chosen by `seed`: the `defaults` block first, last
/// or (when it says the default) left out; statements split into pieces and shuffled within
/// each block; names bare or quoted; separators and comments between tokens.
pub fn write_dsl(policy: &PolicySet, seed: u32) -> String {
    let mut rng = Rng(seed);
    let mut out = String::new();
    let sep = |rng: &mut Rng| SEPARATORS.get(rng.below(SEPARATORS.len())).copied().unwrap_or(" ");
    let defaults = |rng: &mut Rng| {
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
            for rules in &block.tools {
                for chunk in chunks(&mut rng, rules.tools.iter().collect()) {
                    statements.push(Statement::Tools(effect, &rules.server, chunk));
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
                Statement::Tools(effect, server, names) => {
                    out.push_str(&format!(
                        "{}{}tools{}on{}{}{}:{}",
                        effect.as_str(),
                        sep(&mut rng),
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
fn chunks<'p>(rng: &mut Rng, items: Vec<&'p Pattern>) -> Vec<Vec<&'p Pattern>> {
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

fn write_list(out: &mut String, rng: &mut Rng, names: &[&Pattern]) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_property_holds_on_small_inputs() {
        let inputs: [&[u8]; 6] = [
            b"",
            b"\x00",
            b"agent a { allow servers b }",
            &[7; 64],
            &[1, 2, 3, 4, 5, 6, 7, 8, 9, 200, 17],
            &[255; 300],
        ];
        for (name, property) in PROPERTIES {
            for input in inputs {
                if let Err(e) = property(input) {
                    panic!("{name} on {input:?}: {e}");
                }
            }
        }
    }

    #[test]
    fn generated_dsl_reads_back() {
        for seed in 0..200u32 {
            let data: Vec<u8> =
                (0..120u32).map(|i| (i.wrapping_mul(seed).wrapping_add(seed >> 2) % 251) as u8).collect();
            let g = generate(&data, true);
            let text = write_dsl(&g.policy, seed);
            assert!(PolicySet::from_dsl_str("t.mcpgw", &text).is_ok(), "{text}");
        }
    }

    /// The generator is useful only if its requests reach every kind of decision.
    #[test]
    fn generated_requests_reach_every_reason() {
        let mut seen = std::collections::BTreeSet::new();
        let mut state = 7u32;
        for _ in 0..400 {
            let data: Vec<u8> = (0..200)
                .map(|_| {
                    state = state.wrapping_mul(1_103_515_245).wrapping_add(12345);
                    (state >> 16) as u8
                })
                .collect();
            let g = generate(&data, false);
            let options = CompileOptions { default_agent: g.default_agent.clone() };
            let table = DecisionTable::compile_with(&g.policy, &options).unwrap();
            for r in &g.requests {
                seen.insert(table.decide(&r.as_request()).reason.as_str());
            }
        }
        assert_eq!(seen.len(), 7, "{seen:?}");
    }

    /// The checks can fail: a property that always passed would prove nothing.
    #[test]
    fn the_checks_catch_differences() {
        let data = [0u8, 0, 0, 0, 0, 1, 4, 1, 0, 0, 0, 0, 0, 0];
        let g = generate(&data, true);
        let a = PolicySet::from_dsl_str("a.mcpgw", "agent a { allow servers a }").unwrap();
        let b = PolicySet::from_dsl_str("b.mcpgw", "agent a { allow servers a\n deny tools on a: b }").unwrap();
        let tables = [("a", compile(&a, &g).unwrap()), ("b", compile(&b, &g).unwrap())];
        let e = same_decisions(&tables, &g).unwrap_err();
        assert!(e.contains("decides"), "{e}");

        let mut moved = a.clone();
        moved.agents[0].allow.servers[0].source.span.column += 1;
        assert!(check_dsl_locations("agent a { allow servers a }", &a).is_ok());
        assert!(check_dsl_locations("agent a { allow servers a }", &moved).is_err());
        assert!(same_text("x", "a", "b").is_err());
    }

    #[test]
    fn lines_split_like_the_reader_counts_them() {
        assert_eq!(split_lines("a\r\nb\rc\nd"), ["a", "b", "c", "d"]);
        assert_eq!(split_lines(""), [""]);
    }
}
