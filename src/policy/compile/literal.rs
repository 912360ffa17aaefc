//! General globs matched by literal search, for sets that hold only a few of them.
//!
//! A glob with only `*` as a wildcard matches a name exactly when the name starts with the
//! text before the first `*`, ends with the text after the last one (without the two
//! overlapping), and holds every piece in between in order, each found leftmost after the
//! previous one. Greedy leftmost search is exact here because a `*` can absorb anything, so
//! an earlier occurrence of a piece never leaves less room for the rest. With `memmem`
//! (two-way, linear) the whole test is linear in the name and the glob: like a DFA it can
//! never blow up, and for a handful of globs it needs no automaton to be built at all, which
//! is most of the compile time of a large policy.
//!
//! Matching is on bytes. That is exact for `&str` names: every piece is valid UTF-8, so it can
//! only match at character boundaries.

use memchr::memmem;

use crate::policy::compile::pattern_set::IdList;

/// Whether the glob `glob` (`*` = any run of characters) matches the whole of `name`.
pub(crate) fn literal_glob_match(glob: &[u8], name: &[u8]) -> bool {
    // Globs are short: a plain scan beats a vectorized memchr call.
    let (Some(first), Some(last)) = (glob.iter().position(|&b| b == b'*'), glob.iter().rposition(|&b| b == b'*'))
    else {
        return glob == name;
    };
    let (Some(prefix), Some(suffix), Some(middle)) =
        (glob.get(..first), glob.get(last + 1..), glob.get(first + 1..last.max(first + 1)))
    else {
        return false;
    };
    if name.len() < prefix.len() + suffix.len() || !starts_with(name, prefix) || !ends_with(name, suffix) {
        return false;
    }
    let Some(mut rest) = name.get(prefix.len()..name.len() - suffix.len()) else {
        return false;
    };
    for piece in middle.split(|&b| b == b'*').filter(|p| !p.is_empty()) {
        match find(rest, piece).and_then(|at| rest.get(at + piece.len()..)) {
            Some(after) => rest = after,
            None => return false,
        }
    }
    true
}

/// `name.starts_with(lit)`, checking the first byte inline before calling `memcmp`: most
/// candidates fail there, and a call per candidate is most of the cost of a scan.
#[inline]
pub(crate) fn starts_with(name: &[u8], lit: &[u8]) -> bool {
    match lit.first() {
        None => true,
        Some(b) => name.first() == Some(b) && name.starts_with(lit),
    }
}

/// `name.ends_with(lit)`, checking the last byte inline first.
#[inline]
pub(crate) fn ends_with(name: &[u8], lit: &[u8]) -> bool {
    match lit.last() {
        None => true,
        Some(b) => name.last() == Some(b) && name.ends_with(lit),
    }
}

/// `name == lit`, checking the length and the first byte inline first.
#[inline]
pub(crate) fn equals(name: &[u8], lit: &[u8]) -> bool {
    name.len() == lit.len() && starts_with(name, lit)
}

/// The first occurrence of `needle` in `haystack`: a plain scan for short haystacks (bounded
/// work), two-way `memmem` (linear) for long ones.
#[inline]
fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    let Some(&head) = needle.first() else {
        return Some(0);
    };
    if haystack.len() < 64 {
        haystack.windows(needle.len()).position(|w| w.first() == Some(&head) && w == needle)
    } else {
        memmem::find(haystack, needle)
    }
}

/// A general glob with the rules that wrote it, matched by [`literal_glob_match`].
#[derive(Debug, Clone)]
pub(crate) struct LiteralGlob {
    /// The glob text, stars included.
    pub glob: Box<str>,
    /// Rule ids.
    pub ids: IdList,
}

impl LiteralGlob {
    /// Whether the glob matches the whole of `name`.
    #[inline]
    pub(crate) fn is_match(&self, name: &str) -> bool {
        literal_glob_match(self.glob.as_bytes(), name.as_bytes())
    }

    /// Heap bytes used.
    pub(crate) fn memory_usage(&self) -> usize {
        self.glob.len() + self.ids.len() * 4
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::glob::glob_match;

    /// Every glob and name over a small alphabet, against the reference matcher.
    #[test]
    fn agrees_with_the_reference_matcher() {
        let alphabet = ["a", "b", "*", "é"];
        let mut words = vec![String::new()];
        for _ in 0..4 {
            let longer: Vec<String> =
                words.iter().flat_map(|w| alphabet.iter().map(move |c| format!("{w}{c}"))).collect();
            words.extend(longer);
            words.sort();
            words.dedup();
        }
        let names: Vec<&String> = words.iter().filter(|w| !w.contains('*')).collect();
        for glob in &words {
            for name in &names {
                assert_eq!(
                    literal_glob_match(glob.as_bytes(), name.as_bytes()),
                    glob_match(glob, name),
                    "glob {glob:?} name {name:?}"
                );
            }
        }
    }

    #[test]
    fn typical_globs() {
        assert!(literal_glob_match(b"*admin*", b"get_admin_user"));
        assert!(literal_glob_match(b"get*_by_*", b"get_user_by_id"));
        assert!(!literal_glob_match(b"get*_by_*", b"get_user"));
        assert!(literal_glob_match(b"ab*ba", b"abba"));
        assert!(!literal_glob_match(b"ab*ba", b"aba"));
        assert!(literal_glob_match(b"a*b*c", b"abc"));
        assert!(!literal_glob_match(b"a*b*c", b"acb"));
    }
}
