//! Glob patterns: `*` matches any run of characters (including none); everything else is literal.
//!
//! This module holds the one-pattern-at-a-time view of globs: classification into the kinds
//! the compiler treats differently, a direct matcher used by the reference interpreter and by
//! lints, and a sound containment test used to find shadowed rules.

/// What a pattern looks like, which decides how the compiler indexes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum GlobKind<'a> {
    /// No `*`: the name must equal the text.
    Exact(&'a str),
    /// Only `*`s: matches every name.
    Any,
    /// `lit*`: names starting with `lit`.
    Prefix(&'a str),
    /// `*lit`: names ending with `lit`.
    Suffix(&'a str),
    /// Anything else (`*lit*`, `a*b`, `*a*b*`): needs an automaton.
    General,
}

/// Classifies a pattern. Runs of `*` behave like one `*`.
pub(crate) fn classify(pattern: &str) -> GlobKind<'_> {
    let Some(first) = pattern.find('*') else {
        return GlobKind::Exact(pattern);
    };
    let trimmed = pattern.trim_matches('*');
    if trimmed.is_empty() {
        return GlobKind::Any;
    }
    if trimmed.contains('*') {
        return GlobKind::General;
    }
    let starts = first == 0;
    let ends = pattern.ends_with('*');
    match (starts, ends) {
        (false, true) => GlobKind::Prefix(trimmed),
        (true, false) => GlobKind::Suffix(trimmed),
        _ => GlobKind::General,
    }
}

/// Matches `name` against `pattern` directly, with the classic two-pointer algorithm that
/// backtracks only to the most recent `*` (linear space, no automata).
pub fn glob_match(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    let (mut pi, mut ni) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        match p.get(pi) {
            Some('*') => {
                star = Some((pi, ni));
                pi += 1;
            }
            Some(c) if Some(c) == n.get(ni) => {
                pi += 1;
                ni += 1;
            }
            _ => match star {
                Some((sp, sn)) => {
                    pi = sp + 1;
                    ni = sn + 1;
                    star = Some((sp, sn + 1));
                }
                None => return false,
            },
        }
    }
    p.get(pi..).is_some_and(|rest| rest.iter().all(|&c| c == '*'))
}

/// Whether every name `inner` matches is also matched by `outer`.
///
/// Sound but not complete: `true` is always right, and `false` may be returned for some
/// general globs that are in fact contained. That is the right direction for warnings about
/// shadowed rules, which must never claim a shadow that is not there.
pub(crate) fn glob_contains(outer: &str, inner: &str) -> bool {
    if !inner.contains('*') {
        return glob_match(outer, inner);
    }
    if outer == inner {
        return true;
    }
    let (inner_prefix, inner_suffix) = affixes(inner);
    match classify(outer) {
        GlobKind::Any => true,
        GlobKind::Exact(_) | GlobKind::General => false,
        GlobKind::Prefix(p) => inner_prefix.starts_with(p),
        GlobKind::Suffix(s) => inner_suffix.ends_with(s),
    }
}

/// Whether some name might match both globs.
///
/// Sound in the other direction from [`glob_contains`]: `false` is always right (no name
/// matches both), `true` may be returned for globs that in fact never meet. That is the right
/// direction for warnings about rules that can never apply.
pub(crate) fn may_overlap(a: &str, b: &str) -> bool {
    match (a.contains('*'), b.contains('*')) {
        (false, false) => a == b,
        (false, true) => glob_match(b, a),
        (true, false) => glob_match(a, b),
        (true, true) => {
            let (pa, sa) = affixes(a);
            let (pb, sb) = affixes(b);
            (pa.starts_with(pb) || pb.starts_with(pa)) && (sa.ends_with(sb) || sb.ends_with(sa))
        }
    }
}

/// The literal text before the first `*` and after the last one.
fn affixes(glob: &str) -> (&str, &str) {
    let prefix = glob.split('*').next().unwrap_or("");
    let suffix = glob.rsplit('*').next().unwrap_or("");
    (prefix, suffix)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies() {
        assert_eq!(classify("query"), GlobKind::Exact("query"));
        assert_eq!(classify(""), GlobKind::Exact(""));
        assert_eq!(classify("*"), GlobKind::Any);
        assert_eq!(classify("***"), GlobKind::Any);
        assert_eq!(classify("list_*"), GlobKind::Prefix("list_"));
        assert_eq!(classify("list_**"), GlobKind::Prefix("list_"));
        assert_eq!(classify("*_user"), GlobKind::Suffix("_user"));
        assert_eq!(classify("*a*"), GlobKind::General);
        assert_eq!(classify("a*b"), GlobKind::General);
        assert_eq!(classify("*a*b"), GlobKind::General);
    }

    #[test]
    fn matches_like_the_contract() {
        assert!(glob_match("*", ""));
        assert!(glob_match("*", "anything"));
        assert!(glob_match("a*", "a"));
        assert!(glob_match("*a*b*", "xxaYYbzz"));
        assert!(!glob_match("*a*b*", "xxbYYazz"));
        assert!(glob_match("a.b", "a.b"));
        assert!(!glob_match("a.b", "axb"));
        assert!(glob_match("x+y", "x+y"));
        assert!(!glob_match("x+y", "xxy"));
        assert!(glob_match("(q)", "(q)"));
        assert!(glob_match("[ab]?", "[ab]?"));
        assert!(!glob_match("[ab]?", "a"));
        assert!(glob_match("é*ü", "éxyzü"));
        assert!(!glob_match("Query", "query"));
        assert!(glob_match("a*a*a*b", "aaaaaaaaaaab"));
        assert!(!glob_match("a*a*a*b", "aaaaaaaaaaaa"));
    }

    #[test]
    fn overlap_is_sound() {
        assert!(may_overlap("pg", "pg"));
        assert!(!may_overlap("pg", "redis"));
        assert!(may_overlap("p*", "pg"));
        assert!(may_overlap("p*", "*g"));
        assert!(!may_overlap("p*", "r*"));
        assert!(!may_overlap("*a", "*b"));
        assert!(may_overlap("*", "x"));
    }

    #[test]
    fn containment_is_sound() {
        assert!(glob_contains("*", "drop_*"));
        assert!(glob_contains("drop_*", "drop_table"));
        assert!(glob_contains("drop_*", "drop_t*"));
        assert!(glob_contains("*_user", "get*_user"));
        assert!(glob_contains("a*b", "a*b"));
        assert!(!glob_contains("drop_*", "dr*"));
        assert!(!glob_contains("drop", "drop*"));
        assert!(!glob_contains("*x*", "a*b"));
    }
}
