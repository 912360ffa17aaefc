//! Keeping comments through `mcpgw fmt`.
//!
//! Comments are not part of the policy, so the AST has no place for them. Instead, the reader
//! attaches each comment to a *slot*: a line the canonical printer will write (an agent's
//! opening line, an `allow tools on pg` statement, a setting, a closing `}`), and the printer
//! writes the comments of each slot around that line. A comment on its own line goes above
//! the next statement; a comment after a statement stays after it. Statements that the
//! canonical form merges (two `allow tools on pg` lines) merge their comments too.

use std::collections::HashMap;

use super::source::{Comment, quoted_len};
use crate::policy::ast::{Effect, ItemKind};

/// A line of the canonical text that comments can be attached to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Slot {
    /// The top of the file, above everything (comments before the first block, separated from
    /// it by a blank line).
    Header,
    /// `defaults {`.
    Defaults,
    /// `deny_on_missing_agent = ...`.
    DefaultsSetting,
    /// The `}` closing `defaults`.
    DefaultsEnd,
    /// `agent KEY {` of the agent block with this index.
    Agent(usize),
    /// `allow servers ...` (`None`) or `allow tools on SERVER: ...` (`Some((Tool, SERVER))`),
    /// and likewise for `resources` and `prompts`.
    Rule(usize, Effect, Option<(ItemKind, String)>),
    /// `limits {`.
    Limits(usize),
    /// One limit setting.
    Limit(usize, &'static str),
    /// The `}` closing `limits`.
    LimitsEnd(usize),
    /// The `}` closing an agent block.
    AgentEnd(usize),
    /// The end of the file, below everything.
    End,
}

/// The comments attached to one slot, without their `#` and trailing spaces.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Attached {
    /// Comments written on their own lines above the slot's line.
    pub leading: Vec<String>,
    /// Comments written after the slot's line (the printer keeps the last one there and moves
    /// any others above, where merged statements put them).
    pub trailing: Vec<String>,
}

/// Every comment of a file, by slot.
#[derive(Debug, Clone, Default)]
pub(crate) struct Comments {
    slots: HashMap<Slot, Attached>,
}

impl Comments {
    /// The comments of a slot, if it has any.
    pub(crate) fn get(&self, slot: &Slot) -> Option<&Attached> {
        self.slots.get(slot)
    }

    /// Adds a comment above a slot's line.
    pub(crate) fn lead(&mut self, slot: Slot, text: &str) {
        self.slots.entry(slot).or_default().leading.push(clean(text));
    }

    /// Adds a comment after a slot's line.
    pub(crate) fn trail(&mut self, slot: Slot, text: &str) {
        self.slots.entry(slot).or_default().trailing.push(clean(text));
    }
}

fn clean(text: &str) -> String {
    text.trim_end().to_owned()
}

/// Comments inside a unit's text (between the names of a list spanning lines), found by a
/// small lexer that skips quoted names.
pub(crate) fn inner_comments(text: &str, start: usize, end: usize) -> Vec<Comment> {
    let mut out = Vec::new();
    let Some(unit) = text.get(start..end) else { return out };
    let mut i = 0;
    while let Some(c) = unit.get(i..).and_then(|s| s.chars().next()) {
        match c {
            '"' => {
                i += unit.get(i..).and_then(quoted_len).unwrap_or(1);
            }
            '#' => {
                let rest = unit.get(i..).unwrap_or("");
                let len = rest.find(['\n', '\r']).unwrap_or(rest.len());
                out.push(Comment {
                    offset: start + i,
                    text: rest.get(1..len).unwrap_or("").to_owned(),
                    trailing: true,
                });
                i += len.max(1);
            }
            c => i += c.len_utf8(),
        }
    }
    out
}

/// Writes `# text` lines for comments above a slot at `indent`, including all but the last of
/// its trailing comments.
pub(crate) fn write_leading(out: &mut String, indent: &str, attached: Option<&Attached>) {
    let Some(a) = attached else { return };
    let above = a.trailing.len().saturating_sub(1);
    for text in a.leading.iter().chain(a.trailing.iter().take(above)) {
        out.push_str(indent);
        out.push('#');
        out.push_str(text);
        out.push('\n');
    }
}

/// Appends `  # text` for the last trailing comment of a slot, before the line's newline.
pub(crate) fn write_trailing(out: &mut String, attached: Option<&Attached>) {
    if let Some(text) = attached.and_then(|a| a.trailing.last()) {
        out.push_str("  #");
        out.push_str(text);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn finds_comments_inside_units_but_not_in_quotes() {
        let text = "allow servers a, # one\n \"#no\", # two\n b";
        let found: Vec<_> = inner_comments(text, 0, text.len()).into_iter().map(|c| c.text).collect();
        assert_eq!(found, [" one", " two"]);
    }

    #[test]
    fn writes_extra_trailing_comments_above() {
        let mut c = Comments::default();
        c.lead(Slot::End, " a  ");
        c.trail(Slot::End, " b");
        c.trail(Slot::End, " c");
        let mut out = String::new();
        write_leading(&mut out, "  ", c.get(&Slot::End));
        write_trailing(&mut out, c.get(&Slot::End));
        assert_eq!(out, "  # a\n  # b\n  # c");
    }
}
