//! Text to terms: splitting, lower-casing, stop words and a light suffix stemmer.
//!
//! Tool names are identifiers (`git_diff_staged`, `browser_take_screenshot`, `getSum`,
//! `maps.reverse-geocode`), so splitting has to cut at `_ - .` and at camelCase boundaries,
//! not only at white space. The stemmer is deliberately light: it only folds the inflections
//! that make a user's words differ from a description's (`files`/`file`, `created`/`create`,
//! `searching`/`search`, `directories`/`directory`). A full Porter stemmer conflates more
//! (`general`/`generate`), which on short tool texts costs more precision than it gains.

/// The longest token kept, in bytes. Longer runs (base64, hashes, a 1 MB word) are cut, so
/// that a hostile query cannot make one term huge; no real word in a tool text is this long.
const MAX_TOKEN_BYTES: usize = 64;

/// Words that carry no meaning for picking a tool, in descriptions or in questions.
///
/// Kept short on purpose: words such as `all`, `new`, `file` or `list` look common but do
/// tell tools apart, so they stay.
const STOP_WORDS: &[&str] = &[
    "a", "an", "and", "any", "are", "as", "at", "be", "been", "by", "can", "could", "do", "does", "for", "from", "how",
    "i", "if", "in", "into", "is", "it", "its", "me", "my", "of", "on", "or", "our", "please", "should", "so", "some",
    "that", "the", "their", "them", "then", "there", "these", "this", "those", "to", "us", "via", "want", "was", "we",
    "what", "when", "which", "who", "will", "with", "would", "you", "your", "need", "let", "lets", "s", "t",
];

/// Splits `text` into raw lower-case words, cutting at every non-alphanumeric character and at
/// camelCase and letter/digit boundaries (`listDirectoryWithSizes` -> list, directory, with,
/// sizes; `HTTPServer` -> http, server; `base64` -> base, 64).
pub(crate) fn words(text: &str, mut emit: impl FnMut(&str)) {
    let mut word = String::new();
    let mut prev: Option<char> = None;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if !c.is_alphanumeric() {
            flush(&mut word, &mut emit);
            prev = None;
            continue;
        }
        if let Some(p) = prev {
            let next_lower = chars.peek().is_some_and(|n| n.is_lowercase());
            let boundary = (p.is_lowercase() && c.is_uppercase())
                || (p.is_uppercase() && c.is_uppercase() && next_lower)
                || (p.is_alphabetic() && c.is_numeric())
                || (p.is_numeric() && c.is_alphabetic());
            if boundary {
                flush(&mut word, &mut emit);
            }
        }
        if word.len() < MAX_TOKEN_BYTES {
            word.extend(c.to_lowercase());
        }
        prev = Some(c);
    }
    flush(&mut word, &mut emit);
}

fn flush(word: &mut String, emit: &mut impl FnMut(&str)) {
    if !word.is_empty() {
        emit(word);
        word.clear();
    }
}

/// Whether a lower-case word is a stop word.
pub(crate) fn is_stop_word(word: &str) -> bool {
    STOP_WORDS.contains(&word)
}

/// The terms of `text`: its words, less stop words, stemmed.
pub(crate) fn terms(text: &str, mut emit: impl FnMut(String)) {
    words(text, |w| {
        if !is_stop_word(w) {
            emit(stem(w));
        }
    });
}

/// A light English stemmer: plural and verb endings, then a final `e`, so that `create`,
/// `creates`, `created` and `creating` all become `creat`.
///
/// Only ASCII words are touched; anything else is returned as it is (lower-cased by the
/// caller), which keeps the function total on any input.
pub(crate) fn stem(word: &str) -> String {
    if !word.is_ascii() || word.len() <= 3 {
        return word.to_owned();
    }
    let mut w = word.to_owned();
    if let Some(base) = w.strip_suffix("ies") {
        if base.len() >= 2 {
            w = format!("{base}y");
        }
    } else if w.ends_with("sses") || w.ends_with("shes") || w.ends_with("ches") || w.ends_with("xes") {
        w.truncate(w.len() - 2);
    } else if w.ends_with('s') && !w.ends_with("ss") && !w.ends_with("us") && !w.ends_with("is") && w.len() > 3 {
        w.truncate(w.len() - 1);
    }
    for suffix in ["ing", "ed"] {
        if let Some(base) = w.strip_suffix(suffix)
            && base.len() >= 3
            && base.bytes().any(is_vowel)
        {
            let mut base = base.to_owned();
            undouble(&mut base);
            w = base;
            break;
        }
    }
    if w.len() > 3 && w.ends_with('e') {
        w.truncate(w.len() - 1);
    }
    w
}

fn is_vowel(b: u8) -> bool {
    matches!(b, b'a' | b'e' | b'i' | b'o' | b'u' | b'y')
}

/// `committ` -> `commit`, `runn` -> `run`; but `pull`, `pass`, `buzz` keep their pair.
fn undouble(w: &mut String) {
    let b = w.as_bytes();
    if let [.., x, y] = b
        && x == y
        && !is_vowel(*x)
        && !matches!(x, b'l' | b's' | b'z')
    {
        w.pop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(s: &str) -> Vec<String> {
        let mut v = Vec::new();
        words(s, |w| v.push(w.to_owned()));
        v
    }

    #[test]
    fn splits_identifiers() {
        assert_eq!(split("git_diff_staged"), ["git", "diff", "staged"]);
        assert_eq!(split("listDirectoryWithSizes"), ["list", "directory", "with", "sizes"]);
        assert_eq!(split("get-tiny.image"), ["get", "tiny", "image"]);
        assert_eq!(split("HTTPServer base64"), ["http", "server", "base", "64"]);
        assert_eq!(split("  "), Vec::<String>::new());
    }

    #[test]
    fn stems_inflections_together() {
        for group in [
            &["create", "creates", "created", "creating"][..],
            &["file", "files"],
            &["directory", "directories"],
            &["search", "searches", "searching", "searched"],
            &["commit", "commits", "committed", "committing"],
            &["branch", "branches"],
        ] {
            let stems: Vec<String> = group.iter().map(|w| stem(w)).collect();
            assert!(stems.iter().all(|s| *s == stems[0]), "{group:?} -> {stems:?}");
        }
        assert_eq!(stem("string"), "string");
        assert_eq!(stem("status"), "status");
        assert_eq!(stem("pull"), "pull");
    }

    #[test]
    fn total_on_odd_text() {
        for s in ["", "\u{0}", "ß", "İstanbul", "日本語のテキスト", "🦀🦀", "a\u{301}", "ǅungla", "ΣΑΣ"]
        {
            let mut n = 0;
            terms(s, |_| n += 1);
            let _ = n;
        }
        let long = "x".repeat(10_000);
        let mut got = Vec::new();
        terms(&long, |t| got.push(t));
        assert_eq!(got.len(), 1);
        assert!(got[0].len() <= MAX_TOKEN_BYTES);
    }
}
