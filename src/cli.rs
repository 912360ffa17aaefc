//! Command-line definitions (clap). Only definitions live here; [`crate::run`] dispatches.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::gateway::expose::{DEFAULT_SEPARATOR, Expose};

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
    ///
    /// Prints the canonical form of FILE to stdout, in the file's own syntax or the one `--to`
    /// names. `.mcpgw` files keep their comments; converting to JSON drops them (with a note on
    /// stderr).
    ///
    /// `--check` prints nothing and exits 0 when FILE is already canonical; otherwise it prints
    /// the file name and the first differing lines, and exits 1.
    ///
    /// `--write` rewrites FILE in place, atomically (a temporary file in the same directory,
    /// then a rename), and leaves it untouched when it is already canonical. With `--to` naming
    /// the other syntax, `--write` creates the converted file beside FILE with the other
    /// extension (`rules.json` -> `rules.mcpgw`, `policy.mcpgw` -> `policy.json`), refuses to
    /// replace a file that already exists (exit 2), and leaves FILE as it was.
    ///
    /// Exit codes: 0 done, 1 not canonical (`--check`) or a write failed, 2 FILE cannot be read
    /// or has errors.
    #[command(verbatim_doc_comment)]
    Fmt(FmtArgs),
    /// Check expected decisions from a file of test cases.
    ///
    /// CASES is a JSON object:
    ///
    ///   {"rules": "policy.mcpgw",          (relative to CASES; --rules overrides it)
    ///    "default_agent": "default",       (optional; --default-agent overrides it)
    ///    "cases": [
    ///      {"name": "backend may not drop tables",     (optional)
    ///       "agent": "backend",            (omit, or null, for a request without agent id)
    ///       "server": "postgres",
    ///       "tool": "drop_table",          (omit to ask about the server alone; or, instead,
    ///                                       "resource": URI or "prompt": NAME)
    ///       "expect": "deny",              ("allow" or "deny")
    ///       "reason": "explicit_deny",     (optional: explicit_deny, allowed_by_rule,
    ///                                       implicit_grant, no_matching_allow, server_denied,
    ///                                       unknown_agent, invalid_agent)
    ///       "rule": "agents.backend.deny.tools.postgres[0]"}]}
    ///
    /// or just the array of cases, or JSON lines with one case object per line (for those two,
    /// the rules come from --rules, GATEWAY_RULES or the default search).
    ///
    /// `rule` (a string or a list of strings) names rules that must be among the determining
    /// rules, each written as its location (`agents.backend.deny.tools.postgres[0]`,
    /// `policy.mcpgw:12:5`, or just `12:5` for a DSL file) or as its pattern text (`drop_*`).
    ///
    /// Each failing case is printed with the full explanation of the decision, then a summary
    /// line `N passed, M failed`. Exit codes: 0 all passed, 1 some failed, 2 CASES or the rules
    /// cannot be read or have errors (each error with its location).
    #[command(verbatim_doc_comment)]
    Test(TestArgs),
    /// List every decision that changes between two policies.
    ///
    /// OLD and NEW may each be JSON or `.mcpgw`. The decisions compared are every (agent,
    /// server) and (agent, server, tool) over the names the two policies mention:
    ///
    ///   agents:  every exact agent key; one sample id per agent pattern (`backend.*` ->
    ///            `backend.x`); an id that no key matches (the unknown-agent case); and a
    ///            request without agent id (the default-agent case);
    ///   servers: every server name written in a rule, one sample name per server pattern,
    ///            and the servers of the catalogues;
    ///   tools:   for each server, every tool name written in a rule that applies to it, one
    ///            sample name per tool pattern, the catalogue's tools, and one name that no
    ///            rule mentions (which shows changes to the implicit grant);
    ///   resources, prompts: the same, from the resource and prompt rules and the --resources
    ///            and --prompts catalogues.
    ///
    /// Sample names stand for the names a pattern matches; give the real lists with `--tools`
    /// ({"server": ["tool", ...]}), `--resources` ({"server": ["uri", ...]}) and `--prompts`
    /// ({"server": ["prompt", ...]}) to compare over them too.
    ///
    /// Only changes of the decision (allow <-> deny) are listed, each with the reason and the
    /// determining rules before and after. Exit codes, like diff(1): 0 no decision changes,
    /// 1 some do, 2 a file cannot be read or has errors.
    #[command(verbatim_doc_comment)]
    Diff(DiffArgs),
    /// Pin the tool definitions the servers serve now, in `mcpgw.lock`.
    ///
    /// Starts the configured servers (or the SERVERs named), lists their tools, and writes
    /// the lock: per server its `serverInfo` name and version, per tool the SHA-256 of the
    /// canonical JSON (RFC 8785) of its name, title, description, inputSchema, outputSchema
    /// and annotations, and that definition itself. The file is JSON with sorted keys.
    ///
    /// The lock goes to --lock (or GATEWAY_LOCK), else beside the rules file. A new lock is
    /// only created: one that exists is rewritten with `--update`, for the SERVERs named
    /// (every configured server when none is), after a review with `--check`, which prints
    /// each tool that differs (which field, the old and the new text) and writes nothing.
    ///
    /// Nothing is written unless every server started and listed its tools.
    ///
    /// Exit codes: 0 done (or no drift, with --check), 1 drift (--check) or a write failed,
    /// 2 a file cannot be read or has errors, a server is unknown or cannot start.
    #[command(verbatim_doc_comment)]
    Lock(LockArgs),
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
    /// The lock of pinned tool definitions (`mcpgw lock`); `mcpgw.lock` beside the rules
    /// file is used when it exists. A tool that differs from it, or that it lacks, is
    /// quarantined (or, with `"lock_mode": "warn"`, served with a warning).
    #[arg(long, env = "GATEWAY_LOCK", value_name = "FILE")]
    pub lock: Option<PathBuf>,
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
    /// A second address for the operator's endpoints (`/metrics`, `/ready` with detail,
    /// `/health`), served without credentials: bind it to loopback or a private network.
    #[arg(long, env = "GATEWAY_ADMIN_LISTEN", value_name = "ADDR")]
    pub admin_listen: Option<SocketAddr>,
    /// Which tools to list: the meta-tools, the agent's downstream tools as `SERVER__TOOL`
    /// (direct; needs the identity without arguments), or both.
    #[arg(long, env = "GATEWAY_EXPOSE", value_enum, default_value_t = Expose::Meta)]
    pub expose: Expose,
    /// Between the server and the tool in direct-mode names.
    #[arg(long, env = "GATEWAY_TOOL_SEPARATOR", value_name = "SEP", default_value = DEFAULT_SEPARATOR)]
    pub tool_separator: String,
}

