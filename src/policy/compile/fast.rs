//! The fast path of `decide`: one probe per request for the common case.
//!
//! The general structures ([`AgentUnit`], [`PatternSet`]) are built for any policy, but a
//! tool decision through them chases a dozen pointers (agent map, unit list, unit, server map,
//! then a hash map, affix maps and automata per tool set). On a policy of a thousand agents
//! each of those is a cache miss, and the misses are the whole cost.
//!
//! So for every exact agent key and every server that one of its blocks names exactly, the
//! compiler also flattens the answer into one open-addressing table, keyed by the pair:
//! whether a deny or allow server rule matches, whether any allow-tool rule applies, and the
//! tool globs of each effect, encoded one after another right behind the key bytes. A decision
//! is then one hash, one slot, and one or two adjacent cache lines of bytes, scanned in
//! order (cheapest tests first, and a `*` alone short-circuits).
//!
//! Pairs whose tool sets hold more than [`MAX_FAST_GLOBS`] globs of one effect are left out,
//! as are agents known only through id patterns and servers named only by globs: those take
//! the general path, where hashing and automata pay off. The entries are derived from the same
//! [`ServerView`]s that the general path reads, so both see the same facts; the verdict itself
//! is still computed by [`judge`](crate::policy::decide::judge).

use std::hash::Hasher;

use rustc_hash::FxHasher;

use crate::policy::ast::Effect;
use crate::policy::compile::literal::{ends_with, equals, literal_glob_match, starts_with};
use crate::policy::compile::pattern_set::GlobTest;
use crate::policy::compile::unit::{AgentUnit, ServerView};

/// The most globs one effect of a pair may hold to be flattened.
pub(crate) const MAX_FAST_GLOBS: usize = 16;
/// Glob lengths are encoded in three bytes.
const MAX_GLOB_LEN: usize = 0xff_ffff;

const OCCUPIED: u8 = 1;
const DENY_SERVER: u8 = 2;
const ALLOW_SERVER: u8 = 4;
const ALLOW_TOOLS: u8 = 8;

const TEST_ANY: u8 = 0;
const TEST_EXACT: u8 = 1;
const TEST_PREFIX: u8 = 2;
const TEST_SUFFIX: u8 = 3;
const TEST_GENERAL: u8 = 4;

/// The flattened (agent, server) table; see the module docs.
#[derive(Debug, Clone, Default)]
pub(crate) struct FastIndex {
    /// Open addressing with linear probing; a power of two long, at most half full.
    slots: Box<[Slot]>,
    /// `64 - log2(slots.len())`: the shift that turns a hash into a slot index.
    shift: u32,
    /// Per entry: agent bytes, server bytes, deny globs, allow globs. A glob is a test byte,
    /// a three-byte little-endian length, and its text; for a general glob the text is
    /// preceded by the [`byte_mask`] of its literal bytes (8 bytes, counted in the length).
    bytes: Box<[u8]>,
}

#[derive(Debug, Clone, Copy, Default)]
struct Slot {
    hash: u64,
    start: u32,
    agent_len: u32,
    server_len: u32,
    deny_len: u32,
    allow_len: u32,
    /// [`OCCUPIED`] and the fact bits; zero for an empty slot.
    flags: u8,
}

/// The facts of one (agent, server) pair.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FastEntry<'i> {
    flags: u8,
    deny: &'i [u8],
    allow: &'i [u8],
}

impl FastEntry<'_> {
    /// Whether a server rule of `effect` matches the server.
    #[inline]
    pub(crate) fn server_hit(&self, effect: Effect) -> bool {
        let bit = match effect {
            Effect::Deny => DENY_SERVER,
            Effect::Allow => ALLOW_SERVER,
        };
        self.flags & bit != 0
    }

    /// Whether any allow-tool rule applies to the server.
    #[inline]
    pub(crate) fn has_allow_tools(&self) -> bool {
        self.flags & ALLOW_TOOLS != 0
    }

    /// Whether a tool glob of `effect` that applies to the server matches `tool`. `mask`
    /// caches the [`byte_mask`] of the tool name between calls.
    #[inline]
    pub(crate) fn tool_hit(&self, effect: Effect, tool: &str, mask: &mut Option<u64>) -> bool {
        let globs = match effect {
            Effect::Deny => self.deny,
            Effect::Allow => self.allow,
        };
        any_match(globs, tool.as_bytes(), mask)
    }
}

