//! The `mcpgw` command.
fn main() {}
