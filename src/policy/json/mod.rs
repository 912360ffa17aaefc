//! The JSON rules format (`.mcp-gateway-rules.json`).

mod lower;
pub mod print;
