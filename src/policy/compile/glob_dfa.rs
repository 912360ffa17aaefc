//! General globs (`*a*`, `a*b`, `*a*b*`) compiled into dense DFAs, in bounded chunks.
//!
//! One DFA over many infix globs grows exponentially: it must remember which of them have
//! already seen their middle parts. So globs are compiled in chunks of at most
//! [`MAX_CHUNK`] patterns under explicit size limits; a chunk that goes over the limits is split
//! in half and retried, and a single glob that does not fit alone is a compile error. Compile
//! time and memory therefore grow linearly with the number of globs.
//!
//! Each glob becomes an anchored regex built directly as a [`Hir`] (no escaping, no parser):
//! literals for the text between stars, "any bytes" for each star, and an end anchor unless
//! the glob ends in `*`. A trailing star is dropped instead: a match that reaches the end of
//! the last literal already proves the whole name matches, so the search can stop early and
//! the DFA need not remember finished globs. Matching on bytes is exact for `&str` names: every
//! literal is valid UTF-8, so it can only match at character boundaries.

use regex_automata::dfa::{Automaton, StartKind, dense};
use regex_automata::nfa::thompson::{self, WhichCaptures};
use regex_automata::{Anchored, Input, MatchKind, PatternSet};
use regex_syntax::hir::{Class, ClassBytes, ClassBytesRange, Hir, Look, Repetition};

use crate::policy::compile::pattern_set::IdList;
use crate::policy::glob::glob_match;

/// The most globs one DFA holds.
pub(crate) const MAX_CHUNK: usize = 32;
/// Size limit of one chunk's NFA.
const NFA_SIZE_LIMIT: usize = 1 << 20;
/// Size limit of one chunk's finished DFA.
const DFA_SIZE_LIMIT: usize = 1 << 20;
/// Size limit of the working memory used while one chunk is determinized.
const DETERMINIZE_SIZE_LIMIT: usize = 2 << 20;

/// A DFA over up to [`MAX_CHUNK`] globs, with the rule ids of each.
#[derive(Debug, Clone)]
pub(crate) struct GlobChunk {
    dfa: dense::DFA<Vec<u32>>,
    /// The glob texts, by DFA pattern index; used only if a search ever reports an error.
    globs: Box<[Box<str>]>,
    /// Rule ids, by DFA pattern index.
    ids: Box<[IdList]>,
}

/// A glob that does not fit in a DFA within the size limits, even alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TooComplex {
    /// Index of the glob in the slice given to [`build_chunks`].
    pub index: usize,
    /// What the automaton builder said.
    pub reason: String,
}

impl GlobChunk {
    /// Whether any glob of the chunk matches the whole of `name`.
    pub(crate) fn is_match(&self, name: &str) -> bool {
        let input = Input::new(name).anchored(Anchored::Yes).earliest(true);
        match self.dfa.try_search_fwd(&input) {
            Ok(found) => found.is_some(),
            // Unreachable with this configuration (no quit bytes, no Unicode word boundaries),
            // but if it ever happens the answer must still be right.
            Err(_) => self.globs.iter().any(|g| glob_match(g, name)),
        }
    }

    /// Appends the rule ids of every glob that matches the whole of `name`.
    pub(crate) fn collect(&self, name: &str, out: &mut Vec<u32>) {
        let input = Input::new(name).anchored(Anchored::Yes);
        let mut set = PatternSet::new(self.dfa.pattern_len());
        if self.dfa.try_which_overlapping_matches(&input, &mut set).is_ok() {
            for pid in set.iter() {
                if let Some(ids) = self.ids.get(pid.as_usize()) {
                    out.extend_from_slice(ids);
                }
            }
        } else {
            for (glob, ids) in self.globs.iter().zip(self.ids.iter()) {
                if glob_match(glob, name) {
                    out.extend_from_slice(ids);
                }
            }
        }
    }

    /// The glob texts, by DFA pattern index.
    pub(crate) fn globs(&self) -> &[Box<str>] {
        &self.globs
    }

    /// Heap bytes used by this chunk.
    pub(crate) fn memory_usage(&self) -> usize {
        self.dfa.memory_usage()
            + self.globs.iter().map(|g| g.len()).sum::<usize>()
            + self.ids.iter().map(|ids| ids.len() * 4).sum::<usize>()
    }
}

/// Compiles `globs` (each with its rule ids) into as few chunks as the limits allow.
pub(crate) fn build_chunks(globs: &[(&str, IdList)]) -> Result<Vec<GlobChunk>, TooComplex> {
    let mut chunks = Vec::new();
    let mut start = 0;
    while start < globs.len() {
        let end = (start + MAX_CHUNK).min(globs.len());
        build_range(globs, start, end, &mut chunks)?;
        start = end;
    }
    Ok(chunks)
}

/// Whether `glob` fits the size limits in a chunk of its own ([`build_chunks`] fails exactly
/// when some glob does not).
pub(crate) fn fits_alone(glob: &str) -> Result<(), String> {
    build_one(&[(glob, IdList::default())]).map(|_| ())
}