/// One bit per byte value modulo 64. A name can only match a glob if its mask covers the
/// glob's, which rejects most general globs without a search.
#[inline]
pub(crate) fn byte_mask(bytes: impl IntoIterator<Item = u8>) -> u64 {
    bytes.into_iter().fold(0u64, |m, b| m | (1u64 << (b & 63)))
}

/// The [`byte_mask`] of the bytes a name must hold to match `glob`: its literal bytes, the
/// stars left out (filtering the bytes, not clearing the star's bit, which `j` shares).
pub(crate) fn literal_mask(glob: &str) -> u64 {
    byte_mask(glob.bytes().filter(|&b| b != b'*'))
}

/// Scans encoded globs for one that matches `name`.
#[inline]
fn any_match(mut globs: &[u8], name: &[u8], name_mask: &mut Option<u64>) -> bool {
    while let [test, a, b, c, rest @ ..] = globs {
        let len = usize::from(*a) | (usize::from(*b) << 8) | (usize::from(*c) << 16);
        let Some((text, next)) = rest.split_at_checked(len) else {
            return false;
        };
        let hit = match *test {
            TEST_ANY => true,
            TEST_EXACT => equals(name, text),
            TEST_PREFIX => starts_with(name, text),
            TEST_SUFFIX => ends_with(name, text),
            _ => match text.split_first_chunk::<8>() {
                Some((need, glob)) => {
                    let need = u64::from_le_bytes(*need);
                    let have = *name_mask.get_or_insert_with(|| byte_mask(name.iter().copied()));
                    need & !have == 0 && literal_glob_match(glob, name)
                }
                None => false,
            },
        };
        if hit {
            return true;
        }
        globs = next;
    }
    false
}

fn key_hash(agent: &str, server: &str) -> u64 {
    let mut h = FxHasher::default();
    h.write(agent.as_bytes());
    // 0xff never occurs in UTF-8, so the pair is unambiguous.
    h.write_u8(0xff);
    h.write(server.as_bytes());
    h.finish()
}

impl FastIndex {
    /// The slot index of a hash: its top bits after a Fibonacci multiply.
    #[inline]
    fn home(&self, hash: u64) -> usize {
        usize::try_from(hash.wrapping_mul(0x9E37_79B9_7F4A_7C15).checked_shr(self.shift).unwrap_or(0)).unwrap_or(0)
    }

