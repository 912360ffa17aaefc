//! `mcpgw diff`: every decision that changes between two policies, for reviewing a change.
//!
//! Policies name patterns, not every agent, server and tool, so the comparison runs over a
//! finite set of names built from both policies (see `mcpgw diff --help`): the names they write
//! exactly, one sample name per pattern, an agent id no key matches, the request without agent
//! id, one tool per server that no rule names, and any tool catalogue given with `--tools`.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use crate::cli::DiffArgs;
use crate::commands::{EXIT_BAD_INPUT, fail, load_table};
use crate::config;
use crate::located::json::read::{Reader, Value};
use crate::policy::glob::glob_match;
use crate::policy::{DecisionTable, Explanation, Item, ItemKind, PolicySet, Request};

/// Runs the command: 0 when no decision changes, 1 when some do, 2 on bad input.
pub fn run(args: &DiffArgs) -> ExitCode {
    let (old_policy, old) = match load_table(&args.old, args.default_agent.as_deref()) {
        Ok(t) => t,
        Err(e) => return fail(&e),
    };
    let (new_policy, new) = match load_table(&args.new, args.default_agent.as_deref()) {
        Ok(t) => t,
        Err(e) => return fail(&e),
    };
    let mut catalogues: [Catalogue; 3] = Default::default();
    for ((kind, path), out) in
        ItemKind::ALL.into_iter().zip([&args.tools, &args.resources, &args.prompts]).zip(&mut catalogues)
    {
        if let Some(path) = path {
            match load_catalogue(path, kind) {
                Ok(c) => *out = c,
                Err(e) => {
                    eprintln!("{e}");
                    return ExitCode::from(EXIT_BAD_INPUT);
                }
            }
        }
    }
    let universe = Universe::build(&[&old_policy, &new_policy], &catalogues);
    let (changes, compared) = compare(&universe, &old, &new);

    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for c in &changes {
        let text = if args.json { format!("{}\n", c.to_json()) } else { c.render() };
        if out.write_all(text.as_bytes()).is_err() {
            return ExitCode::FAILURE;
        }
    }
    let summary = summary(&changes, compared);
    let summary_written = if args.json {
        eprintln!("{summary}");
        Ok(())
    } else {
        writeln!(out, "{summary}")
    };
    if summary_written.and_then(|()| out.flush()).is_err() {
        return ExitCode::FAILURE;
    }
    if changes.is_empty() { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}

fn summary(changes: &[Change], compared: usize) -> String {
    if changes.is_empty() {
        return format!("no decision changes ({compared} decisions compared)");
    }
    let granted = changes.iter().filter(|c| c.after.is_allowed()).count();
    let revoked = changes.len() - granted;
    let plural = if changes.len() == 1 { "" } else { "s" };
    format!(
        "{} decision{plural} changed ({granted} now allowed, {revoked} now denied; {compared} decisions compared)",
        changes.len()
    )
}

/// A name to ask about, and why it is in the set when it is not written in a policy.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Name {
    text: String,
    note: Option<String>,
}

impl Name {
    fn exact(text: &str) -> Self {
        Name { text: text.to_owned(), note: None }
    }
}

/// The names the comparison runs over.
#[derive(Debug, Default)]
struct Universe {
    /// `None` is the request without agent id.
    agents: Vec<(Option<String>, Option<String>)>,
    /// Each server with the tools, resources and prompts (by [`ItemKind::ALL`] order) to ask
    /// about on it.
    servers: Vec<(Name, [Vec<Name>; 3])>,
}

/// A catalogue: each server with its item names, in the file's order.
type Catalogue = Vec<(String, Vec<String>)>;

