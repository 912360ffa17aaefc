//! `mcpgw check`: every error and warning in both files, with locations.

use std::process::ExitCode;

use crate::cli::CheckArgs;
use crate::config::{self, ConfigError};
use crate::policy::{CompileOptions, DecisionTable, Diagnostic, LintContext};

/// Runs the check. Exit 0 when there are no errors (warnings are fine), 1 otherwise.
pub fn run(args: &CheckArgs) -> ExitCode {
    let mut errors: Vec<String> = Vec::new();
    let mut warnings: Vec<Diagnostic> = Vec::new();

    let mut specs = Vec::new();
    let known_servers = match config::find_mcp_config(args.config.mcp_config.as_deref()) {
        Ok(path) => match config::load_servers(&path) {
            Ok(servers) => {
                println!("MCP config: {} ({} servers)", path.display(), servers.servers.len());
                warnings.extend(servers.warnings);
                specs.clone_from(&servers.servers);
                Some(servers.servers.into_iter().map(|s| s.name).collect::<Vec<_>>())
            }
            Err(e) => {
                errors.push(e.to_string());
                None
            }
        },
        Err(e @ ConfigError::NotFound { .. }) if args.config.mcp_config.is_none() => {
            println!("MCP config: none found, so server names in rules are not checked ({e})");
            None
        }
        Err(e) => {
            errors.push(e.to_string());
            None
        }
    };

    match config::find_rules(args.config.rules.as_deref()) {
        Ok(path) => match config::load_rules(&path) {
            Ok(policy) => {
                println!(
                    "rules: {} ({} agents, {} rules)",
                    path.display(),
                    policy.agents.len(),
                    policy.rules().count()
                );
                match DecisionTable::compile_with(&policy, &CompileOptions::default()) {
                    Ok(_) => {}
                    Err(e) => errors.extend(e.iter().map(ToString::to_string)),
                }
                let text = config::read_text(&path).unwrap_or_default();
                let mut lints =
                    crate::policy::Diagnostics(policy.lint(&LintContext { known_servers: known_servers.as_deref() }));
                lints.attach_source_lines(&text);
                warnings.extend(lints.0);
            }
            Err(e) => errors.push(e.to_string()),
        },
        Err(e) => errors.push(e.to_string()),
    }

    if args.scan {
        errors.extend(scan(&specs, args.timeout_ms));
    }

    for e in &errors {
        println!("{e}");
    }
    for w in &warnings {
        println!("{w}");
    }
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    // An error entry may hold several located diagnostics; count those.
    let error_count: usize = errors.iter().map(|e| e.matches(": error: ").count().max(1)).sum();
    println!("{}, {}", plural(error_count, "error"), plural(warnings.len(), "warning"));
    if errors.is_empty() { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}

/// Starts the servers, scans their tool definitions, and returns each finding (or each server
/// that cannot start) as an error line.
fn scan(specs: &[crate::config::servers::ServerSpec], timeout_ms: u64) -> Vec<String> {
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => return vec![format!("cannot start the async runtime for --scan: {e}")],
    };
    let timeout = std::time::Duration::from_millis(timeout_ms.max(1));
    let pinned = runtime.block_on(crate::commands::lock::pin_servers(specs, timeout));
    runtime.shutdown_timeout(std::time::Duration::from_millis(200));
    match pinned {
        Ok(servers) => {
            let tools: usize = servers.values().map(|s| s.tools.len()).sum();
            println!("scan: {tools} tool definition(s) of {} server(s)", servers.len());
            crate::commands::lock::scan_pins(&servers).iter().map(|f| format!("scan: error: {f}")).collect()
        }
        Err(e) => vec![e.to_string()],
    }
}
