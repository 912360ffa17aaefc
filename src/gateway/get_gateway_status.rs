//! `get_gateway_status`: reloads, the policy, the caller's servers and metrics.
//!
//! Agent ids and file paths appear only in debug mode, so the status of a shared gateway does
//! not tell one agent about another's configuration.

use serde_json::{Value, json};
use std::path::Path;

use crate::config::{ConfigFile, FileStatus};
use crate::error::GatewayError;
use crate::gateway::call::Call;
use crate::gateway::reply::ToolReply;
use crate::logging::clock::rfc3339;
use crate::telemetry::metrics::Metrics;

/// Builds the status report for the calling agent.
pub(crate) fn run(call: &mut Call<'_>) -> Result<ToolReply, GatewayError> {
    call.check_agent()?;
    let gw = call.gw;
    let snapshot = &call.snapshot;
    let table = &snapshot.table;
    let debug = gw.settings().debug;

    let servers: Vec<Value> = call
        .servers
        .iter()
        .filter(|d| call.may_use(d.name()))
        .map(|d| {
            let mut v = serde_json::to_value(d.status()).unwrap_or_default();
            v["name"] = Value::from(d.name());
            v["transport"] = Value::from(d.spec.transport.kind());
            v["in_flight"] = Value::from(d.in_flight());
            v
        })
        .collect();

    let key = Metrics::agent_key(call.agent, table);
    let paths = [gw.settings().rules_path.as_path(), gw.settings().mcp_config_path.as_path()];
    let reload = |which| {
        let status = gw.reload_status().get(which);
        if debug { status } else { redact_file_status(status, &paths) }
    };
    let mut body = json!({
        "reload": {
            "rules": reload(ConfigFile::Rules),
            "mcp_config": reload(ConfigFile::McpConfig),
        },
        "policy": {
            "snapshot": table.snapshot_id(),
            "agents": table.agent_count(),
            "rules": table.rule_count(),
            "defaults": {"deny_on_missing_agent": table.defaults().deny_on_missing_agent},
            "default_agent_configured": table.default_agent().is_some(),
            "loaded_at": rfc3339(snapshot.loaded_at),
        },
        "servers": servers,
        "metrics": {"operations": gw.metrics().for_agent(&key)},
        "audit": gw.audit().report(),
        "telemetry": gw.otel().report(),
        "lock": {
            "enabled": call.pins.lock.is_some(),
            "last_error": gw.lock_error().map(|e| if debug { e } else { redact(&e, &paths) }),
            // Only the tools the agent may call: a denied tool's name stays invisible.
            "unpinned": gw.quarantine().list(|s, t| call.may_call(s, t)),
        },
    });
    if debug {
        body["debug"] = json!({
            "agent_id": call.agent,
            "metrics_key": key,
            "bound_agent": call.caller.identity.bound,
            "default_agent": table.default_agent(),
            "rules_path": snapshot.path.display().to_string(),
            "mcp_config_path": gw.settings().mcp_config_path.display().to_string(),
            "audit_log": gw.audit().path().map(|p| p.display().to_string()),
            "lock_path": call.pins.path.as_ref().map(|p| p.display().to_string()),
            // The operator's view of each server the agent may use: its last stderr lines,
            // which never go into an agent's error (a shared server's stderr may hold
            // another agent's data).
            "servers": call
                .servers
                .iter()
                .filter(|d| call.may_use(d.name()))
                .map(|d| (d.name().to_owned(), json!({"last_stderr": d.last_stderr()})))
                .collect::<serde_json::Map<String, Value>>(),
        });
    }
    Ok(ToolReply::Own(body))
}

/// Without `--debug`, reload errors and warnings keep only their headline lines, with each
/// config path shortened to its file name. The problem and its location (`rules.json:3:5`)
/// stay; the directory, the quoted source lines and the rule paths (`at agents.backend...`),
/// which would show one agent the others' ids and rules, go. The full text is in the log.
fn redact_file_status(mut status: FileStatus, paths: &[&Path]) -> FileStatus {
    status.last_error = status.last_error.map(|e| redact(&e, paths));
    status.warnings = status.warnings.iter().map(|w| redact(w, paths)).collect();
    status
}

fn redact(text: &str, paths: &[&Path]) -> String {
    let mut names: Vec<(String, String)> = Vec::new();
    for path in paths {
        let Some(name) = path.file_name().map(|n| n.to_string_lossy().into_owned()) else { continue };
        let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
        for full in [absolute.display().to_string(), path.display().to_string()] {
            names.push((full, name.clone()));
        }
    }
    // Longest first, so an absolute path is not half-replaced by a relative one it ends with.
    names.sort_by_key(|(full, _)| std::cmp::Reverse(full.len()));
    text.lines()
        .filter(|line| !line.starts_with(char::is_whitespace) && !is_quoted_source(line))
        .map(|line| names.iter().fold(line.to_owned(), |l, (full, name)| l.replace(full.as_str(), name)))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A quoted source line of a diagnostic: `12 | text`.
fn is_quoted_source(line: &str) -> bool {
    let digits = line.bytes().take_while(u8::is_ascii_digit).count();
    digits > 0 && line[digits..].starts_with(" |")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redaction_keeps_the_headline_and_the_file_name() {
        let error = "/srv/cfg/rules.json:3:5: error: unknown field `alow`\n  at agents.backend\n  |\n3 |     \"alow\": {}\n  |     ^\n  hint: did you mean `allow`?\n/srv/cfg/rules.json:9:1: error: second";
        let paths = [Path::new("/srv/cfg/rules.json"), Path::new("/srv/cfg/.mcp.json")];
        assert_eq!(redact(error, &paths), "rules.json:3:5: error: unknown field `alow`\nrules.json:9:1: error: second");
        assert_eq!(
            redact("cannot read /srv/cfg/.mcp.json: No such file or directory", &paths),
            "cannot read .mcp.json: No such file or directory"
        );
    }
}
