//! Turning a pest failure into a message a policy author can act on.
//!
//! Pest reports the furthest position it reached and the rules it tried there. This module
//! names those rules the way the reader wrote them (`` `allow` ``, `` `}` ``, "a name"), says
//! what was found instead, and adds a hint for the mistakes people actually make: a misspelt
//! keyword, a keyword used as a name, a missing `,`, an unterminated quote.

use pest::error::{Error, ErrorVariant, InputLocation};

use super::grammar::Rule;
use super::names::RESERVED;
use super::source::{describe_found, quoted_len, word_at};
use crate::located::suggest::did_you_mean;

/// Where the parser was when a unit failed to parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Between blocks.
    Top,
    /// Inside an `agent` block.
    Agent,
    /// Inside a `defaults` or `limits` block.
    Settings,
}

/// A syntax error, positioned by byte offset in the whole file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SyntaxError {
    /// Byte offset of the offending spot.
    pub offset: usize,
    /// What is wrong.
    pub message: String,
    /// How to fix it, when there is something useful to say.
    pub hint: Option<String>,
}

/// What the reader calls each rule, as a list of alternatives.
fn describe(rule: Rule) -> &'static [&'static str] {
    match rule {
        Rule::top_unit => &["`agent`", "`defaults`"],
        Rule::agent_unit => &["`allow`", "`deny`", "`limits`", "`}`"],
        Rule::settings_unit => &["a setting", "`}`"],
        Rule::agent_open | Rule::kw_agent | Rule::agent_block => &["`agent`"],
        Rule::defaults_open | Rule::kw_defaults | Rule::defaults_block => &["`defaults`"],
        Rule::limits_open | Rule::kw_limits | Rule::limits_block => &["`limits`"],
        Rule::rule_statement | Rule::effect => &["`allow`", "`deny`"],
        Rule::kw_allow => &["`allow`"],
        Rule::kw_deny => &["`deny`"],
        Rule::servers_rule | Rule::kw_servers => &["`servers`"],
        Rule::tools_rule | Rule::kw_tools => &["`tools`"],
        Rule::resources_rule | Rule::kw_resources => &["`resources`"],
        Rule::prompts_rule | Rule::kw_prompts => &["`prompts`"],
        Rule::kw_on => &["`on`"],
        Rule::name | Rule::bare_name | Rule::quoted_name | Rule::name_list => &["a name"],
        Rule::quoted_text => &["`\"`"],
        Rule::setting | Rule::setting_name => &["a setting"],
        Rule::boolean => &["`true`", "`false`"],
        Rule::integer => &["a number"],
        Rule::lbrace => &["`{`"],
        Rule::rbrace | Rule::block_close => &["`}`"],
        Rule::comma => &["`,`"],
        Rule::colon => &["`:`"],
        Rule::equals => &["`=`"],
        Rule::EOI => &["end of input"],
        Rule::file | Rule::bom => &["`agent`", "`defaults`"],
        Rule::agent_statement => &["`allow`", "`deny`", "`limits`"],
        Rule::setting_value => &["`true`", "`false`", "a number"],
        Rule::name_char => &["a name"],
        Rule::WHITESPACE | Rule::COMMENT | Rule::reserved => &[],
    }
}

