//! Byte offsets to lines and columns, and the offending line as an error shows it.
//!
//! Every front end (JSON rules, the DSL, `.mcp.json`, test-case files, tool catalogues)
//! reports problems as `file:line:col` with the line and a caret, so they share this one
//! index, and this is the one place that decides where a line ends.

use std::cell::Cell;

use crate::located::diagnostic::Span;

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

    /// The text of a 1-based line without its line break, or `None` past the last line.
    pub(crate) fn line(&self, line: u32) -> Option<&'a str> {
        let idx = (line as usize).checked_sub(1)?;
        let start = *self.starts.get(idx)?;
        let end = self.starts.get(idx + 1).copied().unwrap_or(self.text.len()).max(start);
        let raw = self.text.get(start..end)?;
        let raw = raw.strip_suffix('\n').unwrap_or(raw);
        Some(raw.strip_suffix('\r').unwrap_or(raw))
    }

    /// Every line, without its line break (a text ending in a line break ends with an empty
    /// line).
    pub(crate) fn lines(&self) -> impl Iterator<Item = &'a str> + '_ {
        (1..=self.starts.len()).filter_map(|n| self.line(to_u32(n)))
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
        let raw = self.line(line).unwrap_or("");
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
pub(crate) fn is_unsafe_to_print(c: char) -> bool {
    (c.is_control() && c != '\t') || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
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
        assert_eq!((idx.line(4), idx.line(5), idx.line(0)), (Some(""), None, None));
        assert_eq!(idx.lines().collect::<Vec<_>>(), ["ab", "é x", "z", ""]);
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
}
