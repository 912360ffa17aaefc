//! Source lines quoted in `.mcp.json` errors, with the values that may be secrets masked.
//!
//! An error is shown with its source line (`3 |     "headers": {...}`), in the log and, with
//! `--debug`, in `get_gateway_status`. A line of `.mcp.json` often holds a literal header or
//! environment value, and a reload that fails on that line would print it. So quoted lines
//! have those values replaced by `*`, one per character, which keeps every column (and the
//! caret under it) where it was.

use crate::located::LineIndex;
use crate::located::json::{Member, Node, NodeKind, string_end};

/// Keys whose values are masked: every value in these objects may be a credential.
const SECRET_OBJECTS: &[&str] = &["headers", "env"];

/// `text` with the string values under each server's `headers` and `env` masked.
pub(super) fn mask_secret_values(text: &str, root: &Node) -> String {
    let mut ranges = Vec::new();
    for server in member(root, "mcpServers").into_iter().flat_map(object) {
        for field in object(&server.value) {
            if SECRET_OBJECTS.contains(&field.key.as_str()) {
                for entry in object(&field.value) {
                    if let NodeKind::String(_) = entry.value.kind
                        && let Some(end) = string_end(text.as_bytes(), entry.value.offset)
                    {
                        ranges.push(entry.value.offset + 1..end);
                    }
                }
            }
        }
    }
    let mut out = String::with_capacity(text.len());
    for (i, c) in text.char_indices() {
        out.push(if ranges.iter().any(|r| r.contains(&i)) { '*' } else { c });
    }
    out
}

/// `text` with every string value masked, line by line, for a syntax error, where there is
/// no tree to say which values are secret.
pub(super) fn mask_all_lines(text: &str) -> String {
    LineIndex::new(text).lines().map(mask_all_values).collect::<Vec<_>>().join("\n")
}

/// One line with every string value masked (keys, the strings followed by `:`, are kept), for
/// a syntax error.
fn mask_all_values(line: &str) -> String {
    let bytes = line.as_bytes();
    let mut out = String::with_capacity(line.len());
    let mut rest = 0;
    while let Some(open) = bytes[rest..].iter().position(|&b| b == b'"').map(|p| rest + p) {
        out.push_str(&line[rest..=open]);
        // An unterminated string runs to the end of the line, and is masked all the same.
        let close = string_end(bytes, open);
        let end = close.unwrap_or(line.len());
        let inner = &line[open + 1..end];
        let is_key = close.is_some_and(|c| line[c + 1..].trim_start().starts_with(':'));
        if is_key {
            out.push_str(inner);
        } else {
            out.extend(inner.chars().map(|_| '*'));
        }
        match close {
            Some(c) => {
                out.push('"');
                rest = c + 1;
            }
            None => return out,
        }
    }
    out.push_str(&line[rest..]);
    out
}

fn object(node: &Node) -> &[Member] {
    match &node.kind {
        NodeKind::Object(m) => m,
        _ => &[],
    }
}

fn member<'n>(node: &'n Node, key: &str) -> Option<&'n Node> {
    object(node).iter().find(|m| m.key == key).map(|m| &m.value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_header_and_env_values_only() {
        let text =
            r#"{"mcpServers": {"w": {"url": "http://h/", "headers": {"A": "Bearer é-tok"}, "env": {"K": "v\"1"}}}}"#;
        let root = crate::located::json::parse(text).unwrap();
        let masked = mask_secret_values(text, &root);
        assert_eq!(
            masked,
            r#"{"mcpServers": {"w": {"url": "http://h/", "headers": {"A": "************"}, "env": {"K": "****"}}}}"#
        );
        assert_eq!(masked.chars().count(), text.chars().count(), "columns stay where they were");
    }

    #[test]
    fn masks_every_value_of_a_line() {
        assert_eq!(
            mask_all_values(r#"  "headers": {"Authorization": "Bearer x" "oops"}, "n": 5, "a": ["x\"y"]"#),
            r#"  "headers": {"Authorization": "********" "****"}, "n": 5, "a": ["****"]"#
        );
        assert_eq!(mask_all_values(r#""k": "unterminated"#), r#""k": "************"#);
        assert_eq!(mask_all_lines("{\"a\": \"x\",\r\"b\": \"yz\"}"), "{\"a\": \"*\",\n\"b\": \"**\"}");
    }
}
