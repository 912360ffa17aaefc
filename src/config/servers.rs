//! The downstream servers file, `.mcp.json`, in the format Claude Code uses.
//!
//! Parsed with the policy's located JSON reader, so every problem points at a line and column.
//! Unknown keys are allowed (with a warning) because the same file is often shared with other
//! tools; `description` is shown by `list_servers`.

use std::path::PathBuf;
use std::time::Duration;

use crate::config::expand::{MissingVar, expand_noting};
use crate::config::secrets::Secrets;
use crate::located::json::{self, DisplayPath, Member, Node, NodeKind, PathSegment};
use crate::located::{Diagnostic, Diagnostics, LineIndex};

mod gateway_section;
mod masking;

/// The downstream servers, in file order, and the warnings found while reading them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ServersConfig {
    /// The servers, in the order the file lists them.
    pub servers: Vec<ServerSpec>,
    /// Settings for serving over HTTP (the `gateway.http` section).
    pub http: HttpSettings,
    /// Problems that do not stop the gateway (ignored keys).
    pub warnings: Vec<Diagnostic>,
}

/// Settings for serving over HTTP.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HttpSettings {
    /// Bearer tokens and the agents they authenticate. Empty: no authentication.
    pub tokens: Vec<TokenEntry>,
    /// `Host` values served besides the loopback names and the listen address.
    pub allowed_hosts: Vec<String>,
    /// Browser `Origin`s served besides loopback ones.
    pub allowed_origins: Vec<String>,
}

/// One bearer token, kept only as its SHA-256 hash.
#[derive(Clone, PartialEq, Eq)]
pub struct TokenEntry {
    /// The agent the token authenticates.
    pub agent: String,
    /// SHA-256 of the token.
    pub sha256: [u8; 32],
}

impl std::fmt::Debug for TokenEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TokenEntry {{ agent: {:?}, sha256: <hidden> }}", self.agent)
    }
}

/// One downstream server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerSpec {
    /// The name agents and rules use.
    pub name: String,
    /// Shown by `list_servers`.
    pub description: Option<String>,
    /// How to reach it.
    pub transport: TransportSpec,
    /// The default call timeout for this server (`timeout_ms`), overriding the gateway's.
    pub timeout: Option<Duration>,
    /// The command line or URL as written in the file, before `${VAR}` expansion, so that
    /// showing it never reveals a secret.
    pub target_template: String,
    /// The values of its `${VAR}` references and its header values, to be removed from any
    /// message about it.
    pub secrets: Secrets,
}

/// How to reach a downstream server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransportSpec {
    /// A child process speaking MCP over stdin and stdout.
    Stdio {
        /// The program.
        command: String,
        /// Its arguments.
        args: Vec<String>,
        /// Variables laid over the gateway's own environment.
        env: Vec<(String, String)>,
        /// The working directory; the gateway's when unset.
        cwd: Option<PathBuf>,
    },
    /// A streamable HTTP endpoint.
    Http {
        /// The endpoint URL.
        url: String,
        /// Every header to send with each request.
        headers: Vec<(String, String)>,
    },
}

impl TransportSpec {
    /// `stdio` or `http`, as `list_servers` reports it.
    pub fn kind(&self) -> &'static str {
        match self {
            TransportSpec::Stdio { .. } => "stdio",
            TransportSpec::Http { .. } => "http",
        }
    }
}

impl ServerSpec {
    /// What to show as the server's target: the command line or the URL as written, with
    /// `${VAR}` references unexpanded (and no env or headers, which may hold secrets).
    pub fn target(&self) -> &str {
        &self.target_template
    }
}

const STDIO_KEYS: &[&str] = &["command", "args", "env", "cwd", "type", "transport", "description", "timeout_ms"];
const HTTP_KEYS: &[&str] = &["url", "headers", "type", "transport", "description", "timeout_ms"];

