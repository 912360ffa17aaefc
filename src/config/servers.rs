//! The downstream servers file, `.mcp.json`, in the format Claude Code uses.
//!
//! Read with the typed JSON reader every front end shares, so every problem points at a line,
//! a column and a JSON path, worded as in the other files.
//! Unknown keys are allowed (with a warning) because the same file is often shared with other
//! tools; `description` is shown by `list_servers`.

use std::path::PathBuf;
use std::time::Duration;

use crate::config::expand::{MissingVar, expand_noting};
use crate::config::lock::LockMode;
use crate::located::json::NodeKind;
use crate::located::json::read::{Field, Object, Problems, Reader, Value};
use crate::located::{Diagnostic, Diagnostics};
use crate::logging::secrets::Secrets;

mod gateway_section;
mod masking;
mod oauth_section;

pub use oauth_section::fetch_url_problem;

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
    /// SHA-256 hashes of the operator tokens, which may read `/metrics` and `/ready`'s detail.
    pub admin_tokens: Vec<[u8; 32]>,
    /// What one client may make the gateway hold (read at startup).
    pub limits: HttpLimits,
    /// `gateway.redis.url`: where rate and concurrency limits are shared across replicas (read
    /// at startup).
    pub redis_url: Option<String>,
    /// JWT access tokens from an OAuth 2.1 authorization server (`gateway.http.oauth`).
    pub oauth: Option<OAuthSettings>,
}

impl HttpSettings {
    /// Whether an agent needs a credential: static tokens or OAuth are configured.
    pub fn agents_authenticate(&self) -> bool {
        !self.tokens.is_empty() || self.oauth.is_some()
    }
}

/// Where JWT access tokens come from and how they name an agent (`gateway.http.oauth`).
///
/// Plain data, checked when read: the URLs are absolute, and `http://` only on loopback, so
/// that keys are never fetched in the clear across a network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthSettings {
    /// The authorization server's issuer identifier; tokens' `iss` must equal it, and so
    /// must the `issuer` of its discovery document.
    pub issuer: String,
    /// The gateway's own resource URL (RFC 8707); tokens' `aud` must contain it.
    pub audience: String,
    /// The claim whose string value names the agent (`sub` unless set).
    pub agent_claim: String,
    /// Claim values and the agents they name; when given, a value not listed is refused.
    pub agents: Option<Vec<(String, String)>>,
    /// Where the keys are, instead of the discovery document's `jwks_uri`.
    pub jwks_uri: Option<String>,
}

/// What clients may make an HTTP gateway hold: sessions, connections, the time to send
/// headers, request-body bytes in flight. Set in `gateway.http.limits`; read at startup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpLimits {
    /// Sessions per agent (per credential).
    pub sessions_per_agent: usize,
    /// Sessions in all.
    pub sessions_total: usize,
    /// How long a session may sit idle before it ends.
    pub session_idle: Duration,
    /// Connections served at once.
    pub connections: usize,
    /// How long a client may take to send a request's headers.
    pub header_timeout: Duration,
    /// Request-body bytes in flight per agent.
    pub body_bytes_per_agent: usize,
    /// Request-body bytes in flight in all.
    pub body_bytes_total: usize,
}

impl Default for HttpLimits {
    fn default() -> Self {
        HttpLimits {
            sessions_per_agent: 256,
            sessions_total: 4096,
            session_idle: Duration::from_secs(600),
            connections: 2048,
            header_timeout: Duration::from_secs(10),
            body_bytes_per_agent: 192 << 20,
            body_bytes_total: 384 << 20,
        }
    }
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
    /// Which of its requests for input reach the callers of its tools.
    pub forward: Forward,
    /// What a tool that differs from the lock gets (`lock_mode` in its entry, else the
    /// `gateway.lock_mode`, else quarantine).
    pub lock_mode: LockMode,
}