impl Universe {
    fn build(policies: &[&PolicySet], catalogues: &[Catalogue; 3]) -> Universe {
        let mut universe = Universe::default();

        let keys: Vec<&str> = policies.iter().flat_map(|p| p.agents.iter().map(|a| a.key.text.as_str())).collect();
        let exact_keys: Vec<&str> = keys.iter().copied().filter(|k| !k.contains('*')).collect();
        let mut agents: Vec<Name> = Vec::new();
        for key in &keys {
            let name = if key.contains('*') {
                let Some(sample) = sample(key, &exact_keys) else { continue };
                Name { text: sample, note: Some(format!("a sample id for `{key}`")) }
            } else {
                Name::exact(key)
            };
            push_unique(&mut agents, name);
        }
        let unknown = ["unknown-agent", "nobody", "0", "-", "_", "."]
            .into_iter()
            .map(str::to_owned)
            .chain((1..10).map(|i| format!("unknown-agent-{i}")))
            .find(|id| !keys.iter().any(|k| glob_match(k, id)));
        if let Some(id) = unknown {
            push_unique(&mut agents, Name { text: id, note: Some("an id no agent key matches".to_owned()) });
        }
        universe.agents = agents.into_iter().map(|n| (Some(n.text), n.note)).collect();
        universe.agents.push((None, None));

        // Every server pattern of either policy, then the catalogue's servers.
        let server_patterns: Vec<&str> = policies
            .iter()
            .flat_map(|p| p.rules())
            .map(|r| r.server.text.as_str())
            .chain(catalogues.iter().flatten().map(|(s, _)| s.as_str()))
            .collect();
        let mut servers: Vec<Name> = Vec::new();
        names_for(&server_patterns, &mut servers);

        for server in servers {
            let mut items: [Vec<Name>; 3] = Default::default();
            for ((kind, catalogue), names) in ItemKind::ALL.into_iter().zip(catalogues).zip(&mut items) {
                item_names(policies, &server, kind, catalogue, names);
            }
            universe.servers.push((server, items));
        }
        universe
    }
}

/// The names of `kind` to ask about on `server`: those of every rule of that kind that applies
/// to it (in either policy), the catalogue's, and one that no rule names.
fn item_names(policies: &[&PolicySet], server: &Name, kind: ItemKind, catalogue: &Catalogue, out: &mut Vec<Name>) {
    let patterns: Vec<&str> = policies
        .iter()
        .flat_map(|p| p.rules())
        .filter(|r| glob_match(&r.server.text, &server.text))
        .filter_map(|r| r.item_of(kind).map(|t| t.text.as_str()))
        .collect();
    let listed: Vec<&str> = catalogue
        .iter()
        .filter(|(s, _)| *s == server.text)
        .flat_map(|(_, names)| names.iter().map(String::as_str))
        .collect();
    names_for(&patterns.iter().chain(&listed).copied().collect::<Vec<_>>(), out);
    if !patterns.is_empty() {
        let base = format!("other_{}", kind.as_str());
        let other = [base.clone(), "x".to_owned()]
            .into_iter()
            .chain((1..10).map(|i| format!("{base}_{i}")))
            .find(|t| !patterns.iter().any(|p| glob_match(p, t)) && !listed.contains(&t.as_str()));
        if let Some(t) = other {
            push_unique(out, Name { text: t, note: Some(format!("a {} no rule names", kind.as_str())) });
        }
    }
}

/// Adds the exact names of `patterns` in order, then a sample name for each glob.
fn names_for(patterns: &[&str], out: &mut Vec<Name>) {
    let exact: Vec<&str> = patterns.iter().copied().filter(|p| !p.contains('*')).collect();
    for p in &exact {
        push_unique(out, Name::exact(p));
    }
    for p in patterns.iter().filter(|p| p.contains('*')) {
        if let Some(s) = sample(p, &exact) {
            push_unique(out, Name { text: s, note: Some(format!("a sample name for `{p}`")) });
        }
    }
}

