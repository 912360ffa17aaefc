//! The JSON rules format (`.mcp-gateway-rules.json`).

mod lower;
pub(crate) mod syntax;