/// Which requests a server may send to the callers of its tools (`"forward"` in its entry:
/// `{"elicitation": bool, "sampling": bool, "roots": bool}`, each `true` unless refused).
/// Sampling lets a server drive the caller's model, so the owner of the config decides. What
/// is refused is not declared to the server either.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Forward {
    /// `elicitation/create`.
    pub elicitation: bool,
    /// `sampling/createMessage`.
    pub sampling: bool,
    /// `roots/list`.
    pub roots: bool,
}

impl Default for Forward {
    fn default() -> Self {
        Forward { elicitation: true, sampling: true, roots: true }
    }
}

impl Forward {
    /// Whether `method` may be forwarded.
    pub fn allows(&self, method: &str) -> bool {
        match method {
            "elicitation/create" => self.elicitation,
            "sampling/createMessage" => self.sampling,
            "roots/list" => self.roots,
            _ => false,
        }
    }

    /// The capabilities the gateway declares to the server: what it can forward.
    pub fn capabilities(&self) -> String {
        let mut parts = Vec::new();
        if self.elicitation {
            parts.push(r#""elicitation":{"form":{},"url":{}}"#);
        }
        if self.sampling {
            parts.push(r#""sampling":{"tools":{}}"#);
        }
        if self.roots {
            parts.push(r#""roots":{"listChanged":true}"#);
        }
        format!("{{{}}}", parts.join(","))
    }
}

/// `"lock_mode": "enforce" | "warn"`.
fn lock_mode(v: &Value<'_>) -> Option<LockMode> {
    let text = v.string("a string")?;
    v.check_one_of(text, LockMode::NAMES).and_then(LockMode::parse)
}

/// `"forward": {"elicitation": bool, "sampling": bool, "roots": bool}`.
fn forward(v: &Value<'_>) -> Option<Forward> {
    let fields = v.object("an object")?;
    fields.deny_unknown(&["elicitation", "sampling", "roots"]);
    let mut out = Forward::default();
    for (key, slot) in
        [("elicitation", &mut out.elicitation), ("sampling", &mut out.sampling), ("roots", &mut out.roots)]
    {
        if let Some(b) = fields.get(key).and_then(|f| f.bool()) {
            *slot = b;
        }
    }
    Some(out)
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

const STDIO_KEYS: &[&str] =
    &["command", "args", "env", "cwd", "type", "transport", "description", "timeout_ms", "forward", "lock_mode"];
const HTTP_KEYS: &[&str] =
    &["url", "headers", "type", "transport", "description", "timeout_ms", "forward", "lock_mode"];
/// The values `type` (or `transport`) may take, besides the refused `sse`.
const TRANSPORTS: &[&str] = &["stdio", "http", "streamable-http", "streamable_http", "streamableHttp"];

/// Parses `.mcp.json` text. `${VAR}` references are expanded with `lookup`; one that is unset
/// with no default is an error naming the variable and the server.
pub fn parse_servers(
    file: &str,
    text: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<ServersConfig, Diagnostics> {
    let reader = Reader::new(file, text);
    let root = reader.parse();
    let (servers, http) = match &root {
        Some(node) => Expander { lookup, secrets: Secrets::default() }.root(&reader.root(node)),
        None => (Vec::new(), HttpSettings::default()),
    };
    // Quoted source lines never show values that may be secrets (see `masking`).
    let shown = match &root {
        Some(node) => masking::mask_secret_values(text, node),
        None => masking::mask_all_lines(text),
    };
    let Problems { errors, warnings } = reader.finish_showing(&shown);
    if errors.is_empty() { Ok(ServersConfig { servers, http, warnings }) } else { Err(Diagnostics(errors)) }
}

/// Reads the servers, expanding `${VAR}` in every string and noting the values of each
/// server's variables as its secrets.
struct Expander<'a> {
    lookup: &'a dyn Fn(&str) -> Option<String>,
    /// The `${VAR}` values of the server being read.
    secrets: Secrets,
}

impl Expander<'_> {
    fn root(&mut self, v: &Value<'_>) -> (Vec<ServerSpec>, HttpSettings) {
        let Some(root) = v.object("an object with `mcpServers`") else {
            return (Vec::new(), HttpSettings::default());
        };
        root.warn_unknown(&["mcpServers", "gateway"]);
        let mut servers = root.required("mcpServers").map(|s| self.servers(&s)).unwrap_or_default();
        let gateway = root.get("gateway");
        let http = gateway.as_ref().map(|g| self.gateway_section(g)).unwrap_or_default();
        let mode = gateway
            .as_ref()
            .filter(|g| matches!(g.kind(), NodeKind::Object(_)))
            .and_then(|g| g.object("an object"))
            .and_then(|g| g.get("lock_mode"))
            .and_then(|m| lock_mode(&m))
            .unwrap_or_default();
        for (server, own) in servers.iter_mut() {
            server.lock_mode = own.unwrap_or(mode);
        }
        (servers.into_iter().map(|(s, _)| s).collect(), http)
    }

    /// The servers, each with the `lock_mode` its own entry gives.
    fn servers(&mut self, v: &Value<'_>) -> Vec<(ServerSpec, Option<LockMode>)> {
        let Some(servers) = v.object("an object of servers") else {
            return Vec::new();
        };
        servers
            .fields()
            .filter_map(|f| {
                let own = matches!(f.value().kind(), NodeKind::Object(_))
                    .then(|| f.value().object("an object"))
                    .flatten()
                    .and_then(|o| o.get("lock_mode"))
                    .and_then(|m| lock_mode(&m));
                self.server(&f).map(|s| (s, own))
            })
            .collect()
    }

    fn server(&mut self, f: &Field<'_>) -> Option<ServerSpec> {
        self.secrets = Secrets::default();
        let name = f.key().to_owned();
        if name.is_empty() {
            f.key_error("empty server name");
            return None;
        }
        let fields = f.value().object("an object")?;
        let declared = match fields.get("type").or_else(|| fields.get("transport")) {
            Some(t) => Some((self.string(&name, &t)?, t)),
            None => None,
        };
        let is_http = match (&declared, fields.get("command"), fields.get("url")) {
            (Some((t, at)), _, _) if t == "sse" => {
                at.error(format!("server `{name}`: the legacy SSE transport is not supported; use streamable HTTP (`\"type\": \"http\"`)"));
                return None;
            }
            (Some((t, at)), _, _) => at.check_one_of(t, TRANSPORTS)? != "stdio",
            (None, Some(_), _) => false,
            (None, None, Some(_)) => true,
            (None, None, None) => {
                f.value().error(format!("server `{name}` needs `command` (stdio) or `url` (http)"));
                return None;
            }
        };
        fields.warn_unknown(if is_http { HTTP_KEYS } else { STDIO_KEYS });
        let description = match fields.get("description") {
            Some(v) => Some(self.string(&name, &v)?),
            None => None,
        };
        let timeout = match fields.get("timeout_ms") {
            Some(v) => Some(Duration::from_millis(millis(&v)?)),
            None => None,
        };
        let forward = match fields.get("forward") {
            Some(v) => forward(&v)?,
            None => Forward::default(),
        };
        let transport = if is_http { self.http(&name, &fields)? } else { self.stdio(&name, &fields)? };
        // As written, before expansion: what the target shows.
        let raw = |key: &str| -> Vec<String> {
            let Some(v) = fields.get(key) else { return Vec::new() };
            let items = if matches!(v.kind(), NodeKind::Array(_)) { v.items() } else { vec![v] };
            items.iter().filter_map(Value::as_str).map(str::to_owned).collect()
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
        Some(ServerSpec {
            name,
            description,
            transport,
            timeout,
            target_template,
            secrets,
            forward,
            lock_mode: LockMode::default(),
        })
    }

    fn stdio(&mut self, name: &str, fields: &Object<'_>) -> Option<TransportSpec> {
        let command = self.string(name, &fields.required("command")?)?;
        let args = match fields.get("args") {
            Some(v) => self.string_array(name, &v),
            None => Vec::new(),
        };
        let env = match fields.get("env") {
            Some(v) => self.string_map(name, &v),
            None => Vec::new(),
        };
        let cwd = match fields.get("cwd") {
            Some(v) => Some(PathBuf::from(self.string(name, &v)?)),
            None => None,
        };
        Some(TransportSpec::Stdio { command, args, env, cwd })
    }

    fn http(&mut self, name: &str, fields: &Object<'_>) -> Option<TransportSpec> {
        let at = fields.required("url")?;
        // The message quotes the URL as written: expanded, it may hold a secret.
        let written = at.as_str().unwrap_or_default().to_owned();
        let url = self.string(name, &at)?;
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
            at.error(message);
            return None;
        }
        let headers = match fields.get("headers") {
            Some(v) => self.string_map(name, &v),
            None => Vec::new(),
        };
        Some(TransportSpec::Http { url, headers })
    }

    /// A string value, `${VAR}`-expanded; `server` names the server in the message about a
    /// variable that is not set.
    fn string(&mut self, server: &str, v: &Value<'_>) -> Option<String> {
        let raw = v.string("a string")?;
        let secrets = &mut self.secrets;
        match expand_noting(raw, self.lookup, &mut |name, value| secrets.add_variable(name, value)) {
            Ok(expanded) => Some(expanded),
            Err(MissingVar { name }) => {
                v.error(format!("server `{server}`: environment variable `{name}` is not set (write `${{{name}:-default}}` to give a default)"));
                None
            }
        }
    }

    fn string_array(&mut self, server: &str, v: &Value<'_>) -> Vec<String> {
        v.array_of("an array of strings", |item| self.string(server, &item)).unwrap_or_default()
    }

    fn string_map(&mut self, server: &str, v: &Value<'_>) -> Vec<(String, String)> {
        let Some(map) = v.object("an object of strings") else {
            return Vec::new();
        };
        map.fields().filter_map(|f| Some((f.key().to_owned(), self.string(server, f.value())?))).collect()
    }
}

/// A call timeout in milliseconds, above 0.
fn millis(v: &Value<'_>) -> Option<u64> {
    v.number("a whole number of milliseconds above 0", |text| text.parse::<u64>().ok().filter(|ms| *ms > 0))
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
    fn lock_mode_comes_from_the_server_else_the_gateway_else_enforce() {
        let text = |gateway: &str| {
            format!(
                r#"{{"mcpServers": {{"a": {{"command": "x"}}, "b": {{"command": "x", "lock_mode": "enforce"}},
                     "c": {{"command": "x", "lock_mode": "warn"}}}}{gateway}}}"#
            )
        };
        let modes = |c: ServersConfig| c.servers.iter().map(|s| s.lock_mode).collect::<Vec<_>>();
        use LockMode::{Enforce, Warn};
        assert_eq!(modes(parse(&text("")).unwrap()), [Enforce, Enforce, Warn]);
        let c = parse(&text(r#", "gateway": {"lock_mode": "warn"}"#)).unwrap();
        assert!(c.warnings.is_empty(), "{:?}", c.warnings);
        assert_eq!(modes(c), [Warn, Enforce, Warn]);
        let e = parse(r#"{"mcpServers": {"a": {"command": "x", "lock_mode": "off"}}}"#).unwrap_err().to_string();
        assert!(e.contains("off") && e.contains("warn"), "{e}");
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
        assert!(c.warnings.iter().any(|w| w.message.contains("unknown field `disabled` is ignored")));
        assert!(c.warnings.iter().any(|w| w.message.contains("unknown field `other` is ignored")));
        for (text, want) in [
            (r#"{"mcpServers": {"a": {}}}"#, "needs `command` (stdio) or `url` (http)"),
            (r#"{"mcpServers": {"a": {"url": "ftp://x"}}}"#, "must start with http"),
            (r#"{"mcpServers": {"a": {"url": "http://x", "type": "sse"}}}"#, "legacy SSE"),
            (r#"{"mcpServers": {"a": {"command": ["x"]}}}"#, "expected a string, found an array"),
            (r#"{"servers": {}}"#, "missing field `mcpServers`"),
            (r#"{"mcpServers": {"a": {"command": "x",}}}"#, "trailing commas"),
        ] {
            let e = parse(text).unwrap_err().to_string();
            assert!(e.contains(want), "{text}: {e}");
        }
    }
}