/// Options of `mcpgw check`.
#[derive(Debug, Clone, Args)]
pub struct CheckArgs {
    /// Configuration files.
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Also start the servers and scan their tool definitions for hidden or manipulative
    /// content (invisible Unicode, text addressed to the model, references to other servers'
    /// tools, requests for secrets, outsized descriptions); each finding is an error.
    #[arg(long)]
    pub scan: bool,
    /// With --scan: how long a server may take to start and list its tools, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 30_000)]
    pub timeout_ms: u64,
}

/// Options of `mcpgw lock`.
#[derive(Debug, Clone, Args)]
pub struct LockArgs {
    /// Configuration files.
    #[command(flatten)]
    pub config: ConfigArgs,
    /// The lock file; `mcpgw.lock` beside the rules file by default.
    #[arg(long, env = "GATEWAY_LOCK", value_name = "FILE")]
    pub lock: Option<PathBuf>,
    /// The servers to pin (every configured server when none is named).
    #[arg(value_name = "SERVER")]
    pub servers: Vec<String>,
    /// Rewrite the entries of the SERVERs (all when none is named) in an existing lock.
    #[arg(long, conflicts_with = "check")]
    pub update: bool,
    /// Compare the servers with the lock: print each difference and exit 1 on drift; write
    /// nothing.
    #[arg(long)]
    pub check: bool,
    /// How long a server may take to start and list its tools, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 30_000)]
    pub timeout_ms: u64,
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
    /// The tool name; omit (with `--resource` and `--prompt`) to ask about the server alone.
    #[arg(long, conflicts_with_all = ["resource", "prompt"])]
    pub tool: Option<String>,
    /// A resource URI, to ask about reading it instead of a tool.
    #[arg(long, value_name = "URI", conflicts_with = "prompt")]
    pub resource: Option<String>,
    /// A prompt name, to ask about getting it instead of a tool.
    #[arg(long, value_name = "NAME")]
    pub prompt: Option<String>,
    /// The default agent, as `mcpgw serve --default-agent` would use.
    #[arg(long, env = "GATEWAY_DEFAULT_AGENT", value_name = "ID")]
    pub default_agent: Option<String>,
    /// Print JSON, in the form the audit log uses.
    #[arg(long)]
    pub json: bool,
    /// Read JSON lines `{"agent", "server", "tool"? | "resource"? | "prompt"?}` from FILE (`-`
    /// for stdin) and write one JSON explanation per line.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["server", "tool", "resource", "prompt", "agent"])]
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
    /// Exit 1 if the file is not already in canonical form, printing where it differs; print
    /// nothing and exit 0 if it is.
    #[arg(long, conflicts_with = "write")]
    pub check: bool,
    /// Rewrite the file in place (atomically); with `--to` of the other syntax, write the
    /// converted file beside it with the other extension instead.
    #[arg(long)]
    pub write: bool,
}

/// Options of `mcpgw test`.
#[derive(Debug, Clone, Args)]
pub struct TestArgs {
    /// The test cases (a JSON object, an array of cases, or JSON lines).
    pub cases: PathBuf,
    /// The rules file. Wins over the `rules` the cases file names, which wins over
    /// `GATEWAY_RULES` and the default search.
    #[arg(long, value_name = "FILE")]
    pub rules: Option<PathBuf>,
    /// The default agent, as `mcpgw serve --default-agent` would use; wins over the cases
    /// file's `default_agent`.
    #[arg(long, value_name = "ID")]
    pub default_agent: Option<String>,
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
    /// A resource catalogue (`{"server": ["uri", ...]}`) to compare over too.
    #[arg(long, value_name = "FILE")]
    pub resources: Option<PathBuf>,
    /// A prompt catalogue (`{"server": ["prompt", ...]}`) to compare over too.
    #[arg(long, value_name = "FILE")]
    pub prompts: Option<PathBuf>,
    /// The default agent, as `mcpgw serve --default-agent` would use, for both policies.
    #[arg(long, value_name = "ID")]
    pub default_agent: Option<String>,
    /// Print one JSON object per changed decision (`{"agent", "server", "tool"?, "before",
    /// "after"}`, with explanations in the form `explain --json` prints) instead of text; the
    /// summary goes to stderr.
    #[arg(long)]
    pub json: bool,
}
