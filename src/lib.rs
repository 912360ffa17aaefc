//! Agent MCP Gateway: one MCP server in front of many, with a per-agent policy that puts deny
//! before allow.
//!
//! The crate is split along the lines of `DESIGN.md`: [`policy`] is a pure library (text to
//! AST to compiled decision table), and the rest wires it to MCP over stdio or HTTP.

pub mod policy;
