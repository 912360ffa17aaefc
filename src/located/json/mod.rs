//! JSON read with positions: the parser, its tree, and JSON paths.
//!
//! Every JSON front end (policy rules, `.mcp.json`, `mcpgw test` cases, `mcpgw diff`
//! catalogues) reads its file with the typed reader in [`read`], over the tree [`parse`]
//! builds, so each of them points an error at a line, a column and a JSON path, and words
//! the same mistake the same way.

mod parse;
mod path;
pub(crate) mod read;
mod tree;

pub(crate) use parse::{SyntaxError, parse, string_end};
pub(crate) use path::{DisplayPath, PathSegment};
pub(crate) use tree::{Member, Node, NodeKind};