/// Parses `.mcp.json` text. `${VAR}` references are expanded with `lookup`; one that is unset
/// with no default is an error naming the variable and the server.
pub fn parse_servers(
    file: &str,
    text: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<ServersConfig, Diagnostics> {
    let index = LineIndex::new(text);
    // Quoted source lines never show values that may be secrets (see `masking`).
    let root = json::parse(text).map_err(|e| {
        let span = index.span(e.offset);
        let shown = masking::mask_all_values(&index.shown_line(span));
        Diagnostics(vec![Diagnostic::error(file, e.message).at(span).with_line_text(shown)])
    })?;
    let mut reader = Reader {
        file,
        index: &index,
        lookup,
        path: Vec::new(),
        errors: Vec::new(),
        warnings: Vec::new(),
        secrets: Secrets::default(),
    };
    let (servers, http) = reader.root(&root);
    if reader.errors.is_empty() {
        Ok(ServersConfig { servers, http, warnings: reader.warnings })
    } else {
        let mut diags = Diagnostics(reader.errors);
        diags.attach_source_lines(&masking::mask_secret_values(text, &root));
        Err(diags)
    }
}

struct Reader<'a> {
    file: &'a str,
    index: &'a LineIndex<'a>,
    lookup: &'a dyn Fn(&str) -> Option<String>,
    path: Vec<PathSegment>,
    errors: Vec<Diagnostic>,
    warnings: Vec<Diagnostic>,
    /// The `${VAR}` values of the server being read.
    secrets: Secrets,
}

