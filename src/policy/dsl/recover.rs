//! Finding where to read on after a syntax error.
//!
//! After a unit fails, the parser skips to the next spot where a unit can start, so one
//! mistake gives one message and the rest of the file is still checked. These scanners are a
//! tiny lexer of their own (quoted names, comments, braces, words at the start of a line): they
//! must work on text that the grammar just refused.

use super::errors::Mode;
use super::source::{is_name_char, quoted_len, word_at};
use crate::located::suggest::did_you_mean;

/// The offset of `target` on the line starting at `from`, outside comments and closed quotes.
pub(crate) fn find_on_line(text: &str, from: usize, target: char) -> Option<usize> {
    let rest = text.get(from..)?;
    let line = rest.split(['\n', '\r']).next().unwrap_or("");
    let mut i = 0;
    while let Some(c) = line.get(i..).and_then(|s| s.chars().next()) {
        if c == target {
            return Some(from + i);
        }
        match c {
            '#' => return None,
            '"' => i += line.get(i..).and_then(quoted_len).unwrap_or(1),
            _ => i += c.len_utf8(),
        }
    }
    None
}

/// Where reading resumes after an error at `error_at` in the unit starting at `unit_start`.
///
/// The result is always past `unit_start`, so the parser makes progress on every error.
pub(crate) fn skip_to_sync(text: &str, mode: Mode, unit_start: usize, error_at: usize) -> usize {
    let bytes = text.as_bytes();
    let mut depth = 0usize;
    let mut i = unit_start;
    let mut line_start = true;
    let ready = |i: usize| i >= error_at && i > unit_start;
    while let Some(c) = text.get(i..).and_then(|s| s.chars().next()) {
        match c {
            '\n' | '\r' => {
                line_start = true;
                i += 1;
                continue;
            }
            ' ' | '\t' => {
                i += 1;
                continue;
            }
            '#' => {
                while !matches!(bytes.get(i), None | Some(b'\n' | b'\r')) {
                    i += 1;
                }
                continue;
            }
            '"' => i += text.get(i..).and_then(quoted_len).unwrap_or(1),
            '{' => {
                depth += 1;
                i += 1;
            }
            '}' => {
                if depth == 0 && mode != Mode::Top && ready(i) {
                    return i;
                }
                depth = depth.saturating_sub(1);
                i += 1;
            }
            c if is_name_char(c) => {
                let word = word_at(text, i).unwrap_or("");
                // A keyword, or a misspelling of one (which gets its own error), starts a unit;
                // other words at the start of a line are taken as the rest of the broken one.
                let keywords: &[&str] = match mode {
                    Mode::Top => &["agent", "defaults"],
                    Mode::Agent => &["allow", "deny", "limits", "agent", "defaults"],
                    Mode::Settings => &[],
                };
                let near = |k: &&str| word.len().abs_diff(k.len()) <= 2;
                let sync = mode == Mode::Settings
                    || keywords.contains(&word)
                    || (keywords.iter().any(near) && did_you_mean(word, keywords.iter().copied()).is_some());
                if line_start && depth == 0 && sync && ready(i) {
                    return i;
                }
                i += word.len().max(1);
            }
            c => i += c.len_utf8(),
        }
        line_start = false;
    }
    text.len()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn sync_skips_to_the_next_statement_line() {
        let text = "allow servers a b c\n  # x\n  deny servers d";
        let at = skip_to_sync(text, Mode::Agent, 0, 16);
        assert_eq!(&text[at..], "deny servers d");
    }

    #[test]
    fn sync_stops_at_the_closing_brace_and_skips_nested_ones() {
        let text = "x = { a } y }";
        assert_eq!(skip_to_sync(text, Mode::Settings, 0, 4), 12);
        assert_eq!(skip_to_sync("}}", Mode::Top, 0, 0), 2);
    }

    #[test]
    fn finds_braces_outside_quotes_and_comments() {
        assert_eq!(find_on_line("agent \"{\" x {", 0, '{'), Some(12));
        assert_eq!(find_on_line("agent \"oops x {", 0, '{'), Some(14));
        assert_eq!(find_on_line("agent x # {", 0, '{'), None);
        assert_eq!(find_on_line("agent x\n{", 0, '{'), None);
    }
}
