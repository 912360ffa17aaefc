//! A set of globs, each tagged with the rules that wrote it, split by kind for fast matching.
//!
//! Exact names go in a hash map, `lit*` and `*lit` in maps keyed by the literal (probed once
//! per distinct literal length), `*` alone in a list, and only the general globs in DFAs
//! ([`glob_dfa`](super::glob_dfa)), except that a set with at most [`MAX_LITERAL_GLOBS`] of
//! them matches those by literal search ([`literal`](super::literal)): a DFA per small set
//! would cost far more to build than it saves, and literal search is linear too. Every general
//! glob is still checked to fit the automaton limits on its own ([`GlobChecks`]), so which
//! policies compile does not depend on how their globs fall into sets.
//! A set answers two questions: does anything match (the
//! decision path, which stops at the first hit) and which rules match (the explain path).

use rustc_hash::FxHashMap;

use crate::policy::compile::glob_dfa::{self, GlobChunk, TooComplex};
use crate::policy::compile::literal::LiteralGlob;
use crate::policy::glob::{GlobKind, classify};

/// Rule ids, in ascending order.
pub(crate) type IdList = Box<[u32]>;

/// A set with at most this many general globs matches them by literal search, not by DFA.
pub(crate) const MAX_LITERAL_GLOBS: usize = 8;

/// How a glob of a set is tested, for code that flattens sets ([`PatternSet::for_each_glob`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum GlobTest {
    /// `*`: always matches; the text is empty.
    Any,
    /// The name equals the text.
    Exact,
    /// The name starts with the text.
    Prefix,
    /// The name ends with the text.
    Suffix,
    /// The text is a general glob, stars included.
    General,
}

/// A glob this short always fits the automaton limits alone, so it needs no trial build.
///
/// A lone glob's DFA behaves like an Aho-Corasick automaton over its pieces, one copy per piece
/// reached: at most `(pieces) x (len + 1)` states, here `17 x 33`, with at most 33 byte classes
/// (a stride of 64 transitions of 4 bytes): about 150 KB against a 1 MB limit. The test
/// `short_globs_always_fit` builds the worst shapes to check.
const SURELY_FITS_LEN: usize = 32;

/// Remembers which general globs fit the automaton limits alone, so that each distinct glob
/// of a policy is checked once however many sets it appears in.
#[derive(Debug, Default)]
pub(crate) struct GlobChecks {
    /// Glob text to `None` (fits) or the builder's complaint.
    results: FxHashMap<Box<str>, Option<String>>,
}

impl GlobChecks {
    fn fits_alone(&mut self, glob: &str) -> Result<(), String> {
        if glob.len() <= SURELY_FITS_LEN {
            return Ok(());
        }
        let result = match self.results.get(glob) {
            Some(known) => known.clone(),
            None => {
                let found = glob_dfa::fits_alone(glob).err();
                self.results.insert(glob.into(), found.clone());
                found
            }
        };
        result.map_or(Ok(()), Err)
    }
}

/// An immutable set of globs; see the module docs.
#[derive(Debug, Clone, Default)]
pub(crate) struct PatternSet {
    exact: FxHashMap<Box<str>, IdList>,
    any: IdList,
    prefixes: AffixIndex,
    suffixes: AffixIndex,
    /// General globs of a small set, matched by literal search.
    literal: Box<[LiteralGlob]>,
    /// General globs of a large set, in DFA chunks.
    general: Vec<GlobChunk>,
}

/// Literals of one side (prefix or suffix), and the distinct lengths to probe.
#[derive(Debug, Clone, Default)]
struct AffixIndex {
    by_literal: FxHashMap<Box<str>, IdList>,
    /// Distinct literal lengths in bytes, ascending.
    lengths: Box<[usize]>,
}

impl AffixIndex {
    fn build(entries: FxHashMap<&str, Vec<u32>>) -> Self {
        let mut lengths: Vec<usize> = entries.keys().map(|k| k.len()).collect();
        lengths.sort_unstable();
        lengths.dedup();
        let by_literal = entries.into_iter().map(|(k, v)| (Box::from(k), v.into_boxed_slice())).collect();
        AffixIndex { by_literal, lengths: lengths.into_boxed_slice() }
    }

    /// The candidate affixes of `name` that are in the index: `pick(name, len)` cuts one out.
    fn hits<'s>(&'s self, name: &'s str, pick: fn(&str, usize) -> Option<&str>) -> impl Iterator<Item = &'s IdList> {
        self.lengths
            .iter()
            .take_while(move |&&len| len <= name.len())
            .filter_map(move |&len| pick(name, len).and_then(|affix| self.by_literal.get(affix)))
    }

    fn memory_usage(&self) -> usize {
        self.by_literal.iter().map(|(k, v)| k.len() + v.len() * 4 + 32).sum::<usize>() + self.lengths.len() * 8
    }
}

