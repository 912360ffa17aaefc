//! Command-line flags. Each flag switches on one behaviour a test needs; the defaults give a
//! well-behaved stdio server named `fixture`.

use std::{net::SocketAddr, path::PathBuf};

use axum::http::{HeaderName, HeaderValue};

/// Flags of `mcpgw-fixture`.
#[derive(Debug, clap::Parser)]
#[command(name = "mcpgw-fixture", about = "A predictable MCP server for testing MCP clients and gateways")]
pub struct Options {
    /// The `serverInfo.name` reported by `initialize`.
    #[arg(long, default_value = "fixture")]
    pub name: String,

    /// Serve streamable HTTP on `/mcp` at this address instead of stdio (port 0 picks a free
    /// port; the bound address is printed to stderr as `listening on http://ADDR/mcp`).
    #[arg(long, value_name = "ADDR")]
    pub http: Option<SocketAddr>,

    /// HTTP only: reject requests that lack this header with 401 (repeatable, `NAME:VALUE`).
    #[arg(long, value_name = "NAME:VALUE", value_parser = parse_required_header, requires = "http")]
    pub require_header: Vec<RequiredHeader>,

    /// Register this many extra trivial tools, `extra_0` .. `extra_{N-1}`.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub extra_tools: usize,

    /// Misbehave at startup in one of a few well-defined ways.
    #[arg(long, value_name = "FAULT")]
    pub startup: Option<StartupFault>,

    /// Append one line per notable event (`started pid=N`, `cancelled <request-id>`, ...).
    #[arg(long, value_name = "PATH")]
    pub log_file: Option<PathBuf>,

    /// Internal: what `close_stdout` re-executes into (sleep forever, touch nothing).
    #[arg(long, hide = true)]
    pub idle: bool,
}

/// Ways to misbehave before serving.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum StartupFault {
    /// Print a line to stderr and exit with code 3 before reading stdin.
    Exit,
    /// Write non-JSON lines to stdout, then serve normally.
    Garbage,
    /// Never answer `initialize` (never read stdin at all).
    Hang,
    /// Spawn a grandchild `sleep 1000` in the same process group, then serve normally.
    Grandchild,
}

/// A header that every HTTP request must carry, with exactly this value.
#[derive(Debug, Clone)]
pub struct RequiredHeader {
    /// The header name (case-insensitive on the wire).
    pub name: HeaderName,
    /// The exact value expected.
    pub value: HeaderValue,
}

/// Parses `NAME:VALUE`; the value is trimmed so `X-Key: secret` works too.
fn parse_required_header(text: &str) -> Result<RequiredHeader, String> {
    let (name, value) = text.split_once(':').ok_or_else(|| format!("expected `NAME:VALUE`, got `{text}`"))?;
    let name = HeaderName::try_from(name.trim()).map_err(|e| format!("bad header name `{name}`: {e}"))?;
    let value = HeaderValue::try_from(value.trim()).map_err(|e| format!("bad header value `{value}`: {e}"))?;
    Ok(RequiredHeader { name, value })
}