/// A name that `pattern` matches and that is not one of `taken`: each `*` replaced by `x`
/// (or `x1`, `x2`, ...).
fn sample(pattern: &str, taken: &[&str]) -> Option<String> {
    std::iter::once("x".to_owned())
        .chain((1..100).map(|i| format!("x{i}")))
        .map(|fill| pattern.replace('*', &fill))
        .find(|s| !taken.contains(&s.as_str()))
}

fn push_unique(names: &mut Vec<Name>, name: Name) {
    if !names.iter().any(|n| n.text == name.text) {
        names.push(name);
    }
}

/// One decision that differs.
struct Change {
    agent_note: Option<String>,
    server_note: Option<String>,
    tool_note: Option<String>,
    before: Explanation,
    after: Explanation,
}

/// The changed decisions, and how many decisions were compared.
fn compare(universe: &Universe, old: &DecisionTable, new: &DecisionTable) -> (Vec<Change>, usize) {
    let mut changes = Vec::new();
    let mut compared = 0;
    for (agent, agent_note) in &universe.agents {
        for (server, items) in &universe.servers {
            let requests = std::iter::once((Request::server(agent.as_deref(), &server.text), None)).chain(
                ItemKind::ALL.into_iter().zip(items).flat_map(|(kind, names)| {
                    names.iter().map(move |t| {
                        let item = Some(Item::new(kind, &t.text));
                        (Request { agent: agent.as_deref(), server: &server.text, item }, t.note.clone())
                    })
                }),
            );
            for (req, tool_note) in requests {
                compared += 1;
                if old.decide(&req).effect == new.decide(&req).effect {
                    continue;
                }
                changes.push(Change {
                    agent_note: agent_note.clone(),
                    server_note: server.note.clone(),
                    tool_note,
                    before: old.explain(&req),
                    after: new.explain(&req),
                });
            }
        }
    }
    (changes, compared)
}

fn with_note(label: &str, name: &str, note: Option<&String>) -> String {
    match note {
        Some(n) => format!("{label} `{name}` ({n})"),
        None => format!("{label} `{name}`"),
    }
}

impl Change {
    fn render(&self) -> String {
        let why = &self.before;
        let agent = match &why.agent {
            Some(a) => with_note("agent", a, self.agent_note.as_ref()),
            None => "no agent id".to_owned(),
        };
        let server = with_note("server", &why.server, self.server_note.as_ref());
        let target = match (&why.tool, &why.resource, &why.prompt) {
            (Some(t), _, _) => format!("{} on {server}", with_note("tool", t, self.tool_note.as_ref())),
            (_, Some(r), _) => format!("{} on {server}", with_note("resource", r, self.tool_note.as_ref())),
            (_, _, Some(p)) => format!("{} on {server}", with_note("prompt", p, self.tool_note.as_ref())),
            _ => server,
        };
        let mut s =
            format!("{target} for {agent}: {} -> {}\n", self.before.decision.as_str(), self.after.decision.as_str());
        for (label, e) in [("before:", &self.before), ("after: ", &self.after)] {
            s.push_str(&format!("  {label} {} ({})", e.decision.as_str(), e.reason.as_str()));
            if let Some(d) = &e.judged_as {
                s.push_str(&format!(", judged as `{d}`"));
            }
            if e.determining_rules.is_empty() {
                s.push_str(", no rule decides\n");
            } else {
                let rules: Vec<String> = e.determining_rules.iter().map(ToString::to_string).collect();
                s.push_str(&format!(": {}\n", rules.join("; ")));
            }
        }
        s
    }

    fn to_json(&self) -> String {
        let json = ChangeJson {
            agent: self.before.agent.as_deref(),
            agent_note: self.agent_note.as_deref(),
            server: &self.before.server,
            server_note: self.server_note.as_deref(),
            tool: self.before.tool.as_deref(),
            resource: self.before.resource.as_deref(),
            prompt: self.before.prompt.as_deref(),
            tool_note: self.tool_note.as_deref(),
            before: &self.before,
            after: &self.after,
        };
        serde_json::to_string(&json).unwrap_or_default()
    }
}