fn prefix_of(name: &str, len: usize) -> Option<&str> {
    name.get(..len)
}

fn suffix_of(name: &str, len: usize) -> Option<&str> {
    name.get(name.len() - len..)
}

/// A glob that does not fit the automaton size limits, with the rules that wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct GlobTooComplex {
    /// The glob text.
    pub pattern: String,
    /// The rules that wrote it.
    pub ids: Vec<u32>,
    /// What the automaton builder said.
    pub reason: String,
}

/// Collects globs and their rule ids, then builds a [`PatternSet`].
#[derive(Debug, Default)]
pub(crate) struct PatternSetBuilder<'p> {
    /// Pattern text to the ids of the rules that wrote it, in first-seen order.
    patterns: Vec<(&'p str, Vec<u32>)>,
    index: FxHashMap<&'p str, usize>,
}

impl<'p> PatternSetBuilder<'p> {
    /// Adds one glob written by rule `id`.
    pub(crate) fn push(&mut self, pattern: &'p str, id: u32) {
        match self.index.get(pattern) {
            Some(&i) => {
                if let Some((_, ids)) = self.patterns.get_mut(i)
                    && ids.last() != Some(&id)
                {
                    ids.push(id);
                }
            }
            None => {
                self.index.insert(pattern, self.patterns.len());
                self.patterns.push((pattern, vec![id]));
            }
        }
    }

    /// Builds the set. A glob too complex for the automaton limits is returned as an error.
    pub(crate) fn build(self, checks: &mut GlobChecks) -> Result<PatternSet, GlobTooComplex> {
        let mut set = PatternSet::default();
        let mut any = Vec::new();
        let mut prefixes: FxHashMap<&str, Vec<u32>> = FxHashMap::default();
        let mut suffixes: FxHashMap<&str, Vec<u32>> = FxHashMap::default();
        let mut general: Vec<(&str, IdList)> = Vec::new();
        for (pattern, mut ids) in self.patterns {
            ids.sort_unstable();
            ids.dedup();
            match classify(pattern) {
                GlobKind::Exact(name) => {
                    set.exact.insert(Box::from(name), ids.into_boxed_slice());
                }
                GlobKind::Any => any.extend(ids),
                GlobKind::Prefix(lit) => prefixes.entry(lit).or_default().extend(ids),
                GlobKind::Suffix(lit) => suffixes.entry(lit).or_default().extend(ids),
                GlobKind::General => general.push((pattern, ids.into_boxed_slice())),
            }
        }
        any.sort_unstable();
        any.dedup();
        set.any = any.into_boxed_slice();
        set.prefixes = AffixIndex::build(prefixes);
        set.suffixes = AffixIndex::build(suffixes);
        let too_complex = |TooComplex { index, reason }| {
            let (pattern, ids) = general.get(index).map(|(p, ids)| (*p, ids.to_vec())).unwrap_or_default();
            GlobTooComplex { pattern: pattern.to_owned(), ids, reason }
        };
        if general.len() > MAX_LITERAL_GLOBS {
            set.general = glob_dfa::build_chunks(&general).map_err(too_complex)?;
        } else {
            // The same verdict build_chunks would give: the first glob that does not fit alone.
            for (index, (glob, _)) in general.iter().enumerate() {
                checks.fits_alone(glob).map_err(|reason| too_complex(TooComplex { index, reason }))?;
            }
            set.literal =
                general.iter().map(|(glob, ids)| LiteralGlob { glob: (*glob).into(), ids: ids.clone() }).collect();
        }
        Ok(set)
    }
}

impl PatternSet {
    /// Whether any glob in the set matches the whole of `name`.
    #[inline]
    pub(crate) fn is_match(&self, name: &str) -> bool {
        !self.any.is_empty()
            || (!self.exact.is_empty() && self.exact.contains_key(name))
            || self.prefixes.hits(name, prefix_of).next().is_some()
            || self.suffixes.hits(name, suffix_of).next().is_some()
            || self.literal.iter().any(|g| g.is_match(name))
            || self.general.iter().any(|chunk| chunk.is_match(name))
    }

    /// Appends the ids of every rule whose glob matches the whole of `name` (unsorted; a rule
    /// appears once per matching glob it wrote).
    pub(crate) fn collect(&self, name: &str, out: &mut Vec<u32>) {
        out.extend_from_slice(&self.any);
        if let Some(ids) = self.exact.get(name) {
            out.extend_from_slice(ids);
        }
        for ids in self.prefixes.hits(name, prefix_of).chain(self.suffixes.hits(name, suffix_of)) {
            out.extend_from_slice(ids);
        }
        for glob in self.literal.iter().filter(|g| g.is_match(name)) {
            out.extend_from_slice(&glob.ids);
        }
        for chunk in &self.general {
            chunk.collect(name, out);
        }
    }

