//! A set of globs, each tagged with the rules that wrote it, split by kind for fast matching.
//!
//! Exact names go in a hash map, `lit*` and `*lit` in maps keyed by the literal (probed once
//! per distinct literal length), `*` alone in a list, and only the general globs in DFAs
//! ([`glob_dfa`](super::glob_dfa)). A set answers two questions: does anything match (the
//! decision path, which stops at the first hit) and which rules match (the explain path).

use rustc_hash::FxHashMap;

use crate::policy::compile::glob_dfa::{self, GlobChunk, TooComplex};
use crate::policy::glob::{GlobKind, classify};

/// Rule ids, in ascending order.
pub(crate) type IdList = Box<[u32]>;

/// An immutable set of globs; see the module docs.
#[derive(Debug, Clone, Default)]
pub(crate) struct PatternSet {
    exact: FxHashMap<Box<str>, IdList>,
    any: IdList,
    prefixes: AffixIndex,
    suffixes: AffixIndex,
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
    pub(crate) fn build(self) -> Result<PatternSet, GlobTooComplex> {
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
        set.general = glob_dfa::build_chunks(&general).map_err(|TooComplex { index, reason }| {
            let (pattern, ids) = general.get(index).map(|(p, ids)| (*p, ids.to_vec())).unwrap_or_default();
            GlobTooComplex { pattern: pattern.to_owned(), ids, reason }
        })?;
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
        for chunk in &self.general {
            chunk.collect(name, out);
        }
    }

    /// Whether the set holds no glob at all.
    pub(crate) fn is_empty(&self) -> bool {
        self.any.is_empty()
            && self.exact.is_empty()
            && self.prefixes.by_literal.is_empty()
            && self.suffixes.by_literal.is_empty()
            && self.general.is_empty()
    }

    /// Approximate heap bytes used.
    pub(crate) fn memory_usage(&self) -> usize {
        self.exact.iter().map(|(k, v)| k.len() + v.len() * 4 + 32).sum::<usize>()
            + self.any.len() * 4
            + self.prefixes.memory_usage()
            + self.suffixes.memory_usage()
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
        b.build().unwrap()
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
    fn empty_set_matches_nothing() {
        let set = PatternSetBuilder::default().build().unwrap();
        assert!(set.is_empty());
        assert!(!set.is_match(""));
        assert!(!set.is_match("x"));
    }
}
