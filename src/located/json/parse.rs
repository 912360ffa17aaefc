//! A small JSON parser that keeps byte offsets.
//!
//! `serde_json::Value` forgets where each value stood, and an author needs every error, and
//! every rule shown in an explanation, to point back at its line and column. This parser
//! builds a tree of [`Node`]s that remember their offsets, detects duplicate keys (which
//! `serde_json` silently collapses), and bounds nesting depth so hostile input cannot overflow
//! the stack. Strings are decoded by `serde_json`, so escapes follow the standard exactly.

use super::path::PathSegment;
use super::tree::{Member, Node, NodeKind};

/// How deep arrays and objects may nest before the input is refused.
const MAX_DEPTH: usize = 128;

/// A syntax error with the offset where it was found and the path of the enclosing value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SyntaxError {
    pub offset: usize,
    pub message: String,
    /// Path segments of the container the parser was inside, outermost first.
    pub path: Vec<PathSegment>,
}

/// Parses a whole JSON document.
pub(crate) fn parse(text: &str) -> Result<Node, SyntaxError> {
    let mut p = Parser { text, pos: 0, path: Vec::new() };
    p.skip_ws();
    let node = p.value(0)?;
    p.skip_ws();
    if p.pos < text.len() {
        return Err(p.error("unexpected trailing characters after the JSON document"));
    }
    Ok(node)
}

struct Parser<'a> {
    text: &'a str,
    pos: usize,
    path: Vec<PathSegment>,
}

impl Parser<'_> {
    fn error(&self, message: impl Into<String>) -> SyntaxError {
        SyntaxError { offset: self.pos, message: message.into(), path: self.path.clone() }
    }

    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    fn describe_here(&self) -> String {
        match self.text.get(self.pos..).and_then(|s| s.chars().next()) {
            None => "end of input".to_owned(),
            Some(c) => format!("`{}`", c.escape_debug()),
        }
    }

    fn value(&mut self, depth: usize) -> Result<Node, SyntaxError> {
        let offset = self.pos;
        let kind = match self.peek() {
            Some(b'{') => self.object(depth)?,
            Some(b'[') => self.array(depth)?,
            Some(b'"') => NodeKind::String(self.string()?),
            Some(b't') => self.literal("true", NodeKind::Bool(true))?,
            Some(b'f') => self.literal("false", NodeKind::Bool(false))?,
            Some(b'n') => self.literal("null", NodeKind::Null)?,
            Some(b'-' | b'0'..=b'9') => self.number()?,
            _ => return Err(self.error(format!("expected a value, found {}", self.describe_here()))),
        };
        Ok(Node { offset, kind })
    }

    fn enter(&mut self, depth: usize) -> Result<(), SyntaxError> {
        if depth >= MAX_DEPTH {
            return Err(self.error(format!("nesting deeper than {MAX_DEPTH} levels")));
        }
        self.pos += 1;
        self.skip_ws();
        Ok(())
    }

    fn object(&mut self, depth: usize) -> Result<NodeKind, SyntaxError> {
        self.enter(depth)?;
        let mut members: Vec<Member> = Vec::new();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(NodeKind::Object(members));
        }
        loop {
            if self.peek() != Some(b'"') {
                let what = if self.peek() == Some(b'}') {
                    "a key after `,` (trailing commas are not allowed)".to_owned()
                } else {
                    format!("a quoted key, found {}", self.describe_here())
                };
                return Err(self.error(format!("expected {what}")));
            }
            let key_offset = self.pos;
            let key = self.string()?;
            if members.iter().any(|m| m.key == key) {
                self.pos = key_offset;
                return Err(self.error(format!("duplicate key `{key}`")));
            }
            self.skip_ws();
            if self.peek() != Some(b':') {
                return Err(self.error(format!("expected `:` after key, found {}", self.describe_here())));
            }
            self.pos += 1;
            self.skip_ws();
            self.path.push(PathSegment::Key(key.clone()));
            let value = self.value(depth + 1)?;
            self.path.pop();
            members.push(Member { key, key_offset, value });
            self.skip_ws();
            match self.peek() {
                Some(b',') => {
                    self.pos += 1;
                    self.skip_ws();
                }
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(NodeKind::Object(members));
                }
                _ => {
                    return Err(self.error(format!(
                        "expected `,` or `}}` after an object member, found {}",
                        self.describe_here()
                    )));
                }
            }
        }
    }

    fn array(&mut self, depth: usize) -> Result<NodeKind, SyntaxError> {
        self.enter(depth)?;
        let mut items = Vec::new();
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(NodeKind::Array(items));
        }
        loop {
            if self.peek() == Some(b']') {
                return Err(self.error("expected a value after `,` (trailing commas are not allowed)"));
            }
            self.path.push(PathSegment::Index(items.len()));
            let item = self.value(depth + 1)?;
            self.path.pop();
            items.push(item);
            self.skip_ws();
            match self.peek() {
                Some(b',') => {
                    self.pos += 1;
                    self.skip_ws();
                }
                Some(b']') => {
                    self.pos += 1;
                    return Ok(NodeKind::Array(items));
                }
                _ => {
                    return Err(self
                        .error(format!("expected `,` or `]` after an array element, found {}", self.describe_here())));
                }
            }
        }
    }

    /// Scans a string token and lets `serde_json` decode its escapes.
    fn string(&mut self) -> Result<String, SyntaxError> {
        let start = self.pos;
        let bytes = self.text.as_bytes();
        let mut i = start + 1;
        loop {
            match bytes.get(i) {
                None => return Err(self.error("unterminated string")),
                Some(b'"') => break,
                Some(b'\\') => i += 2,
                Some(b) if *b < 0x20 => {
                    self.pos = i;
                    return Err(self.error("control character inside a string (escape it)"));
                }
                Some(_) => i += 1,
            }
        }
        let token = self.text.get(start..=i).ok_or_else(|| self.error("unterminated string"))?;
        match serde_json::from_str::<String>(token) {
            Ok(s) => {
                self.pos = i + 1;
                Ok(s)
            }
            Err(e) => {
                self.pos = start + e.column().saturating_sub(1);
                Err(self.error(format!("invalid string: {}", strip_position(&e))))
            }
        }
    }

    fn literal(&mut self, word: &str, kind: NodeKind) -> Result<NodeKind, SyntaxError> {
        if self.text.get(self.pos..).is_some_and(|rest| rest.starts_with(word)) {
            self.pos += word.len();
            Ok(kind)
        } else {
            Err(self.error(format!("expected a value, found {}", self.describe_here())))
        }
    }

    fn number(&mut self) -> Result<NodeKind, SyntaxError> {
        let start = self.pos;
        while let Some(b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9') = self.peek() {
            self.pos += 1;
        }
        let token = self.text.get(start..self.pos).unwrap_or_default();
        if serde_json::from_str::<serde_json::Number>(token).is_err() {
            self.pos = start;
            return Err(self.error(format!("invalid number `{token}`")));
        }
        Ok(NodeKind::Number(token.to_owned()))
    }
}

