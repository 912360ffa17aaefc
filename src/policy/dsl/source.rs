//! Reading positions and tokens out of the raw source text.
//!
//! The parser works on byte offsets; people read lines and columns. This module turns one into
//! the other, skips layout the way the grammar does, and describes the token at an offset for
//! "found ..." messages. Everything here takes arbitrary offsets and never slices off a char
//! boundary: a bad offset yields an empty or clamped answer rather than a panic.

pub(crate) use crate::located::line_index::{LineIndex, is_unsafe_to_print};

/// Whether `c` may appear in a bare name (`[A-Za-z0-9_.*-]`).
pub(crate) fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '*' | '-')
}

/// A comment found while skipping layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Comment {
    /// Byte offset of the `#`.
    pub offset: usize,
    /// The comment text after `#`, without the line break.
    pub text: String,
    /// Whether code precedes the comment on its line (`allow servers a  # why`).
    pub trailing: bool,
}

/// Skips whitespace and comments from `pos`, as the grammar's `WHITESPACE` and `COMMENT` do,
/// and returns the offset of the next token (or the end of the text). Comments are appended to
/// `comments`.
pub(crate) fn skip_trivia(text: &str, mut pos: usize, comments: &mut Vec<Comment>) -> usize {
    let bytes = text.as_bytes();
    // Whether a line break was crossed since the last token; decides if a comment is trailing.
    let mut fresh_line = pos == 0 || matches!(bytes.get(pos.wrapping_sub(1)), Some(b'\n' | b'\r'));
    if pos == 0 && text.starts_with('\u{FEFF}') {
        pos = '\u{FEFF}'.len_utf8();
    }
    if !fresh_line {
        // Look back over spaces: code before them on this line makes a comment trailing.
        let before = text.get(..pos).unwrap_or("");
        let last = before.trim_end_matches([' ', '\t']).chars().last();
        fresh_line = matches!(last, None | Some('\n' | '\r'));
    }
    while let Some(&b) = bytes.get(pos) {
        match b {
            b' ' | b'\t' => pos += 1,
            b'\n' | b'\r' => {
                pos += 1;
                fresh_line = true;
            }
            b'#' => {
                let rest = text.get(pos..).unwrap_or("");
                let len = rest.find(['\n', '\r']).unwrap_or(rest.len());
                let body = rest.get(1..len).unwrap_or("");
                comments.push(Comment { offset: pos, text: body.to_owned(), trailing: !fresh_line });
                pos += len;
            }
            _ => break,
        }
    }
    pos
}

/// The run of bare-name characters starting at `pos`, if any.
pub(crate) fn word_at(text: &str, pos: usize) -> Option<&str> {
    let rest = text.get(pos..)?;
    let len = rest.find(|c: char| !is_name_char(c)).unwrap_or(rest.len());
    rest.get(..len).filter(|w| !w.is_empty())
}

/// How long a quoted token shown in a message may get before it is cut short.
const MAX_SHOWN: usize = 40;

/// Describes the token at `pos` for a "found ..." message: `` `alow` ``, `` `}` ``,
/// "end of line", "end of input".
pub(crate) fn describe_found(text: &str, pos: usize) -> String {
    let rest = text.get(pos..).unwrap_or("");
    let Some(first) = rest.chars().next() else {
        return "end of input".to_owned();
    };
    let shown: String = match first {
        '\n' | '\r' => return "end of line".to_owned(),
        c if is_name_char(c) => word_at(text, pos).unwrap_or("").to_owned(),
        '"' => {
            let line = rest.split(['\n', '\r']).next().unwrap_or("");
            let closing = quoted_len(line).unwrap_or(line.len());
            line.get(..closing).unwrap_or(line).to_owned()
        }
        c => c.to_string(),
    };
    let mut out = String::new();
    for c in shown.chars().take(MAX_SHOWN) {
        if is_unsafe_to_print(c) {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    if shown.chars().count() > MAX_SHOWN {
        out.push('…');
    }
    format!("`{out}`")
}

/// The byte length of the quoted name at the start of `line` (including both quotes), or
/// `None` when the line ends before the closing quote.
pub(crate) fn quoted_len(line: &str) -> Option<usize> {
    let mut chars = line.char_indices().skip(1);
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some(i + 1),
            '\\' => {
                chars.next();
            }
            '\n' | '\r' => return None,
            _ => {}
        }
    }
    None
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn skips_layout_and_keeps_comments() {
        let text = "\u{FEFF}# head\n  agent x { # tail\n}";
        let mut comments = Vec::new();
        let pos = skip_trivia(text, 0, &mut comments);
        assert_eq!(text.get(pos..pos + 5), Some("agent"));
        let pos = skip_trivia(text, text.find('{').unwrap() + 1, &mut comments);
        assert_eq!(text.get(pos..), Some("}"));
        assert_eq!(comments.len(), 2);
        assert_eq!(comments[0].text, " head");
        assert!(!comments[0].trailing);
        assert_eq!(comments[1].text, " tail");
        assert!(comments[1].trailing);
    }

    #[test]
    fn describes_tokens() {
        assert_eq!(describe_found("alow servers", 0), "`alow`");
        assert_eq!(describe_found("x }", 2), "`}`");
        assert_eq!(describe_found("x", 1), "end of input");
        assert_eq!(describe_found("x\n", 1), "end of line");
        assert_eq!(describe_found(r#""a \"b\"" c"#, 0), r#"`"a \"b\""`"#);
        assert_eq!(describe_found("\"abc\nx", 0), "`\"abc`");
        assert_eq!(describe_found("\u{7}", 0), "`\\u{7}`");
        let long = "a".repeat(100);
        assert_eq!(describe_found(&long, 0), format!("`{}…`", "a".repeat(40)));
        assert_eq!(describe_found("é", 1), "end of input");
    }
}