/// The JSON form of a [`Change`], fields in this order.
#[derive(serde::Serialize)]
struct ChangeJson<'a> {
    agent: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    agent_note: Option<&'a str>,
    server: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    server_note: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    resource: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    prompt: Option<&'a str>,
    /// The note on the tool, resource or prompt name.
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_note: Option<&'a str>,
    before: &'a Explanation,
    after: &'a Explanation,
}

/// Reads a catalogue of `kind`, `{"server": ["name", ...]}`, keeping its order.
fn load_catalogue(path: &Path, kind: ItemKind) -> Result<Catalogue, String> {
    let text = config::read_text(path).map_err(|e| e.to_string())?;
    let file = path.display().to_string();
    let reader = Reader::new(&file, &text);
    let root = reader.parse();
    let catalogue = root.as_ref().map(|node| catalogue(&reader.root(node), kind)).unwrap_or_default();
    reader.finish().or_errors(catalogue).map_err(|e| e.to_string())
}

fn catalogue(v: &Value<'_>, kind: ItemKind) -> Catalogue {
    let what = match kind {
        ItemKind::Tool => "tool name",
        ItemKind::Resource => "resource uri",
        ItemKind::Prompt => "prompt name",
    };
    let Some(servers) = v.object(&format!("an object mapping server names to lists of {what}s")) else {
        return Vec::new();
    };
    let item_what = format!("a {what} (a string)");
    let list_what = format!("an array of {what}s");
    let item = |t: Value<'_>| t.string(&item_what).map(str::to_owned);
    servers.fields().filter_map(|f| Some((f.key().to_owned(), f.value().array_of(&list_what, item)?))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(text: &str) -> PolicySet {
        PolicySet::from_dsl_str("p.mcpgw", text).unwrap()
    }

    #[test]
    fn the_universe_holds_written_names_samples_and_the_unknown_cases() {
        let a = policy("agent backend { allow servers postgres, cache_* \n allow tools on postgres: query, list_* }");
        let b = policy("agent backend.* { deny tools on *: drop_* }");
        let tools = vec![("search".to_owned(), vec!["web".to_owned()])];
        let u = Universe::build(&[&a, &b], &[tools, Vec::new(), Vec::new()]);
        let agents: Vec<Option<&str>> = u.agents.iter().map(|(a, _)| a.as_deref()).collect();
        assert_eq!(agents, [Some("backend"), Some("backend.x"), Some("unknown-agent"), None]);
        let servers: Vec<&str> = u.servers.iter().map(|(s, _)| s.text.as_str()).collect();
        assert_eq!(servers, ["postgres", "search", "cache_x", "x"]);
        let tools = |i: usize| u.servers[i].1[0].iter().map(|t| t.text.clone()).collect::<Vec<_>>();
        assert_eq!(tools(0), ["query", "list_x", "drop_x", "other_tool"]);
        assert_eq!(tools(1), ["web", "drop_x", "other_tool"]);
    }

    #[test]
    fn resources_and_prompts_get_names_of_their_own() {
        let a = policy("agent d { allow servers f\n allow resources on f: \"file:///a/*\"\n deny prompts on *: p_* }");
        let res = vec![("f".to_owned(), vec!["file:///b".to_owned()])];
        let u = Universe::build(&[&a], &[Vec::new(), res, Vec::new()]);
        let names = |k: usize| u.servers[0].1[k].iter().map(|t| t.text.clone()).collect::<Vec<_>>();
        assert!(names(0).is_empty());
        assert_eq!(names(1), ["file:///b", "file:///a/x", "other_resource"]);
        assert_eq!(names(2), ["p_x", "other_prompt"]);
    }

    #[test]
    fn samples_avoid_exact_names() {
        assert_eq!(sample("a*", &["ax"]).as_deref(), Some("ax1"));
        assert_eq!(sample("*", &[]).as_deref(), Some("x"));
    }
}