/// Builds `globs[start..end]` as one chunk, or splits it in half when it is too big.
fn build_range(globs: &[(&str, IdList)], start: usize, end: usize, out: &mut Vec<GlobChunk>) -> Result<(), TooComplex> {
    let part = globs.get(start..end).unwrap_or_default();
    match build_one(part) {
        Ok(chunk) => {
            out.push(chunk);
            Ok(())
        }
        Err(reason) if end - start <= 1 => Err(TooComplex { index: start, reason }),
        Err(_) => {
            let mid = start + (end - start) / 2;
            build_range(globs, start, mid, out)?;
            build_range(globs, mid, end, out)
        }
    }
}

fn build_one(globs: &[(&str, IdList)]) -> Result<GlobChunk, String> {
    let hirs: Vec<Hir> = globs.iter().map(|(g, _)| glob_hir(g)).collect();
    let nfa = thompson::Compiler::new()
        .configure(
            thompson::Config::new()
                .utf8(false)
                .which_captures(WhichCaptures::None)
                .nfa_size_limit(Some(NFA_SIZE_LIMIT)),
        )
        .build_many_from_hir(&hirs)
        .map_err(|e| e.to_string())?;
    let dfa = dense::Builder::new()
        .configure(
            dense::Config::new()
                .match_kind(MatchKind::All)
                .start_kind(StartKind::Anchored)
                .minimize(false)
                .dfa_size_limit(Some(DFA_SIZE_LIMIT))
                .determinize_size_limit(Some(DETERMINIZE_SIZE_LIMIT)),
        )
        .build_from_nfa(&nfa)
        .map_err(|e| e.to_string())?;
    Ok(GlobChunk {
        dfa,
        globs: globs.iter().map(|(g, _)| Box::from(*g)).collect(),
        ids: globs.iter().map(|(_, ids)| ids.clone()).collect(),
    })
}

/// The anchored regex of one glob, as described in the module docs.
fn glob_hir(glob: &str) -> Hir {
    let mut parts = Vec::new();
    for (i, literal) in glob.split('*').enumerate() {
        let star_before = i > 0;
        if star_before && !matches!(parts.last(), Some(Part::Star)) {
            parts.push(Part::Star);
        }
        if !literal.is_empty() {
            parts.push(Part::Literal(literal));
        }
    }
    let open_end = matches!(parts.last(), Some(Part::Star));
    if open_end {
        parts.pop();
    }
    let mut hirs: Vec<Hir> = parts
        .into_iter()
        .map(|p| match p {
            Part::Star => any_bytes(),
            Part::Literal(l) => Hir::literal(l.as_bytes()),
        })
        .collect();
    if !open_end {
        hirs.push(Hir::look(Look::End));
    }
    Hir::concat(hirs)
}

enum Part<'a> {
    Star,
    Literal(&'a str),
}

/// `(?s-u:.)*`: any run of bytes.
fn any_bytes() -> Hir {
    let any = Hir::class(Class::Bytes(ClassBytes::new([ClassBytesRange::new(0, 255)])));
    Hir::repetition(Repetition { min: 0, max: None, greedy: true, sub: Box::new(any) })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(n: u32) -> IdList {
        Box::from([n])
    }

    #[test]
    fn matches_like_the_reference() {
        let globs = ["*a*", "a*b", "*x*y*", "q*", "*.json", "(*)", "é*ü"];
        let input: Vec<(&str, IdList)> = globs.iter().enumerate().map(|(i, g)| (*g, ids(i as u32))).collect();
        let chunks = build_chunks(&input).unwrap();
        assert_eq!(chunks.len(), 1);
        let names = ["", "a", "ab", "axxb", "abx", "xy", "yx", "q", "qq", "f.json", "fxjson", "(z)", "éaü", "ü"];
        for name in names {
            let mut got = Vec::new();
            chunks[0].collect(name, &mut got);
            got.sort_unstable();
            let want: Vec<u32> =
                globs.iter().enumerate().filter(|(_, g)| glob_match(g, name)).map(|(i, _)| i as u32).collect();
            assert_eq!(got, want, "name {name:?}");
            assert_eq!(chunks[0].is_match(name), !want.is_empty(), "name {name:?}");
        }
    }

    #[test]
    fn many_infix_globs_stay_small() {
        let texts: Vec<String> = (0..200).map(|i| format!("*w{i}x*")).collect();
        let input: Vec<(&str, IdList)> = texts.iter().enumerate().map(|(i, g)| (g.as_str(), ids(i as u32))).collect();
        let chunks = build_chunks(&input).unwrap();
        assert!(chunks.len() >= 200 / MAX_CHUNK);
        let total: usize = chunks.iter().map(GlobChunk::memory_usage).sum();
        assert!(total < 8 << 20, "{total} bytes");
        let mut got = Vec::new();
        for c in &chunks {
            c.collect("zzw17xzz", &mut got);
        }
        assert_eq!(got, vec![17]);
    }

    #[test]
    fn hard_globs_split_instead_of_exploding() {
        // Each of these needs the DFA to remember which first parts it has seen.
        let texts: Vec<String> = (0..64).map(|i| format!("*a{i}*b{i}*c")).collect();
        let input: Vec<(&str, IdList)> = texts.iter().enumerate().map(|(i, g)| (g.as_str(), ids(i as u32))).collect();
        let chunks = build_chunks(&input).unwrap();
        assert!(chunks.len() > 64 / MAX_CHUNK, "expected splits, got {}", chunks.len());
        let mut got = Vec::new();
        for c in &chunks {
            c.collect("xa5yb5zc", &mut got);
        }
        assert_eq!(got, vec![5]);
    }
}