    /// Calls `f` with every distinct glob of the set and how to test it, cheapest tests first.
    pub(crate) fn for_each_glob(&self, mut f: impl FnMut(GlobTest, &str)) {
        if !self.any.is_empty() {
            f(GlobTest::Any, "");
        }
        self.exact.keys().for_each(|k| f(GlobTest::Exact, k));
        self.prefixes.by_literal.keys().for_each(|k| f(GlobTest::Prefix, k));
        self.suffixes.by_literal.keys().for_each(|k| f(GlobTest::Suffix, k));
        self.literal.iter().for_each(|g| f(GlobTest::General, &g.glob));
        self.general.iter().flat_map(GlobChunk::globs).for_each(|g| f(GlobTest::General, g));
    }

    /// How many calls [`for_each_glob`](Self::for_each_glob) makes.
    pub(crate) fn glob_count(&self) -> usize {
        usize::from(!self.any.is_empty())
            + self.exact.len()
            + self.prefixes.by_literal.len()
            + self.suffixes.by_literal.len()
            + self.literal.len()
            + self.general.iter().map(|c| c.globs().len()).sum::<usize>()
    }

    /// Whether the set holds no glob at all.
    pub(crate) fn is_empty(&self) -> bool {
        self.any.is_empty()
            && self.exact.is_empty()
            && self.prefixes.by_literal.is_empty()
            && self.suffixes.by_literal.is_empty()
            && self.literal.is_empty()
            && self.general.is_empty()
    }

    /// Approximate heap bytes used.
    pub(crate) fn memory_usage(&self) -> usize {
        self.exact.iter().map(|(k, v)| k.len() + v.len() * 4 + 32).sum::<usize>()
            + self.any.len() * 4
            + self.prefixes.memory_usage()
            + self.suffixes.memory_usage()
            + self.literal.iter().map(LiteralGlob::memory_usage).sum::<usize>()
            + self.general.iter().map(GlobChunk::memory_usage).sum::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::glob::glob_match;

    const GLOBS: [&str; 12] =
        ["query", "list_*", "*_user", "*", "*a*", "drop_*", "x+y", "a*b", "é*", "*ü", "", "list_*"];

    fn build(globs: &[&'static str]) -> PatternSet {
        let mut b = PatternSetBuilder::default();
        for (i, g) in globs.iter().enumerate() {
            b.push(g, i as u32);
        }
        b.build(&mut GlobChecks::default()).unwrap()
    }

    #[test]
    fn agrees_with_the_reference_matcher() {
        let names = ["query", "list_x", "list_", "get_user", "_user", "", "banana", "x+y", "xxy", "ab", "é", "éü", "ü"];
        for n in 0..GLOBS.len() {
            let globs = &GLOBS[..=n];
            let without_any: Vec<&'static str> = globs.iter().copied().filter(|g| *g != "*").collect();
            for subset in [globs, &without_any[..]] {
                let set = build(subset);
                for name in names {
                    let mut got = Vec::new();
                    set.collect(name, &mut got);
                    got.sort_unstable();
                    let want: Vec<u32> =
                        subset.iter().enumerate().filter(|(_, g)| glob_match(g, name)).map(|(i, _)| i as u32).collect();
                    assert_eq!(got, want, "globs {subset:?} name {name:?}");
                    assert_eq!(set.is_match(name), !want.is_empty());
                }
            }
        }
    }

    #[test]
    fn affixes_respect_char_boundaries() {
        let set = build(&["é*"]);
        assert!(set.is_match("éa"));
        assert!(!set.is_match("e"));
        let set = build(&["*é"]);
        assert!(set.is_match("aé"));
        assert!(!set.is_match("a"));
    }

    #[test]
    fn short_globs_always_fit() {
        let distinct: String = ('a'..='p').collect();
        let worst = [
            "*a".repeat(16),
            "a*".repeat(16),
            format!("*{}*{}", distinct, &distinct[..14]),
            distinct.chars().map(|c| format!("*{c}")).collect::<String>(),
            "*ab*ab*ab*ab*ab*ab*ab*ab*ab*ab*a".to_owned(),
            "*aaaaaaaaaaaaaab*aaaaaaaaaaaaaab".to_owned(),
            "*abcabcabcabcabd*abcabcabcabcab*".to_owned(),
            "é*ü*é*ü*é*ü*é*ü*é*ü*é".to_owned(),
        ];
        for glob in worst {
            assert!(glob.len() <= SURELY_FITS_LEN, "{glob}");
            assert_eq!(glob_dfa::fits_alone(&glob), Ok(()), "{glob}");
        }
    }

    #[test]
    fn empty_set_matches_nothing() {
        let set = PatternSetBuilder::default().build(&mut GlobChecks::default()).unwrap();
        assert!(set.is_empty());
        assert!(!set.is_match(""));
        assert!(!set.is_match("x"));
    }
}
