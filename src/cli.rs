//! Command-line definitions (clap). Only definitions live here; [`crate::run`] dispatches.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Agent MCP Gateway: one MCP server in front of many, with per-agent deny-before-allow policy.
#[derive(Debug, Parser)]
#[command(name = "mcpgw", version, about, args_conflicts_with_subcommands = true)]
pub struct Cli {
    /// What to do; serving over stdio when omitted.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Options for serving when no subcommand is given.
    #[command(flatten)]
    pub serve: ServeArgs,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the gateway (stdio by default).
    Serve(ServeArgs),
    /// Validate the rules and the MCP config; print every error and warning with its location.
    Check(CheckArgs),
    /// Print a decision and why it was made.
    Explain(ExplainArgs),
    /// Pretty-print a policy file, or convert it between JSON and the `.mcpgw` language.
    Fmt(FmtArgs),
    /// Check expected decisions from a file of test cases.
    Test(TestArgs),
    /// List every decision that changes between two policies.
    Diff(DiffArgs),
}

/// Where the two configuration files are.
#[derive(Debug, Clone, Args)]
pub struct ConfigArgs {
    /// The downstream servers file (`.mcp.json`).
    #[arg(long, env = "GATEWAY_MCP_CONFIG", value_name = "FILE")]
    pub mcp_config: Option<PathBuf>,
    /// The rules file (`.json`, or `.mcpgw` for the policy language).
    #[arg(long, env = "GATEWAY_RULES", value_name = "FILE")]
    pub rules: Option<PathBuf>,
}

/// Which transport to serve on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TransportKind {
    /// MCP over stdin and stdout.
    Stdio,
    /// MCP streamable HTTP on `/mcp`.
    Http,
}

/// Options of `mcpgw serve`.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Configuration files.
    #[command(flatten)]
    pub config: ConfigArgs,
    /// The audit log (JSON lines); defaults to the user's cache directory.
    #[arg(long, env = "GATEWAY_AUDIT_LOG", value_name = "FILE")]
    pub audit_log: Option<PathBuf>,
    /// Log tool arguments in the audit log too.
    #[arg(long)]
    pub audit_args: bool,
    /// The agent that requests without `agent_id` are judged as.
    #[arg(long, env = "GATEWAY_DEFAULT_AGENT", value_name = "ID")]
    pub default_agent: Option<String>,
    /// Bind the whole gateway to one agent: `agent_id` disappears from the tools, and a
    /// request naming another agent is refused.
    #[arg(long, env = "GATEWAY_AGENT", value_name = "ID")]
    pub agent: Option<String>,
    /// Show agent ids and config paths in `get_gateway_status`, and log more.
    #[arg(long, env = "GATEWAY_DEBUG")]
    pub debug: bool,
    /// The default timeout of a downstream call, in milliseconds.
    #[arg(long, env = "GATEWAY_TIMEOUT_MS", value_name = "MS", default_value_t = 60_000)]
    pub timeout_ms: u64,
    /// The transport to serve on.
    #[arg(long, env = "GATEWAY_TRANSPORT", value_enum, default_value_t = TransportKind::Stdio)]
    pub transport: TransportKind,
    /// The address to listen on, for `--transport http`.
    #[arg(long, env = "GATEWAY_LISTEN", value_name = "ADDR", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Serve HTTP without bearer tokens on a non-loopback address.
    #[arg(long)]
    pub allow_unauthenticated: bool,
}

/// Options of `mcpgw check`.
#[derive(Debug, Clone, Args)]
pub struct CheckArgs {
    /// Configuration files.
    #[command(flatten)]
    pub config: ConfigArgs,
}

/// Options of `mcpgw explain`.
#[derive(Debug, Clone, Args)]
pub struct ExplainArgs {
    /// The rules file.
    #[arg(long, env = "GATEWAY_RULES", value_name = "FILE")]
    pub rules: Option<PathBuf>,
    /// The agent id (omit to ask as the default agent).
    #[arg(long, value_name = "ID")]
    pub agent: Option<String>,
    /// The server name.
    #[arg(long, required_unless_present = "batch")]
    pub server: Option<String>,
    /// The tool name; omit to ask about the server alone.
    #[arg(long)]
    pub tool: Option<String>,
    /// The default agent, as `mcpgw serve --default-agent` would use.
    #[arg(long, env = "GATEWAY_DEFAULT_AGENT", value_name = "ID")]
    pub default_agent: Option<String>,
    /// Print JSON, in the form the audit log uses.
    #[arg(long)]
    pub json: bool,
    /// Read JSON lines `{"agent", "server", "tool"?}` from FILE (`-` for stdin) and write one
    /// JSON explanation per line.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["server", "tool", "agent"])]
    pub batch: Option<PathBuf>,
}

/// Output syntax for `mcpgw fmt`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Syntax {
    /// The `.mcpgw` policy language.
    Dsl,
    /// JSON rules.
    Json,
}

/// Options of `mcpgw fmt`.
#[derive(Debug, Clone, Args)]
pub struct FmtArgs {
    /// The policy file.
    pub file: PathBuf,
    /// The syntax to print; the file's own by default.
    #[arg(long, value_enum)]
    pub to: Option<Syntax>,
    /// Exit 1 if the file is not already in canonical form; print nothing.
    #[arg(long, conflicts_with = "write")]
    pub check: bool,
    /// Rewrite the file in place.
    #[arg(long)]
    pub write: bool,
}

/// Options of `mcpgw test`.
#[derive(Debug, Clone, Args)]
pub struct TestArgs {
    /// The test cases (JSON).
    pub cases: PathBuf,
    /// The rules file; the cases file may name one instead.
    #[arg(long, env = "GATEWAY_RULES", value_name = "FILE")]
    pub rules: Option<PathBuf>,
}

/// Options of `mcpgw diff`.
#[derive(Debug, Clone, Args)]
pub struct DiffArgs {
    /// The policy before the change.
    pub old: PathBuf,
    /// The policy after the change.
    pub new: PathBuf,
    /// A tool catalogue (`{"server": ["tool", ...]}`) to compare over, beyond the names the
    /// policies mention.
    #[arg(long, value_name = "FILE")]
    pub tools: Option<PathBuf>,
    /// Print JSON lines.
    #[arg(long)]
    pub json: bool,
}
