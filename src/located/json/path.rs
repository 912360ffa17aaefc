//! JSON paths (`agents.backend.allow.tools.postgres[1]`), the second half of a location in a
//! JSON file: the line and column say where, the path says what.

use std::fmt;

/// One step of a JSON path: an object key or an array index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PathSegment {
    Key(String),
    Index(usize),
}

/// Renders a JSON path as `agents.backend.allow.tools.postgres[1]`; keys that are not plain
/// identifiers are quoted, as in `agents["backend.*"]`. The empty path is `$`.
pub(crate) struct DisplayPath<'a>(pub &'a [PathSegment]);

impl fmt::Display for DisplayPath<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("$");
        }
        for (i, seg) in self.0.iter().enumerate() {
            match seg {
                PathSegment::Index(n) => write!(f, "[{n}]")?,
                PathSegment::Key(k) if is_plain_key(k) => {
                    if i > 0 {
                        f.write_str(".")?;
                    }
                    f.write_str(k)?;
                }
                PathSegment::Key(k) => {
                    let quoted = serde_json::to_string(k).map_err(|_| fmt::Error)?;
                    write!(f, "[{quoted}]")?;
                }
            }
        }
        Ok(())
    }
}

fn is_plain_key(k: &str) -> bool {
    !k.is_empty() && k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'$')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_render_like_jq() {
        let p = [
            PathSegment::Key("agents".into()),
            PathSegment::Key("backend.*".into()),
            PathSegment::Key("tools".into()),
            PathSegment::Key("pg".into()),
            PathSegment::Index(1),
        ];
        assert_eq!(DisplayPath(&p).to_string(), r#"agents["backend.*"].tools.pg[1]"#);
        assert_eq!(DisplayPath(&[]).to_string(), "$");
    }
}
