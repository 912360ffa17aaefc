//! `mcpgw explain`: a decision and why, for people or (with `--json`) for pipelines.

use std::io::{BufRead, Write};
use std::process::ExitCode;

use crate::cli::ExplainArgs;
use crate::commands::{fail, load_table};
use crate::config;
use crate::policy::{DecisionTable, Effect, Explanation, Item, Request};

/// Runs the command. Exit 0 whatever the decision; 2 when the policy cannot be loaded; 1 when
/// a batch line could not be read.
pub fn run(args: &ExplainArgs) -> ExitCode {
    let path = match config::find_rules(args.rules.as_deref()) {
        Ok(p) => p,
        Err(e) => return fail(&e),
    };
    let table = match load_table(&path, args.default_agent.as_deref()) {
        Ok((_, table)) => table,
        Err(e) => return fail(&e),
    };
    if let Some(batch) = &args.batch {
        return run_batch(&table, batch);
    }
    let server = args.server.as_deref().unwrap_or_default();
    let item = item_of(args.tool.as_deref(), args.resource.as_deref(), args.prompt.as_deref());
    let req = Request { agent: args.agent.as_deref(), server, item };
    let why = table.explain(&req);
    let mut out = std::io::stdout().lock();
    let written = if args.json {
        serde_json::to_string(&why).map_err(std::io::Error::other).and_then(|s| writeln!(out, "{s}"))
    } else {
        out.write_all(render(&why).as_bytes())
    };
    if written.is_err() {
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

/// One batch input line.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct BatchLine {
    agent: Option<String>,
    server: String,
    tool: Option<String>,
    resource: Option<String>,
    prompt: Option<String>,
}

/// The item named by at most one of a tool, a resource URI and a prompt name (the callers
/// refuse more than one); the first given wins.
pub(crate) fn item_of<'a>(
    tool: Option<&'a str>,
    resource: Option<&'a str>,
    prompt: Option<&'a str>,
) -> Option<Item<'a>> {
    tool.map(Item::Tool).or(resource.map(Item::Resource)).or(prompt.map(Item::Prompt))
}

fn run_batch(table: &DecisionTable, path: &std::path::Path) -> ExitCode {
    let reader: Box<dyn BufRead> = if path.as_os_str() == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        match std::fs::File::open(path) {
            Ok(f) => Box::new(std::io::BufReader::new(f)),
            Err(e) => {
                eprintln!("{}: cannot read: {e}", path.display());
                return ExitCode::from(super::EXIT_BAD_INPUT);
            }
        }
    };
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut bad = false;
    for (i, line) in reader.lines().enumerate() {
        let line_no = i + 1;
        let result = match line {
            Ok(l) if l.trim().is_empty() => continue,
            Ok(l) => serde_json::from_str::<BatchLine>(&l).map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        let json = match result {
            Ok(q) if [&q.tool, &q.resource, &q.prompt].iter().filter(|x| x.is_some()).count() > 1 => {
                Err("give at most one of `tool`, `resource` and `prompt`".to_owned())
            }
            Ok(q) => {
                let item = item_of(q.tool.as_deref(), q.resource.as_deref(), q.prompt.as_deref());
                Ok(serde_json::to_string(&table.explain(&Request {
                    agent: q.agent.as_deref(),
                    server: &q.server,
                    item,
                }))
                .unwrap_or_default())
            }
            Err(e) => Err(e),
        };
        let json = match json {
            Ok(json) => json,
            Err(e) => {
                bad = true;
                eprintln!("{}:{line_no}: error: {e}", path.display());
                serde_json::json!({"line": line_no, "error": e}).to_string()
            }
        };
        if writeln!(out, "{json}").is_err() {
            return ExitCode::FAILURE;
        }
    }
    if out.flush().is_err() || bad { ExitCode::FAILURE } else { ExitCode::SUCCESS }
}

/// The human form of an explanation.
pub fn render(why: &Explanation) -> String {
    let verdict = match why.decision {
        Effect::Allow => "ALLOW",
        Effect::Deny => "DENY",
    };
    let target = match (&why.tool, &why.resource, &why.prompt) {
        (Some(t), _, _) => format!("tool `{t}` on server `{}`", why.server),
        (_, Some(r), _) => format!("resource `{r}` on server `{}`", why.server),
        (_, _, Some(p)) => format!("prompt `{p}` on server `{}`", why.server),
        _ => format!("server `{}`", why.server),
    };
    let agent = why.agent.as_deref().map_or_else(|| "no agent id".to_owned(), |a| format!("agent `{a}`"));
    let mut s =
        format!("{verdict} {target} for {agent}\n  reason:   {}\n  summary:  {}\n", why.reason.as_str(), why.summary);
    if let Some(d) = &why.judged_as {
        s.push_str(&format!("  judged as: `{d}` (the default agent)\n"));
    }
    if !why.determining_rules.is_empty() {
        s.push_str("  determining rules:\n");
        for r in &why.determining_rules {
            s.push_str(&format!("    {r}\n"));
        }
    }
    if !why.overridden_allows.is_empty() {
        s.push_str("  overridden allows:\n");
        for r in &why.overridden_allows {
            s.push_str(&format!("    {r}\n"));
        }
    }
    s.push_str(&format!("  snapshot: {}\n", why.snapshot));
    s
}