    /// The facts of (`agent`, `server`), if the pair was flattened.
    #[inline]
    pub(crate) fn get(&self, agent: &str, server: &str) -> Option<FastEntry<'_>> {
        if self.slots.is_empty() {
            return None;
        }
        let hash = key_hash(agent, server);
        let mask = self.slots.len() - 1;
        let mut i = self.home(hash);
        for _ in 0..self.slots.len() {
            let slot = self.slots.get(i)?;
            if slot.flags == 0 {
                return None;
            }
            if slot.hash == hash
                && let Some(entry) = self.entry(slot, agent, server)
            {
                return Some(entry);
            }
            i = (i + 1) & mask;
        }
        None
    }

    fn entry(&self, slot: &Slot, agent: &str, server: &str) -> Option<FastEntry<'_>> {
        let len = [slot.agent_len, slot.server_len, slot.deny_len, slot.allow_len]
            .iter()
            .fold(0usize, |sum, &n| sum.saturating_add(n as usize));
        let start = slot.start as usize;
        let data = self.bytes.get(start..start.saturating_add(len))?;
        let (key_agent, rest) = data.split_at_checked(slot.agent_len as usize)?;
        let (key_server, rest) = rest.split_at_checked(slot.server_len as usize)?;
        if !equals(key_agent, agent.as_bytes()) || !equals(key_server, server.as_bytes()) {
            return None;
        }
        let (deny, allow) = rest.split_at_checked(slot.deny_len as usize)?;
        Some(FastEntry { flags: slot.flags, deny, allow })
    }

    /// Flattens every (agent, server) pair it can. `agents` gives each exact agent key with
    /// the units of its own blocks and all the units that apply to it, as the general path
    /// resolves them. Only servers that its own blocks name are flattened: those named only
    /// by pattern blocks (`agent "*"`) would repeat in every exact agent, agents x servers
    /// entries from a policy of agents + servers rules, and take the general path instead.
    pub(crate) fn build<'a>(
        agents: impl Iterator<Item = (&'a str, &'a [u32], &'a [u32])>,
        units: &[AgentUnit],
    ) -> FastIndex {
        let mut entries: Vec<Slot> = Vec::new();
        let mut bytes: Vec<u8> = Vec::new();
        for (agent, own, ids) in agents {
            let applying: Vec<&AgentUnit> = ids.iter().filter_map(|&u| units.get(u as usize)).collect();
            let mut servers: Vec<&str> =
                own.iter().filter_map(|&u| units.get(u as usize)).flat_map(|u| u.server_names()).collect();
            servers.sort_unstable();
            servers.dedup();
            for server in servers {
                let views: Vec<ServerView<'_>> = applying.iter().map(|u| u.view(server)).collect();
                let start = bytes.len();
                match flatten(agent, server, &views, &mut bytes) {
                    Some(slot) => entries.push(slot),
                    None => bytes.truncate(start),
                }
            }
        }
        if entries.is_empty() {
            return FastIndex::default();
        }
        let capacity = entries.len().saturating_mul(2).next_power_of_two();
        let mut index = FastIndex {
            slots: vec![Slot::default(); capacity].into_boxed_slice(),
            shift: 64 - capacity.trailing_zeros(),
            bytes: Box::default(),
        };
        let mask = capacity - 1;
        for slot in entries {
            let mut i = index.home(slot.hash);
            while let Some(place) = index.slots.get_mut(i) {
                if place.flags == 0 {
                    *place = slot;
                    break;
                }
                i = (i + 1) & mask;
            }
        }
        index.bytes = bytes.into_boxed_slice();
        index
    }

    /// Heap bytes used.
    pub(crate) fn memory_usage(&self) -> usize {
        self.slots.len() * std::mem::size_of::<Slot>() + self.bytes.len()
    }
}

