//! The `.mcpgw` policy language: a pest grammar (`grammar/mcpgw.pest`) lowered into the same
//! AST as the JSON rules.
//!
//! ```text
//! defaults {
//!   deny_on_missing_agent = true
//! }
//!
//! agent backend {
//!   allow servers postgres
//!   allow tools on postgres: query, list_*
//!   deny tools on postgres: drop_*, truncate_*
//! }
//! ```
//!
//! Reading is [`PolicySet::from_dsl_str`]; writing is [`to_dsl_string`], whose output is the
//! canonical text `mcpgw fmt` compares against. `docs/dsl.md` is the language guide and the
//! grammar file its reference.
//!
//! The pieces: `grammar` (the generated pest parser), `parse` (the unit-by-unit reader and
//! lowering), `recover` (where to read on after an error), `errors` (messages and hints for
//! syntax errors), `names` (bare and quoted names, both ways), `source` (offsets to lines and
//! columns), `print` (the canonical printer) and `comments` (keeping comments through
//! [`format_dsl_str`]).

mod comments;
mod errors;
mod grammar;
mod names;
mod parse;
mod print;
mod recover;
mod source;
#[cfg(test)]
mod tests;

pub use print::to_dsl_string;

use crate::located::{Diagnostic, Diagnostics};
use crate::policy::ast::PolicySet;

/// Reformats `.mcpgw` source text into its canonical form, keeping its comments.
///
/// This is what `mcpgw fmt` does to a DSL file: the result is [`to_dsl_string`] of the parsed
/// policy, with every comment of the source placed above the line it stood above, or after the
/// line it stood after. Statements the canonical form merges keep all their comments. The
/// result is a fixed point: formatting it again gives the same text. A file with errors is not
/// formatted; the errors come back as [`PolicySet::from_dsl_str`] reports them.
///
/// ```
/// use mcpgw::policy::dsl::format_dsl_str;
///
/// let text = "# who may reach what\n\nagent backend { allow servers postgres  # the main db\n}\n";
/// assert_eq!(
///     format_dsl_str("policy.mcpgw", text).unwrap(),
///     "# who may reach what
///
/// defaults {
///   deny_on_missing_agent = true
/// }
///
/// agent backend {
///   allow servers postgres  # the main db
/// }
/// "
/// );
/// ```
pub fn format_dsl_str(source_name: &str, text: &str) -> Result<String, Diagnostics> {
    let parsed = read(source_name, text)?;
    Ok(print::render(&parsed.policy, &parsed.comments))
}

/// Parses, applies the structural checks, and collects every error in source order.
fn read(source_name: &str, text: &str) -> Result<parse::Parsed, Diagnostics> {
    let mut parsed = parse::parse(source_name, text);
    let mut errors: Vec<Diagnostic> = std::mem::take(&mut parsed.errors);
    let lines = source::LineIndex::new(text);
    for d in parsed.policy.structural_errors() {
        let line_text = d.span.map(|s| lines.shown_line(s));
        errors.push(match line_text {
            Some(t) => d.with_line_text(t),
            None => d,
        });
    }
    if errors.is_empty() {
        return Ok(parsed);
    }
    errors.sort_by_key(|d| d.span.map_or((u32::MAX, u32::MAX), |s| (s.line, s.column)));
    Err(Diagnostics(errors))
}

impl PolicySet {
    /// Parses a policy written in the `.mcpgw` language.
    ///
    /// `source_name` is the file name shown in locations, both in errors and in the
    /// [`RuleSource`](crate::policy::RuleSource) of every pattern (`policy.mcpgw:12:5`). On
    /// failure every error in the file comes back, each with its line, a caret and, where one
    /// helps, a hint; the structural checks that JSON policies get (valid agent keys, no empty
    /// patterns) are applied too.
    ///
    /// ```
    /// use mcpgw::policy::PolicySet;
    ///
    /// let policy = PolicySet::from_dsl_str(
    ///     "policy.mcpgw",
    ///     "agent backend {\n  allow servers postgres\n  deny tools on postgres: drop_*\n}\n",
    /// )
    /// .unwrap();
    /// let deny = &policy.agents[0].deny.tools[0];
    /// assert_eq!((deny.server.text.as_str(), deny.tools[0].text.as_str()), ("postgres", "drop_*"));
    /// assert_eq!((deny.tools[0].source.span.line, deny.tools[0].source.span.column), (3, 27));
    ///
    /// let err = PolicySet::from_dsl_str("policy.mcpgw", "agent backend {\n  alow servers postgres\n}\n").unwrap_err();
    /// assert_eq!(
    ///     err.to_string(),
    ///     "policy.mcpgw:2:3: error: expected `allow`, `deny`, `limits` or `}`, found `alow`
    ///   |
    /// 2 |   alow servers postgres
    ///   |   ^
    ///   hint: did you mean `allow`?"
    /// );
    /// ```
    pub fn from_dsl_str(source_name: &str, text: &str) -> Result<PolicySet, Diagnostics> {
        read(source_name, text).map(|parsed| parsed.policy)
    }
}
