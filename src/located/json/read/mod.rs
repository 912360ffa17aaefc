//! The one typed reader over the positioned JSON tree, shared by every JSON front end.
//!
//! A front end walks its document with a [`Value`] cursor: it asks for an object, a field, a
//! string, an array of something, and says which keys an object may hold. Each question that
//! the document answers wrongly is reported right there, located (`file:line:col` and the
//! JSON path) and worded by [`Mistake`], so the same mistake reads the same in a rules file,
//! `.mcp.json`, a test-case file and a tool catalogue. Problems are collected, never returned
//! at the first one, so an author fixes them all in one pass.
//!
//! ```text
//! let reader = Reader::new("rules.json", text);
//! if let Some(root) = reader.parse() {
//!     let v = reader.root(&root);
//!     if let Some(obj) = v.object("an object with `agents`") {
//!         obj.deny_unknown(&["agents", "defaults"]);
//!         let agents = obj.required("agents");
//!     }
//! }
//! let Problems { errors, warnings } = reader.finish();
//! ```

mod mistake;
mod object;
mod value;

use std::cell::Cell;

use crate::located::json::{self, DisplayPath, Node, PathSegment, SyntaxError};
use crate::located::{Diagnostic, Diagnostics, LineIndex, Severity};

pub(crate) use mistake::Mistake;
pub(crate) use object::{Field, Object};
pub(crate) use value::Value;

/// Reads one JSON document and collects the problems found in it.
///
/// Cursors borrow the reader and report into it; [`finish`](Self::finish) hands back what
/// they found, in source order, each with its line quoted.
pub(crate) struct Reader<'t> {
    file: &'t str,
    text: &'t str,
    index: LineIndex<'t>,
    /// A `Cell` so that cursors, which only borrow the reader, can report: a value is taken
    /// out, pushed to and put back, which cannot fail.
    problems: Cell<Vec<Diagnostic>>,
}

/// What a [`Reader`] found.
#[derive(Debug, Default)]
pub(crate) struct Problems {
    /// The document cannot be used.
    pub errors: Vec<Diagnostic>,
    /// The document works but something in it is ignored.
    pub warnings: Vec<Diagnostic>,
}

impl Problems {
    /// The errors, or `ok` when there are none.
    pub(crate) fn or_errors<T>(self, ok: T) -> Result<T, Diagnostics> {
        if self.errors.is_empty() { Ok(ok) } else { Err(Diagnostics(self.errors)) }
    }
}

impl<'t> Reader<'t> {
    /// A reader of `text`, which error locations name `file`.
    pub(crate) fn new(file: &'t str, text: &'t str) -> Self {
        Reader { file, text, index: LineIndex::new(text), problems: Cell::new(Vec::new()) }
    }

    /// Parses the whole text; a syntax error is reported, and gives `None`.
    pub(crate) fn parse(&self) -> Option<Node> {
        json::parse(self.text).map_err(|e| self.syntax_error(&e, 0, &[])).ok()
    }

    /// A cursor at the root of the document.
    pub(crate) fn root<'a>(&'a self, node: &'a Node) -> Value<'a> {
        self.value_at(node, 0, Vec::new())
    }

    /// A cursor at `node`, parsed from the part of the text that starts at byte `base`, whose
    /// JSON path is `path` (a file of JSON lines is parsed one line at a time).
    pub(crate) fn value_at<'a>(&'a self, node: &'a Node, base: usize, path: Vec<PathSegment>) -> Value<'a> {
        Value::new(self, node, base, path)
    }

    /// Reports a syntax error of the part of the text that starts at byte `base` and whose
    /// JSON path is `prefix`.
    pub(crate) fn syntax_error(&self, e: &SyntaxError, base: usize, prefix: &[PathSegment]) {
        let path: Vec<PathSegment> = prefix.iter().chain(&e.path).cloned().collect();
        self.report(Severity::Error, e.message.clone(), None, base + e.offset, &path);
    }

    /// Records a problem at byte `offset` of the text, with the JSON path when there is one.
    fn report(&self, severity: Severity, message: String, hint: Option<String>, offset: usize, path: &[PathSegment]) {
        let mut d = match severity {
            Severity::Error => Diagnostic::error(self.file, message),
            Severity::Warning => Diagnostic::warning(self.file, message),
        }
        .at(self.index.span(offset));
        if !path.is_empty() {
            d = d.with_path(DisplayPath(path).to_string());
        }
        d.hint = hint;
        let mut problems = self.problems.take();
        problems.push(d);
        self.problems.set(problems);
    }

    /// What was found, in source order, each problem with its line quoted.
    pub(crate) fn finish(self) -> Problems {
        let text = self.text;
        self.finish_showing(text)
    }

    /// As [`finish`](Self::finish), but quoting lines from `shown`: the text with the same
    /// lines and columns and some values masked (`.mcp.json` never quotes a secret).
    pub(crate) fn finish_showing(self, shown: &str) -> Problems {
        let mut all = Diagnostics(self.problems.take());
        all.0.sort_by_key(|d| d.span);
        all.attach_source_lines(shown);
        let (errors, warnings) = all.0.into_iter().partition(Diagnostic::is_error);
        Problems { errors, warnings }
    }
}

#[cfg(test)]
mod tests;