/// "`a`", "`a` or `b`", "`a`, `b` or `c`".
fn one_of(items: &[&str]) -> String {
    match items {
        [] => "something else".to_owned(),
        [only] => (*only).to_owned(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

/// Context for one failed unit.
pub(crate) struct Failure<'a> {
    /// The whole file.
    pub text: &'a str,
    /// Byte offset where the failed unit starts.
    pub unit_start: usize,
    /// The parser's mode.
    pub mode: Mode,
    /// Whether the previous unit ended with a list of names, which a `,` would have continued.
    pub after_list: bool,
}

impl Failure<'_> {
    /// Builds the error for a pest failure on the unit starting at `unit_start`.
    pub(crate) fn explain(&self, err: &Error<Rule>) -> SyntaxError {
        let relative = match err.location {
            InputLocation::Pos(p) => p,
            InputLocation::Span((start, _)) => start,
        };
        let offset = self.unit_start.saturating_add(relative).min(self.text.len());
        let mut expected: Vec<&str> = Vec::new();
        if let ErrorVariant::ParsingError { positives, .. } = &err.variant {
            if self.after_list && offset == self.unit_start {
                expected.push("`,`");
            }
            for &rule in positives {
                for &d in describe(rule) {
                    if !expected.contains(&d) {
                        expected.push(d);
                    }
                }
            }
        }
        self.build(offset, &expected)
    }

    fn build(&self, offset: usize, expected: &[&str]) -> SyntaxError {
        let text = self.text;
        let found = describe_found(text, offset);
        let word = word_at(text, offset);
        let wants_name = expected.contains(&"a name");

        // An unterminated quote: point at the opening quote, which is where the fix goes.
        if let Some(rest) = text.get(offset..) {
            let line = rest.split(['\n', '\r']).next().unwrap_or("");
            if rest.starts_with('"') && quoted_len(line).is_none() {
                return SyntaxError {
                    offset,
                    message: "unterminated quoted name".to_owned(),
                    hint: Some("add the closing `\"`; a quoted name cannot span lines".to_owned()),
                };
            }
        }

        if let (true, Some(w)) = (wants_name, word)
            && RESERVED.contains(&w)
        {
            let trailing_comma = previous_char(text, offset) == Some(',');
            let hint = if trailing_comma {
                format!("remove the trailing `,` before `{w}`, or write `\"{w}\"` to use it as a name")
            } else {
                format!("`{w}` is a keyword; write `\"{w}\"` to use it as a name")
            };
            return SyntaxError { offset, message: format!("expected a name, found keyword `{w}`"), hint: Some(hint) };
        }

        if self.mode == Mode::Top && offset == self.unit_start {
            match word {
                Some("allow" | "deny" | "limits") => {
                    return SyntaxError {
                        offset,
                        message: format!("expected `agent` or `defaults`, found {found}"),
                        hint: Some("rules and limits go inside an `agent NAME { ... }` block".to_owned()),
                    };
                }
                None if text.get(offset..).is_some_and(|r| r.starts_with('}')) => {
                    return SyntaxError {
                        offset,
                        message: "unexpected `}`".to_owned(),
                        hint: Some("there is no open block for it to close".to_owned()),
                    };
                }
                _ => {}
            }
        }

        let message = format!("expected {}, found {found}", one_of(expected));
        let keywords = expected.iter().filter_map(|e| e.strip_prefix('`').and_then(|e| e.strip_suffix('`')));
        let keywords: Vec<&str> = keywords.filter(|k| k.chars().all(|c| c.is_ascii_alphabetic())).collect();
        let mut hint = word.and_then(|w| did_you_mean(w, keywords.iter().copied()));
        if hint.is_none() && word.is_some() {
            if expected.contains(&"`,`") {
                hint = Some("separate names with `,`".to_owned());
            } else if expected.contains(&"`on`") {
                hint = Some("write `tools on SERVER: TOOL, ...`; `*` as SERVER means every server".to_owned());
            } else if self.mode == Mode::Agent
                && expected.contains(&"`allow`")
                && matches!(word, Some("tools" | "resources" | "prompts"))
            {
                hint = Some("start the rule with `allow` or `deny`".to_owned());
            }
        }
        if hint.is_none() && expected.contains(&"a name") && found.starts_with("`") && word.is_none() {
            hint = Some("write names made of other characters in double quotes, like `\"my server\"`".to_owned());
        }
        SyntaxError { offset, message, hint }
    }
}

/// The last non-space character before `offset`, skipping comments would need a lexer, so this
/// only skips spaces and line breaks (good enough for a hint).
fn previous_char(text: &str, offset: usize) -> Option<char> {
    text.get(..offset)?.trim_end().chars().last()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn suggests_misspelt_and_swapped_keywords() {
        assert_eq!(did_you_mean("alow", ["allow", "deny"]), Some("did you mean `allow`?".to_owned()));
        assert_eq!(did_you_mean("agnet", ["agent", "defaults"]), Some("did you mean `agent`?".to_owned()));
        assert_eq!(did_you_mean("limtis", ["limits"]), Some("did you mean `limits`?".to_owned()));
        assert_eq!(did_you_mean("zzz", ["agent"]), None);
    }

    #[test]
    fn lists_alternatives_like_prose() {
        assert_eq!(one_of(&["`a`"]), "`a`");
        assert_eq!(one_of(&["`a`", "`b`"]), "`a` or `b`");
        assert_eq!(one_of(&["`a`", "`b`", "`c`"]), "`a`, `b` or `c`");
        assert_eq!(one_of(&[]), "something else");
    }
}