impl Reader<'_> {
    fn located(&self, d: Diagnostic, offset: usize) -> Diagnostic {
        d.at(self.index.span(offset)).with_path(DisplayPath(&self.path).to_string())
    }

    fn error(&mut self, offset: usize, message: String) {
        let d = self.located(Diagnostic::error(self.file, message), offset);
        self.errors.push(d);
    }

    fn warn(&mut self, offset: usize, message: String) {
        let d = self.located(Diagnostic::warning(self.file, message), offset);
        self.warnings.push(d);
    }

    fn with<T>(&mut self, key: &str, f: impl FnOnce(&mut Self) -> T) -> T {
        self.path.push(PathSegment::Key(key.to_owned()));
        let out = f(self);
        self.path.pop();
        out
    }

    fn root(&mut self, node: &Node) -> (Vec<ServerSpec>, HttpSettings) {
        let mut http = HttpSettings::default();
        let NodeKind::Object(members) = &node.kind else {
            self.error(node.offset, format!("expected an object with `mcpServers`, found {}", node.kind.type_name()));
            return (Vec::new(), http);
        };
        let mut servers = Vec::new();
        let mut found = false;
        for m in members {
            if m.key == "mcpServers" {
                found = true;
                servers = self.with("mcpServers", |r| r.servers(&m.value));
            } else if m.key == "gateway" {
                http = self.with("gateway", |r| r.gateway_section(&m.value));
            } else {
                self.warn(m.key_offset, format!("unknown key `{}` is ignored", m.key));
            }
        }
        if !found {
            self.error(node.offset, "missing `mcpServers`".to_owned());
        }
        (servers, http)
    }

    fn servers(&mut self, node: &Node) -> Vec<ServerSpec> {
        let NodeKind::Object(members) = &node.kind else {
            self.error(node.offset, format!("expected an object of servers, found {}", node.kind.type_name()));
            return Vec::new();
        };
        members.iter().filter_map(|m| self.with(&m.key, |r| r.server(m))).collect()
    }

    fn server(&mut self, m: &Member) -> Option<ServerSpec> {
        self.secrets = Secrets::default();
        let name = m.key.clone();
        if name.is_empty() {
            self.error(m.key_offset, "empty server name".to_owned());
            return None;
        }
        let NodeKind::Object(fields) = &m.value.kind else {
            self.error(
                m.value.offset,
                format!("server `{name}`: expected an object, found {}", m.value.kind.type_name()),
            );
            return None;
        };
        let get = |key: &str| fields.iter().find(|f| f.key == key);
        let declared = match get("type").or_else(|| get("transport")) {
            Some(f) => Some((self.string(&name, f)?, f.value.offset)),
            None => None,
        };
        let is_http = match (&declared, get("command"), get("url")) {
            (Some((t, offset)), _, _) => match t.as_str() {
                "stdio" => false,
                "http" | "streamable-http" | "streamable_http" | "streamableHttp" => true,
                "sse" => {
                    self.error(*offset, format!("server `{name}`: the legacy SSE transport is not supported; use streamable HTTP (`\"type\": \"http\"`)"));
                    return None;
                }
                other => {
                    self.error(
                        *offset,
                        format!("server `{name}`: unknown transport `{other}`, expected `stdio` or `http`"),
                    );
                    return None;
                }
            },
            (None, Some(_), _) => false,
            (None, None, Some(_)) => true,
            (None, None, None) => {
                self.error(m.value.offset, format!("server `{name}` needs `command` (stdio) or `url` (http)"));
                return None;
            }
        };
        let known = if is_http { HTTP_KEYS } else { STDIO_KEYS };
        for f in fields.iter().filter(|f| !known.contains(&f.key.as_str())) {
            self.warn(f.key_offset, format!("server `{name}`: unknown key `{}` is ignored", f.key));
        }
        let description = match get("description") {
            Some(f) => Some(self.string(&name, f)?),
            None => None,
        };
        let timeout = match get("timeout_ms") {
            Some(f) => Some(Duration::from_millis(self.millis(&name, f)?)),
            None => None,
        };
        let transport = if is_http { self.http(&name, &m.value, &get)? } else { self.stdio(&name, &m.value, &get)? };
        let raw = |key: &str| match get(key).map(|f| &f.value.kind) {
            Some(NodeKind::String(s)) => vec![s.clone()],
            Some(NodeKind::Array(items)) => items
                .iter()
                .filter_map(|i| if let NodeKind::String(s) = &i.kind { Some(s.clone()) } else { None })
                .collect(),
            _ => Vec::new(),
        };
        let target_template = if is_http { raw("url") } else { [raw("command"), raw("args")].concat() }.join(" ");
        let mut secrets = std::mem::take(&mut self.secrets);
        match &transport {
            TransportSpec::Http { headers, .. } => {
                for (header, value) in headers {
                    secrets.add_header(header, value);
                }
            }
            TransportSpec::Stdio { env, .. } => {
                for (name, value) in env {
                    secrets.add_env(name, value);
                }
            }
        }
        Some(ServerSpec { name, description, transport, timeout, target_template, secrets })
    }

    fn stdio<'n>(
        &mut self,
        name: &str,
        node: &Node,
        get: &dyn Fn(&str) -> Option<&'n Member>,
    ) -> Option<TransportSpec> {
        let Some(command) = get("command") else {
            self.error(node.offset, format!("server `{name}`: a stdio server needs `command`"));
            return None;
        };
        let command = self.string(name, command)?;
        let args = match get("args") {
            Some(f) => self.string_array(name, f)?,
            None => Vec::new(),
        };
        let env = match get("env") {
            Some(f) => self.string_map(name, f)?,
            None => Vec::new(),
        };
        let cwd = match get("cwd") {
            Some(f) => Some(PathBuf::from(self.string(name, f)?)),
            None => None,
        };
        Some(TransportSpec::Stdio { command, args, env, cwd })
    }

    fn http<'n>(&mut self, name: &str, node: &Node, get: &dyn Fn(&str) -> Option<&'n Member>) -> Option<TransportSpec> {
        let Some(url) = get("url") else {
            self.error(node.offset, format!("server `{name}`: an http server needs `url`"));
            return None;
        };
        let url_offset = url.value.offset;
        // The message quotes the URL as written: expanded, it may hold a secret.
        let written = match &url.value.kind {
            NodeKind::String(s) => s.clone(),
            _ => String::new(),
        };
        let url = self.string(name, url)?;
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            let message = match (written == url, url.split_once("://")) {
                (true, _) => format!("server `{name}`: url `{url}` must start with http:// or https://"),
                (false, Some((scheme, _))) => format!(
                    "server `{name}`: url `{written}` expands to `{scheme}://...`, which is not http:// or https://"
                ),
                (false, None) => {
                    format!("server `{name}`: url `{written}` does not expand to an http:// or https:// URL")
                }
            };
            self.error(url_offset, message);
            return None;
        }
        let headers = match get("headers") {
            Some(f) => self.string_map(name, f)?,
            None => Vec::new(),
        };
        Some(TransportSpec::Http { url, headers })
    }

    /// A string value, `${VAR}`-expanded.
    fn string(&mut self, server: &str, f: &Member) -> Option<String> {
        self.with(&f.key, |r| r.expand_node(server, &f.value))
    }

    fn expand_node(&mut self, server: &str, node: &Node) -> Option<String> {
        let NodeKind::String(raw) = &node.kind else {
            self.error(node.offset, format!("server `{server}`: expected a string, found {}", node.kind.type_name()));
            return None;
        };
        let secrets = &mut self.secrets;
        match expand_noting(raw, self.lookup, &mut |name, value| secrets.add_variable(name, value)) {
            Ok(v) => Some(v),
            Err(MissingVar { name }) => {
                self.error(
                    node.offset,
                    format!("server `{server}`: environment variable `{name}` is not set (write `${{{name}:-default}}` to give a default)"),
                );
                None
            }
        }
    }

    fn string_array(&mut self, server: &str, f: &Member) -> Option<Vec<String>> {
        self.with(&f.key, |r| {
            let NodeKind::Array(items) = &f.value.kind else {
                r.error(
                    f.value.offset,
                    format!("server `{server}`: expected an array of strings, found {}", f.value.kind.type_name()),
                );
                return None;
            };
            let mut out = Vec::with_capacity(items.len());
            let mut ok = true;
            for (i, item) in items.iter().enumerate() {
                r.path.push(PathSegment::Index(i));
                match r.expand_node(server, item) {
                    Some(v) => out.push(v),
                    None => ok = false,
                }
                r.path.pop();
            }
            ok.then_some(out)
        })
    }

    fn string_map(&mut self, server: &str, f: &Member) -> Option<Vec<(String, String)>> {
        self.with(&f.key, |r| {
            let NodeKind::Object(members) = &f.value.kind else {
                r.error(
                    f.value.offset,
                    format!("server `{server}`: expected an object of strings, found {}", f.value.kind.type_name()),
                );
                return None;
            };
            let mut out = Vec::with_capacity(members.len());
            let mut ok = true;
            for m in members {
                match r.string(server, m) {
                    Some(v) => out.push((m.key.clone(), v)),
                    None => ok = false,
                }
            }
            ok.then_some(out)
        })
    }

    fn millis(&mut self, server: &str, f: &Member) -> Option<u64> {
        match &f.value.kind {
            NodeKind::Number(n) => match n.parse::<u64>() {
                Ok(ms) if ms > 0 => Some(ms),
                _ => {
                    self.with(&f.key, |r| r.error(f.value.offset, format!("server `{server}`: `timeout_ms` must be a whole number of milliseconds above 0, found `{n}`")));
                    None
                }
            },
            other => {
                let found = other.type_name();
                self.with(&f.key, |r| {
                    r.error(f.value.offset, format!("server `{server}`: `timeout_ms` must be a number, found {found}"))
                });
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(name: &str) -> Option<String> {
        (name == "TOKEN").then(|| "s3cret".to_owned())
    }

    fn parse(text: &str) -> Result<ServersConfig, Diagnostics> {
        parse_servers(".mcp.json", text, &vars)
    }

    #[test]
    fn reads_both_transports_in_order() {
        let c = parse(
            r#"{"mcpServers": {
                "zeta": {"command": "node", "args": ["s.js", "${HOME:-/h}"], "env": {"K": "${TOKEN}"}, "description": "Z"},
                "alpha": {"url": "https://x.test/mcp", "headers": {"Authorization": "Bearer ${TOKEN}", "X-Team": "core"}, "type": "http", "timeout_ms": 1500}
            }}"#,
        )
        .unwrap();
        assert_eq!(c.servers[0].name, "zeta");
        assert_eq!(c.servers[1].name, "alpha");
        assert_eq!(c.servers[0].description.as_deref(), Some("Z"));
        assert_eq!(
            c.servers[0].transport,
            TransportSpec::Stdio {
                command: "node".into(),
                args: vec!["s.js".into(), "/h".into()],
                env: vec![("K".into(), "s3cret".into())],
                cwd: None
            }
        );
        let TransportSpec::Http { headers, .. } = &c.servers[1].transport else { panic!() };
        assert_eq!(headers[1], ("X-Team".into(), "core".into()));
        assert_eq!(c.servers[1].timeout, Some(Duration::from_millis(1500)));
        assert!(c.warnings.is_empty());
        assert_eq!(c.servers[0].target(), "node s.js ${HOME:-/h}", "targets never show expanded values");
    }

    #[test]
    fn literal_env_and_header_values_are_secrets_of_their_server() {
        let c = parse(
            r#"{"mcpServers": {
                "local": {"command": "x", "env": {"API_KEY": "sk-literal-1234"}},
                "remote": {"url": "https://x.test/mcp", "headers": {"X-Key": "hdr-literal-5678"}}
            }}"#,
        )
        .unwrap();
        let stderr = "auth failed for sk-literal-1234";
        assert_eq!(c.servers[0].secrets.redact(stderr), "auth failed for <env API_KEY>");
        assert_eq!(c.servers[1].secrets.redact("sent hdr-literal-5678"), "sent <X-Key header>");
    }

    #[test]
    fn missing_variables_name_the_variable_and_server() {
        let e = parse(r#"{"mcpServers": {"gh": {"command": "x", "env": {"T": "${GITHUB_TOKEN}"}}}}"#).unwrap_err();
        let text = e.to_string();
        assert!(text.contains("server `gh`: environment variable `GITHUB_TOKEN` is not set"), "{text}");
        assert!(text.contains("at mcpServers.gh.env.T"), "{text}");
        assert!(text.starts_with(".mcp.json:1:"), "{text}");
    }

    #[test]
    fn unknown_keys_warn_and_bad_shapes_fail() {
        let c = parse(r#"{"mcpServers": {"a": {"command": "x", "disabled": false}}, "other": 1}"#).unwrap();
        assert_eq!(c.warnings.len(), 2);
        assert!(c.warnings.iter().any(|w| w.message.contains("unknown key `disabled`")));
        assert!(c.warnings.iter().any(|w| w.message.contains("unknown key `other`")));
        for (text, want) in [
            (r#"{"mcpServers": {"a": {}}}"#, "needs `command` (stdio) or `url` (http)"),
            (r#"{"mcpServers": {"a": {"url": "ftp://x"}}}"#, "must start with http"),
            (r#"{"mcpServers": {"a": {"url": "http://x", "type": "sse"}}}"#, "legacy SSE"),
            (r#"{"mcpServers": {"a": {"command": ["x"]}}}"#, "expected a string, found an array"),
            (r#"{"servers": {}}"#, "missing `mcpServers`"),
            (r#"{"mcpServers": {"a": {"command": "x",}}}"#, "trailing commas"),
        ] {
            let e = parse(text).unwrap_err().to_string();
            assert!(e.contains(want), "{text}: {e}");
        }
    }
}
