//! "Did you mean" hints for misspelt keys and keywords.

/// The closest candidate to `word`, phrased as a hint, when one is close enough to be a typo.
pub(crate) fn did_you_mean<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<String> {
    let limit = (word.chars().count() / 3).max(1);
    candidates
        .into_iter()
        .map(|c| (edit_distance(word, c), c))
        .filter(|&(d, _)| d <= limit)
        .min_by_key(|&(d, _)| d)
        .map(|(_, c)| format!("did you mean `{c}`?"))
}

/// Edit distance over characters where insertions, deletions, substitutions and swaps of two
/// neighbouring characters each cost one (optimal string alignment). Counting a swap once
/// matters: `agnet` is one typo away from `agent`, not two.
pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let width = b.len() + 1;
    // Three rows: two back (for swaps), one back, and the current one.
    let mut rows = vec![0usize; 3 * width];
    let at = |row: usize, j: usize| row * width + j;
    for (j, cell) in rows.iter_mut().take(width).enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        let (cur, prev, prev2) = (i % 3, (i - 1) % 3, (i + 1) % 3);
        let get = |rows: &[usize], r: usize, j: usize| rows.get(at(r, j)).copied().unwrap_or(0);
        if let Some(first) = rows.get_mut(at(cur, 0)) {
            *first = i;
        }
        for j in 1..=b.len() {
            let (ca, cb) = (a.get(i - 1), b.get(j - 1));
            let mut best = (get(&rows, prev, j - 1) + usize::from(ca != cb))
                .min(get(&rows, prev, j) + 1)
                .min(get(&rows, cur, j - 1) + 1);
            if i > 1 && j > 1 && ca == b.get(j - 2) && a.get(i - 2) == cb && ca != cb {
                best = best.min(get(&rows, prev2, j - 2) + 1);
            }
            if let Some(cell) = rows.get_mut(at(cur, j)) {
                *cell = best;
            }
        }
    }
    rows.get(at(a.len() % 3, b.len())).copied().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_words_only() {
        assert_eq!(did_you_mean("alow", ["allow", "deny"]), Some("did you mean `allow`?".into()));
        assert_eq!(did_you_mean("servres", ["servers", "tools"]), Some("did you mean `servers`?".into()));
        assert_eq!(did_you_mean("banana", ["allow", "deny"]), None);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("abc", ""), 3);
        assert_eq!(edit_distance("agnet", "agent"), 1);
        assert_eq!(edit_distance("ca", "abc"), 3);
        assert_eq!(did_you_mean("agnet", ["agent", "defaults"]), Some("did you mean `agent`?".into()));
        assert_eq!(did_you_mean("limtis", ["limits"]), Some("did you mean `limits`?".into()));
    }
}
