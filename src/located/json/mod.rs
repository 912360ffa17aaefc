//! JSON read with positions: the parser, its tree, and JSON paths.
//!
//! Every JSON front end (policy rules, `.mcp.json`, `mcpgw test` cases, `mcpgw diff`
//! catalogues) parses with [`parse`], so each of them can point an error at a line, a column
//! and a JSON path.

mod parse;
mod path;
mod tree;

pub(crate) use parse::{parse, string_end};
pub(crate) use path::{DisplayPath, PathSegment};
pub(crate) use tree::{Member, Node, NodeKind};
