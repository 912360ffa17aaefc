//! Errors and warnings that point back at their source: `file:line:col`, the JSON path, the
//! offending line with a caret, and a hint.

use std::fmt;

use crate::located::line_index::LineIndex;

/// How serious a [`Diagnostic`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The policy cannot be used.
    Error,
    /// The policy works but probably does not say what its author meant.
    Warning,
}

/// A 1-based line and column in a source file (columns count characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub struct Span {
    /// 1-based line number.
    pub line: u32,
    /// 1-based column, in characters.
    pub column: u32,
}

impl Default for Span {
    /// The start of a file.
    fn default() -> Self {
        Span { line: 1, column: 1 }
    }
}

/// One problem found in a source file, with everything needed to find and fix it.
///
/// Displayed in the `file:line:col: error: message` form that editors and terminals link,
/// followed by the JSON path, the offending line with a caret, and a hint when there is one.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// What is wrong, lowercase, with user input in backticks.
    pub message: String,
    /// The file (or other source name) the problem is in.
    pub file: String,
    /// Where in the file, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub span: Option<Span>,
    /// The JSON path of the offending value, for JSON sources.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// The source line the span points into, for the caret display.
    #[serde(skip)]
    pub line_text: Option<String>,
    /// A suggestion for fixing the problem.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

impl Diagnostic {
    /// An error in `file` with no position yet.
    pub fn error(file: &str, message: impl Into<String>) -> Self {
        Self::new(Severity::Error, file, message)
    }

    /// A warning in `file` with no position yet.
    pub fn warning(file: &str, message: impl Into<String>) -> Self {
        Self::new(Severity::Warning, file, message)
    }

    fn new(severity: Severity, file: &str, message: impl Into<String>) -> Self {
        Diagnostic {
            severity,
            message: message.into(),
            file: file.to_owned(),
            span: None,
            path: None,
            line_text: None,
            hint: None,
        }
    }

    /// Attaches a position.
    #[must_use]
    pub fn at(mut self, span: Span) -> Self {
        self.span = Some(span);
        self
    }

    /// Attaches a position and, for a JSON source, the JSON path of the value there.
    #[must_use]
    pub fn at_location(mut self, span: Span, path: Option<&str>) -> Self {
        self.span = Some(span);
        self.path = path.map(str::to_owned);
        self
    }

    /// Attaches a JSON path.
    #[must_use]
    pub fn with_path(mut self, path: impl Into<String>) -> Self {
        self.path = Some(path.into());
        self
    }

    /// Attaches the text of the line the span points into.
    #[must_use]
    pub fn with_line_text(mut self, text: impl Into<String>) -> Self {
        self.line_text = Some(text.into());
        self
    }

    /// Attaches a hint.
    #[must_use]
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Whether this is an error (and not a warning).
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let severity = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        match self.span {
            Some(s) => write!(f, "{}:{}:{}: {severity}: {}", self.file, s.line, s.column, self.message)?,
            None => write!(f, "{}: {severity}: {}", self.file, self.message)?,
        }
        if let Some(path) = &self.path {
            write!(f, "\n  at {path}")?;
        }
        if let (Some(text), Some(span)) = (&self.line_text, self.span) {
            let gutter = span.line.to_string();
            let pad = " ".repeat(gutter.len());
            let caret_pad: String = text
                .chars()
                .take(span.column.saturating_sub(1) as usize)
                .map(|c| if c == '\t' { '\t' } else { ' ' })
                .collect();
            write!(f, "\n{pad} |\n{gutter} | {text}\n{pad} | {caret_pad}^")?;
        }
        if let Some(hint) = &self.hint {
            write!(f, "\n  hint: {hint}")?;
        }
        Ok(())
    }
}

/// Every error found in a source, reported together so an author fixes them in one pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    /// The diagnostics, in source order.
    pub fn iter(&self) -> std::slice::Iter<'_, Diagnostic> {
        self.0.iter()
    }

    /// Fills in the source line of every diagnostic that has a span but no line yet, so the
    /// caret display works for problems found after parsing (validation, compilation). Lines
    /// are split, cut and made safe to print exactly as the parsers' line index does.
    pub fn attach_source_lines(&mut self, text: &str) {
        let index = LineIndex::new(text);
        for d in &mut self.0 {
            if d.line_text.is_none()
                && let Some(span) = d.span
            {
                d.line_text = index.line(span.line).map(|_| index.shown_line(span));
            }
        }
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostics {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_location_path_caret_and_hint() {
        let d = Diagnostic::error("rules.json", "unknown field `alow`")
            .at(Span { line: 3, column: 5 })
            .with_path("agents.backend")
            .with_line_text("    \"alow\": {}")
            .with_hint("did you mean `allow`?");
        let text = d.to_string();
        assert_eq!(
            text,
            "rules.json:3:5: error: unknown field `alow`\n  at agents.backend\n  |\n3 |     \"alow\": {}\n  |     ^\n  hint: did you mean `allow`?"
        );
    }

    /// The caret is drawn under the line the parsers counted: a lone `\r` ends a line too.
    #[test]
    fn source_lines_split_like_the_line_index() {
        let text = "a\r\"b\": 1\r\nc\n\u{202e}d";
        let mut diags = Diagnostics(
            [(1, 1), (2, 2), (3, 1), (4, 1), (5, 1)]
                .map(|(line, column)| Diagnostic::error("f", "x").at(Span { line, column }))
                .to_vec(),
        );
        diags.attach_source_lines(text);
        let lines: Vec<Option<&str>> = diags.iter().map(|d| d.line_text.as_deref()).collect();
        assert_eq!(lines, [Some("a"), Some("\"b\": 1"), Some("c"), Some("?d"), None]);
        let index = LineIndex::new(text);
        for d in diags.iter() {
            let span = d.span.unwrap();
            assert_eq!(d.line_text.as_deref(), index.line(span.line).map(|_| index.shown_line(span)).as_deref());
        }
    }
}
