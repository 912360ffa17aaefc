//! The pest parser generated from `grammar/mcpgw.pest`, the language's reference.

/// The parser for `.mcpgw` files; see the grammar file for every rule.
#[derive(pest_derive::Parser)]
#[grammar = "../grammar/mcpgw.pest"]
pub(crate) struct McpgwParser;