/// Appends one pair's bytes and returns its slot, or `None` if the pair does not fit (then the
/// caller drops what was appended).
fn flatten(agent: &str, server: &str, views: &[ServerView<'_>], bytes: &mut Vec<u8>) -> Option<Slot> {
    let start = u32::try_from(bytes.len()).ok()?;
    bytes.extend_from_slice(agent.as_bytes());
    bytes.extend_from_slice(server.as_bytes());
    let deny_len = encode_globs(views, Effect::Deny, server, bytes)?;
    let allow_len = encode_globs(views, Effect::Allow, server, bytes)?;
    u32::try_from(bytes.len()).ok()?;
    let mut flags = OCCUPIED;
    if views.iter().any(|v| v.server_hit(Effect::Deny, server)) {
        flags |= DENY_SERVER;
    }
    if views.iter().any(|v| v.server_hit(Effect::Allow, server)) {
        flags |= ALLOW_SERVER;
    }
    if views.iter().any(|v| v.has_allow_tools(server)) {
        flags |= ALLOW_TOOLS;
    }
    Some(Slot {
        hash: key_hash(agent, server),
        start,
        agent_len: u32::try_from(agent.len()).ok()?,
        server_len: u32::try_from(server.len()).ok()?,
        deny_len,
        allow_len,
        flags,
    })
}

/// Appends every tool glob of `effect` that applies to `server` (the union over the views),
/// cheapest tests first; returns the number of bytes written.
fn encode_globs(views: &[ServerView<'_>], effect: Effect, server: &str, bytes: &mut Vec<u8>) -> Option<u32> {
    let mut count = 0usize;
    let mut any = false;
    for view in views {
        view.for_each_tool_set(effect, server, |set| {
            count += set.glob_count();
            set.for_each_glob(|test, _| any |= test == GlobTest::Any);
        });
    }
    let start = bytes.len();
    if any {
        // `*` matches every tool: nothing else of this effect matters.
        bytes.extend_from_slice(&[TEST_ANY, 0, 0, 0]);
        return u32::try_from(bytes.len() - start).ok();
    }
    if count > MAX_FAST_GLOBS {
        return None;
    }
    let mut too_long = false;
    for test in [GlobTest::Exact, GlobTest::Prefix, GlobTest::Suffix, GlobTest::General] {
        for view in views {
            view.for_each_tool_set(effect, server, |set| {
                set.for_each_glob(|t, text| {
                    if t != test {
                        return;
                    }
                    if text.len() > MAX_GLOB_LEN - 8 {
                        too_long = true;
                        return;
                    }
                    let code = match t {
                        GlobTest::Any => TEST_ANY,
                        GlobTest::Exact => TEST_EXACT,
                        GlobTest::Prefix => TEST_PREFIX,
                        GlobTest::Suffix => TEST_SUFFIX,
                        GlobTest::General => TEST_GENERAL,
                    };
                    let mask = (t == GlobTest::General).then(|| literal_mask(text));
                    let len = text.len() + if mask.is_some() { 8 } else { 0 };
                    let [a, b, c, _, ..] = len.to_le_bytes();
                    bytes.extend_from_slice(&[code, a, b, c]);
                    if let Some(mask) = mask {
                        bytes.extend_from_slice(&mask.to_le_bytes());
                    }
                    bytes.extend_from_slice(text.as_bytes());
                });
            });
        }
    }
    if too_long {
        return None;
    }
    u32::try_from(bytes.len() - start).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(globs: &[(u8, &str)]) -> Vec<u8> {
        let mut out = Vec::new();
        for (code, text) in globs {
            let general = *code == TEST_GENERAL;
            let [a, b, c, _, ..] = (text.len() + if general { 8 } else { 0 }).to_le_bytes();
            out.extend_from_slice(&[*code, a, b, c]);
            if general {
                out.extend_from_slice(&literal_mask(text).to_le_bytes());
            }
            out.extend_from_slice(text.as_bytes());
        }
        out
    }

    fn hit(globs: &[u8], name: &str) -> bool {
        any_match(globs, name.as_bytes(), &mut None)
    }

    #[test]
    fn scans_encoded_globs() {
        let globs =
            encode(&[(TEST_EXACT, "query"), (TEST_PREFIX, "list_"), (TEST_SUFFIX, "_user"), (TEST_GENERAL, "*adm*")]);
        for (name, want) in
            [("query", true), ("querys", false), ("list_x", true), ("get_user", true), ("xadmy", true), ("x", false)]
        {
            assert_eq!(hit(&globs, name), want, "{name}");
        }
        assert!(hit(&encode(&[(TEST_ANY, "")]), ""));
        // `j` shares the star's bit; the star is left out, `j` is kept.
        assert_eq!(literal_mask("*j*"), byte_mask(*b"j"));
        assert_eq!(literal_mask("a*"), byte_mask(*b"a"));
        assert!(!hit(&[], "x"));
        // Truncated input never panics and never matches.
        assert!(!hit(&globs[..7], "query"));
        assert!(!hit(&globs[..globs.len() - 1], "xadmy"));
    }
}

#[cfg(test)]
mod size_tests {
    use crate::policy::{DecisionTable, PolicySet, Request};

    /// One `agent "*"` block naming many servers and many exact agents of one rule each: the
    /// index holds each exact agent's own server only, not agents x servers entries, and the
    /// pattern block's servers still decide through the general path.
    #[test]
    fn servers_of_pattern_blocks_are_not_flattened_into_every_agent() {
        let n = 300;
        let servers: Vec<String> = (0..n).map(|i| format!("\"srv{i}\"")).collect();
        let agents: Vec<String> =
            (0..n).map(|i| format!("\"agent{i}\": {{\"allow\": {{\"servers\": [\"own{i}\"]}}}}")).collect();
        let json = format!(
            "{{\"agents\": {{\"*\": {{\"allow\": {{\"servers\": [{}]}}}}, {}}}}}",
            servers.join(", "),
            agents.join(", ")
        );
        let policy = PolicySet::from_json_str("big.json", &json).unwrap();
        let table = DecisionTable::compile(&policy).unwrap();
        let flattened = table.fast.slots.iter().filter(|s| s.flags != 0).count();
        assert_eq!(flattened, n, "one entry per exact agent and its own server");
        assert!(table.decide(&Request::server(Some("agent7"), "srv123")).is_allowed());
        assert!(table.decide(&Request::server(Some("agent7"), "own7")).is_allowed());
        assert!(!table.decide(&Request::server(Some("agent7"), "own8")).is_allowed());
    }
}
