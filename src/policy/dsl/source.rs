//! Reading positions and tokens out of the raw source text.
//!
//! The parser works on byte offsets; people read lines and columns. This module turns one into
//! the other, skips layout the way the grammar does, and describes the token at an offset for
//! "found ..." messages. Everything here takes arbitrary offsets and never slices off a char
//! boundary: a bad offset yields an empty or clamped answer rather than a panic.

use std::cell::Cell;

use crate::policy::diagnostic::Span;

/// Line starts of a text, for turning byte offsets into [`Span`]s.
///
/// A line ends at `\n`, `\r\n` or a lone `\r`, exactly like the grammar's `NEWLINE`, so the
/// line a caret is drawn under is the line the parser saw.
pub(crate) struct LineIndex<'a> {
    text: &'a str,
    starts: Vec<usize>,
    /// The last offset looked up and its column. Offsets are mostly asked for in increasing
    /// order, so counting characters on from there keeps a file with one enormous line linear.
    last: Cell<(usize, usize)>,
}

impl<'a> LineIndex<'a> {
    /// Indexes the line starts of `text`.
    pub(crate) fn new(text: &'a str) -> Self {
        let bytes = text.as_bytes();
        let mut starts = vec![0];
        let mut i = 0;
        while let Some(&b) = bytes.get(i) {
            i += 1;
            match b {
                b'\n' => starts.push(i),
                b'\r' if bytes.get(i) != Some(&b'\n') => starts.push(i),
                _ => {}
            }
        }
        LineIndex { text, starts, last: Cell::new((0, 0)) }
    }

    /// The 1-based line and column (in characters) of a byte offset.
    pub(crate) fn span(&self, offset: usize) -> Span {
        let offset = offset.min(self.text.len());
        let line = self.starts.partition_point(|&s| s <= offset).max(1);
        let start = self.starts.get(line - 1).copied().unwrap_or(0);
        let (last_offset, last_column) = self.last.get();
        let (from, base) =
            if (start..=offset).contains(&last_offset) { (last_offset, last_column) } else { (start, 0) };
        let column = base + self.text.get(from..offset).map_or(0, |s| s.chars().count());
        self.last.set((offset, column));
        Span { line: to_u32(line), column: to_u32(column.saturating_add(1)) }
    }

    /// The byte offset where a 1-based line starts (the end of the text past the last line).
    fn line_start(&self, line: u32) -> usize {
        let idx = (line as usize).saturating_sub(1);
        self.starts.get(idx).copied().unwrap_or(self.text.len())
    }

    /// The line a diagnostic at `span` shows: [`line_text_upto`](Self::line_text_upto) cut some way
    /// after the caret, so a hostile one-line file cannot make every message megabytes long.
    pub(crate) fn shown_line(&self, span: Span) -> String {
        self.line_text_upto(span.line, (span.column as usize).saturating_add(SHOWN_AFTER_CARET))
    }

    /// The text of a 1-based line without its line break, cut after `max_chars` characters
    /// (marked with `…`), and made safe to print on a terminal.
    ///
    /// Control characters and bidirectional overrides are replaced one-for-one by `?`, so a
    /// hostile file cannot restyle the terminal or reorder what the reviewer sees, and the caret
    /// still lines up (tabs are kept; the renderer aligns them).
    pub(crate) fn line_text_upto(&self, line: u32, max_chars: usize) -> String {
        let start = self.line_start(line);
        let end = self.starts.get(line as usize).copied().unwrap_or(self.text.len()).max(start);
        let raw = self.text.get(start..end).unwrap_or("");
        let raw = raw.strip_suffix('\n').unwrap_or(raw);
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        let mut out: String =
            raw.chars().take(max_chars).map(|c| if is_unsafe_to_print(c) { '?' } else { c }).collect();
        if raw.chars().nth(max_chars).is_some() {
            out.push('…');
        }
        out
    }
}

/// How many characters of an offending line are shown after the caret.
const SHOWN_AFTER_CARET: usize = 200;

fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Characters that must not reach a terminal verbatim in an error message.
fn is_unsafe_to_print(c: char) -> bool {
    (c.is_control() && c != '\t') || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

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
    fn spans_count_characters_and_every_newline_style() {
        let idx = LineIndex::new("ab\r\né x\rz\n");
        assert_eq!(idx.span(0), Span { line: 1, column: 1 });
        assert_eq!(idx.span(4), Span { line: 2, column: 1 });
        assert_eq!(idx.span(7), Span { line: 2, column: 3 });
        assert_eq!(idx.span(9), Span { line: 3, column: 1 });
        assert_eq!(idx.line_text_upto(1, 99), "ab");
        assert_eq!(idx.line_text_upto(2, 99), "é x");
        assert_eq!(idx.line_text_upto(3, 99), "z");
        assert_eq!(idx.line_text_upto(4, 99), "");
        assert_eq!(idx.line_text_upto(99, 99), "");
        assert_eq!(idx.span(999), Span { line: 4, column: 1 });
        // Out of order, and repeated, after the cache has moved on.
        assert_eq!(idx.span(7), Span { line: 2, column: 3 });
        assert_eq!(idx.span(6), Span { line: 2, column: 2 });
        assert_eq!(idx.span(7), Span { line: 2, column: 3 });
    }

    #[test]
    fn line_text_can_be_cut() {
        let idx = LineIndex::new("abcdef\nx");
        assert_eq!(idx.line_text_upto(1, 3), "abc…");
        assert_eq!(idx.line_text_upto(1, 6), "abcdef");
    }

    #[test]
    fn line_text_defuses_terminal_controls() {
        let idx = LineIndex::new("a\u{1b}[31m\u{202E}b\tc");
        assert_eq!(idx.line_text_upto(1, 99), "a?[31m?b\tc");
    }

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