/// The index of the closing quote of the JSON string whose opening quote is at `start`
/// (escapes skipped), if the string ends within `s`. For scanners that must not parse whole
/// documents: the heads of oversized messages, config lines to mask.
pub(crate) fn string_end(s: &[u8], start: usize) -> Option<usize> {
    let mut i = start + 1;
    while let Some(&b) = s.get(i) {
        match b {
            b'\\' => i += 2,
            b'"' => return Some(i),
            _ => i += 1,
        }
    }
    None
}

/// `serde_json` appends " at line L column C" to its messages; we report positions ourselves.
fn strip_position(e: &serde_json::Error) -> String {
    let full = e.to_string();
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    full.strip_suffix(&suffix).unwrap_or(&full).to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::located::json::DisplayPath;

    #[test]
    fn keeps_offsets_and_order() {
        let n = parse(r#"{"b": [1, "x"], "a": true}"#).unwrap();
        let NodeKind::Object(m) = n.kind else { panic!() };
        assert_eq!(m[0].key, "b");
        assert_eq!(m[0].key_offset, 1);
        assert_eq!(m[1].key, "a");
        let NodeKind::Array(items) = &m[0].value.kind else { panic!() };
        assert_eq!(items[1].offset, 10);
        assert_eq!(items[1].kind, NodeKind::String("x".into()));
    }

    #[test]
    fn decodes_escapes_and_unicode() {
        let n = parse(r#""a\u00e9\n\ud83d\ude00""#).unwrap();
        assert_eq!(n.kind, NodeKind::String("aé\n😀".into()));
    }

    #[test]
    fn reports_duplicate_keys_with_path() {
        let e = parse("{\"agents\": {\"x\": {}, \"x\": {}}}").unwrap_err();
        assert_eq!(e.message, "duplicate key `x`");
        assert_eq!(DisplayPath(&e.path).to_string(), "agents");
        assert_eq!(e.offset, 21);
    }

    #[test]
    fn rejects_trailing_commas_and_garbage() {
        assert!(parse("[1,]").unwrap_err().message.contains("trailing commas"));
        assert!(parse("{\"a\":1,}").unwrap_err().message.contains("trailing commas"));
        assert!(parse("{} x").unwrap_err().message.contains("trailing characters"));
        assert!(parse("{\"a\" 1}").unwrap_err().message.contains("expected `:`"));
        assert!(parse("\"abc").unwrap_err().message.contains("unterminated"));
        assert!(parse("[01]").unwrap_err().message.contains("invalid number"));
        assert!(parse("").unwrap_err().message.contains("end of input"));
        assert!(parse(r#""\x""#).unwrap_err().message.contains("invalid string"));
    }

    #[test]
    fn bounds_depth() {
        let deep = "[".repeat(10_000);
        assert!(parse(&deep).unwrap_err().message.contains("nesting deeper"));
    }
}
