//! Downstream faults, through the real gateway: a server that exits at startup, exits
//! mid-call, hangs, writes garbage to stdout, floods stderr, returns a 100 MB result, sends a
//! notification storm, or closes stdout while it keeps running.
//!
//! For each one: the caller gets the right error code within its timeout, the gateway keeps
//! serving another server (called right after, and during the fault where it lasts), the
//! faulty server recovers on the next call where it can, and nothing leaks. Leaks are counted
//! from `/proc`: the gateway's open file descriptors and its child processes are the same
//! after the fault as before it. The baseline is taken once every server that will run has
//! been started, because servers start lazily (a live stdio server holds four descriptors: a
//! pidfd and three pipes).

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use crate::support::procfs::{children_of, kill_child_groups, pid_alive, wait_gone};
use crate::support::*;
use rmcp::service::PeerRequestOptions;
use serde_json::{Value, json};

fn exec_within(server: &str, tool: &str, args: Value, timeout_ms: u64) -> Value {
    json!({"agent_id": "dev", "server": server, "tool": tool, "args": args, "timeout_ms": timeout_ms})
}

async fn server_pid(gw: &GatewayUnderTest, server: &str) -> u32 {
    pid_of(&gw.call("execute_tool", exec(server, "pid", json!({}))).await)
}

/// Checks that `server` answers an echo.
async fn assert_serves(gw: &GatewayUnderTest, server: &str, during: &str) {
    let text = format!("{server} still serves {during}");
    let r = gw.call("execute_tool", exec(server, "echo", json!({"text": text}))).await;
    assert_eq!(first_text(&r), text, "{during}: {r:?}");
}

/// What the gateway holds: open file descriptors and child processes.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Census {
    fds: usize,
    children: BTreeSet<u32>,
}

impl Census {
    fn take(pid: u32) -> Census {
        let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).map(|d| d.count()).unwrap_or(0);
        Census { fds, children: children_of(pid).into_iter().collect() }
    }

    fn describe(pid: u32) -> String {
        let mut fds: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
            .map(|d| {
                d.filter_map(|e| {
                    let e = e.ok()?;
                    Some(format!(
                        "{} -> {}",
                        e.file_name().to_string_lossy(),
                        std::fs::read_link(e.path()).ok()?.display()
                    ))
                })
                .collect()
            })
            .unwrap_or_default();
        fds.sort();
        format!("{:?}\nfds:\n{}", Census::take(pid), fds.join("\n"))
    }
}

/// Waits until the gateway holds exactly `expected` (cleanup of a dead server is
/// asynchronous), and fails with the details otherwise.
async fn assert_no_leak(gw: &mut GatewayUnderTest, expected: &Census, after: &str) {
    let pid = gw.pid();
    let settled = eventually(Duration::from_secs(5), || Census::take(pid) == *expected).await;
    assert!(settled, "after {after}: expected {expected:?}, found {}", Census::describe(pid));
}

/// Kills the gateway's downstream process groups when a test ends, also by panicking: a
/// failed test SIGKILLs the gateway, which then cannot stop its servers itself. (On success
/// they are gone already.) Declare it after the gateway, so it is dropped first.
struct Reaper(u32);

impl Reaper {
    fn new(gw: &mut GatewayUnderTest) -> Reaper {
        Reaper(gw.pid())
    }
}

impl Drop for Reaper {
    fn drop(&mut self) {
        // Only while the gateway lives: its pid may have been reused once it is gone.
        let cmdline = std::fs::read_to_string(format!("/proc/{}/cmdline", self.0)).unwrap_or_default();
        if !pid_alive(self.0) || !cmdline.contains(mcpgw_bin()) {
            return;
        }
        kill_child_groups(self.0);
    }
}

/// A gateway with `faulty` (and more) plus a well-behaved `calm` server, both started.
async fn gateway_with(servers: &[(&str, Value)], args: &[&str], env: &[(&str, &str)]) -> GatewayUnderTest {
    let mut all: Vec<(&str, Value)> = servers.to_vec();
    all.push(("calm", fixture_server(&["--name", "calm"])));
    GatewayUnderTest::start_env(&all, &allow_all(), args, env).await
}

#[tokio::test]
async fn a_server_that_exits_at_startup_fails_fast_and_recovers_once_fixed() {
    let faulty = fixture_server(&["--name", "faulty", "--startup", "exit"]);
    let mut gw = gateway_with(&[("faulty", faulty)], &[], &[]).await;
    let _reaper = Reaper::new(&mut gw);
    let calm = server_pid(&gw, "calm").await;
    let base = Census::take(gw.pid());
    assert_eq!(base.children, BTreeSet::from([calm]));
    for attempt in 0..4 {
        // SERVER_UNAVAILABLE, not TIMEOUT: the call did not wait out its 3000 ms budget.
        let r = gw.call("execute_tool", exec_within("faulty", "echo", json!({"text": "x"}), 3000)).await;
        assert_eq!(error_code(&r).as_deref(), Some("SERVER_UNAVAILABLE"), "attempt {attempt}: {r:?}");
        let r = gw.call("get_server_tools", json!({"agent_id": "dev", "server": "faulty"})).await;
        assert_eq!(error_code(&r).as_deref(), Some("SERVER_UNAVAILABLE"), "attempt {attempt}: {r:?}");
        assert_serves(&gw, "calm", "after a failed start").await;
    }
    assert_eq!(server_pid(&gw, "calm").await, calm, "the other server was never restarted");
    assert_no_leak(&mut gw, &base, "four failed starts").await;

    // Fixed in the config, the server starts on the next call.
    let fixed = [("faulty", fixture_server(&["--name", "faulty"])), ("calm", fixture_server(&["--name", "calm"]))];
    gw.files.write(".mcp.json", mcp_json(&fixed));
    let mut recovered = None;
    let deadline = Instant::now() + Duration::from_secs(10);
    while recovered.is_none() && Instant::now() < deadline {
        let r = gw.call("execute_tool", exec("faulty", "pid", json!({}))).await;
        match error_code(&r) {
            None => recovered = Some(pid_of(&r)),
            Some(code) => {
                assert_eq!(code, "SERVER_UNAVAILABLE", "{r:?}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
    let recovered = recovered.expect("the fixed server never started");
    let mut expected = base.clone();
    expected.children.insert(recovered);
    expected.fds += 4;
    assert_no_leak(&mut gw, &expected, "the fixed server started").await;
    gw.client.close().await;
}

#[tokio::test]
async fn a_server_that_exits_mid_call_fails_the_call_and_is_restarted() {
    let mut gw = gateway_with(&[("faulty", fixture_server(&["--name", "faulty"]))], &[], &[]).await;
    let _reaper = Reaper::new(&mut gw);
    let first = server_pid(&gw, "faulty").await;
    let calm = server_pid(&gw, "calm").await;
    let base = Census::take(gw.pid());
    assert_eq!(base.children, BTreeSet::from([first, calm]));

    for round in 0..3 {
        let before = server_pid(&gw, "faulty").await;
        let in_flight = gw.call("execute_tool", exec_within("faulty", "sleep", json!({"ms": 20000}), 10000));
        let crash = async {
            // The crash goes out after the sleep is in flight on the same connection.
            tokio::time::sleep(Duration::from_millis(100)).await;
            gw.call("execute_tool", exec_within("faulty", "crash", json!({"code": 9}), 10000)).await
        };
        let (slept, crashed) = tokio::join!(in_flight, crash);
        // SERVER_UNAVAILABLE, not TIMEOUT: the crash ended both calls, not their 10 s budget.
        for r in [&slept, &crashed] {
            assert_eq!(error_code(r).as_deref(), Some("SERVER_UNAVAILABLE"), "round {round}: {r:?}");
            let msg = gateway_error(r)["message"].as_str().unwrap();
            assert!(msg.contains("exited with code 9"), "round {round}: {msg}");
        }
        assert_serves(&gw, "calm", "after a crash").await;
        assert!(wait_gone(before, Duration::from_secs(3)).await, "round {round}: the crashed pid {before} lingers");
        // Its descriptors are released at once, not at the next call (which may never come).
        let dead = Census { fds: base.fds - 4, children: BTreeSet::from([calm]) };
        assert_no_leak(&mut gw, &dead, &format!("crash {round}, before the restart")).await;
        // The next call restarts it (the first crash in a row has no backoff; later ones may).
        let mut after = None;
        let deadline = Instant::now() + Duration::from_secs(8);
        while after.is_none() && Instant::now() < deadline {
            let r = gw.call("execute_tool", exec("faulty", "pid", json!({}))).await;
            match error_code(&r) {
                None => after = Some(pid_of(&r)),
                Some(code) => {
                    assert_eq!(code, "SERVER_UNAVAILABLE", "{r:?}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
        let after = after.unwrap_or_else(|| panic!("round {round}: never restarted"));
        assert_ne!(after, before);
        let expected = Census { fds: base.fds, children: BTreeSet::from([after, calm]) };
        assert_no_leak(&mut gw, &expected, &format!("crash {round}")).await;
    }
    let s = gw.status(Some("dev")).await;
    assert_eq!(s["servers"][0]["restarts"], 3, "{s}");
    assert_eq!(s["servers"][1]["restarts"], 0, "{s}");
    gw.client.close().await;
}

#[tokio::test]
async fn a_server_that_hangs_times_out_and_keeps_serving_other_calls() {
    let servers = [
        ("faulty", fixture_server(&["--name", "faulty"])),
        ("mute", fixture_server(&["--name", "mute", "--startup", "hang"])),
    ];
    let mut gw = gateway_with(&servers, &[], &[]).await;
    let _reaper = Reaper::new(&mut gw);
    let faulty = server_pid(&gw, "faulty").await;
    let calm = server_pid(&gw, "calm").await;
    let base = Census::take(gw.pid());

    // A tool that never answers (and ignores cancellation), several times over, while the
    // other server and the same server's other tools keep answering: both answer while the
    // hung call is still pending, and the hung call then ends in TIMEOUT.
    for round in 0..5 {
        let hang = gw.call("execute_tool", exec_within("faulty", "hang", json!({}), 2000));
        tokio::pin!(hang);
        let others = async {
            tokio::time::sleep(Duration::from_millis(50)).await;
            assert_serves(&gw, "calm", "while another server hangs").await;
            assert_serves(&gw, "faulty", "while one of its calls hangs").await;
        };
        tokio::select! {
            biased;
            r = &mut hang => panic!("round {round}: the hung call ended before the other servers answered: {r:?}"),
            () = others => {}
        }
        let r = hang.await;
        assert_eq!(error_code(&r).as_deref(), Some("TIMEOUT"), "round {round}: {r:?}");
    }
    assert_eq!(server_pid(&gw, "faulty").await, faulty, "a timeout is not a reason to restart");
    assert_no_leak(&mut gw, &base, "five hung calls").await;

    // A server that never answers `initialize`: the start times out and its process goes.
    for round in 0..2 {
        let r = gw.call("execute_tool", exec_within("mute", "echo", json!({"text": "x"}), 500)).await;
        let code = error_code(&r).unwrap_or_default();
        assert!(code == "TIMEOUT" || code == "SERVER_UNAVAILABLE", "round {round}: {r:?}");
        assert_serves(&gw, "calm", "after a start that hung").await;
    }
    let expected = Census { fds: base.fds, children: BTreeSet::from([faulty, calm]) };
    assert_no_leak(&mut gw, &expected, "two starts that hung").await;
    gw.client.close().await;
}

/// A shell command that writes junk to stdout (invalid UTF-8, partial and deeply nested JSON,
/// JSON that is not a message, a long line) and then becomes the fixture.
fn junk_then_fixture(name: &str) -> Value {
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let script = format!(
        "printf '\\377\\376 binary junk\\n{{\"jsonrpc\":\"2.0\",\"id\":\\n42\\n[]\\n{{\"not\":\"a message\"}}\\n{deep}\\n'; \
         head -c 3000000 /dev/zero | tr '\\0' 'j'; echo; exec \"$0\" --name {name}"
    );
    json!({"command": "sh", "args": ["-c", script, fixture_bin()]})
}

#[tokio::test]
async fn garbage_on_stdout_is_skipped_and_the_server_keeps_working() {
    let servers = [
        ("faulty", fixture_server(&["--name", "faulty", "--startup", "garbage"])),
        ("junky", junk_then_fixture("junky")),
        // Nothing but junk, forever: it can never answer `initialize`.
        ("babbler", json!({"command": "yes", "args": ["this is not JSON-RPC"]})),
    ];
    let mut gw = gateway_with(&servers, &[], &[]).await;
    let _reaper = Reaper::new(&mut gw);
    let faulty = server_pid(&gw, "faulty").await;
    let junky = server_pid(&gw, "junky").await;
    let calm = server_pid(&gw, "calm").await;
    let base = Census::take(gw.pid());
    for _ in 0..20 {
        let r = gw.call("execute_tool", exec("faulty", "garbage", json!({}))).await;
        assert_eq!(first_text(&r), "ok", "{r:?}");
    }
    assert_serves(&gw, "faulty", "after 20 lines of garbage").await;
    assert_serves(&gw, "junky", "after junk at startup").await;
    assert_eq!(server_pid(&gw, "faulty").await, faulty);
    assert_eq!(server_pid(&gw, "junky").await, junky);

    let r = gw.call("execute_tool", exec_within("babbler", "echo", json!({"text": "x"}), 1500)).await;
    let code = error_code(&r).unwrap_or_default();
    assert!(code == "TIMEOUT" || code == "SERVER_UNAVAILABLE", "{r:?}");
    assert_serves(&gw, "calm", "after a babbling server").await;
    assert_no_leak(&mut gw, &base, "garbage").await;
    // The junk is rate-limited in the gateway's log: `yes` writes millions of lines a second.
    let junk_lines = gw.client.child().stderr().count_lines_containing("this is not JSON-RPC");
    assert!(junk_lines < 200, "{junk_lines} log lines of junk from one server in 1.5 s");
    assert_eq!(Census::take(gw.pid()).children, BTreeSet::from([faulty, junky, calm]));
    gw.client.close().await;
}

#[tokio::test]
async fn a_server_that_floods_stderr_is_drained_and_the_log_stays_small() {
    let mut gw = gateway_with(&[("faulty", fixture_server(&["--name", "faulty"]))], &[], &[]).await;
    let _reaper = Reaper::new(&mut gw);
    let faulty = server_pid(&gw, "faulty").await;
    server_pid(&gw, "calm").await;
    let base = Census::take(gw.pid());
    // 100,000 lines of 200 bytes: 20 MB, far more than a pipe holds.
    const LINES: usize = 100_000;
    let line = format!("FLOOD-{}", "e".repeat(194));
    let flood = gw.call("execute_tool", exec_within("faulty", "stderr", json!({"text": line, "lines": LINES}), 20_000));
    let during = async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        for _ in 0..5 {
            assert_serves(&gw, "calm", "during a stderr flood").await;
        }
    };
    let started = Instant::now();
    let (r, ()) = tokio::join!(flood, during);
    assert_eq!(first_text(&r), "ok", "{r:?}");
    eprintln!("20 MB of stderr drained in {:?}", started.elapsed());
    assert_serves(&gw, "faulty", "after flooding stderr").await;
    assert_eq!(server_pid(&gw, "faulty").await, faulty);
    // The fixture answered `ok` only once every line was in the pipe, within the 20 s budget,
    // so the gateway had read all but a pipe's worth (64 KiB, ~330 lines) by then. At 50 lines
    // a second that is at most ~22 windows x 50 + ~330, about 1,500 lines logged however
    // slowly the flood went; a twentieth of what was sent leaves a wide margin.
    let logged = gw.client.child().stderr().count_lines_containing("FLOOD-");
    assert!(logged <= LINES / 20, "{logged} of {LINES} flood lines in the gateway's log");
    // The count of dropped lines is logged when the one-second window ends, even though the
    // server has gone quiet by then.
    let said = gw.client.child().stderr().wait_for_line("more lines not logged (rate limit)", Duration::from_secs(5));
    assert!(said.await.is_some(), "the log says lines were dropped");
    assert_no_leak(&mut gw, &base, "a stderr flood").await;
    gw.client.close().await;
}

/// Peak resident memory of a process, from `VmHWM` in `/proc/PID/status`, in bytes.
fn peak_rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kb = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .unwrap_or(0);
    kb * 1024
}

/// The size of the big result: 100 MB.
const HUNDRED_MB: usize = 100_000_000;

/// A minimal MCP server in POSIX shell whose `big` tool answers with 100 MB of `x` made by
/// `head | tr`. The fixture builds such a result far too slowly in a debug build; this one
/// streams it at pipe speed. It answers `initialize`, `tools/list` and `tools/call` by the
/// request's numeric id and ignores notifications.
fn hundred_mb_server() -> Value {
    let script = format!(
        r#"while IFS= read -r line; do
  id=$(printf '%s\n' "$line" | sed -n 's/^.*"id":\([0-9][0-9]*\).*$/\1/p')
  case "$line" in
    *'"method":"initialize"'*) printf '{{"jsonrpc":"2.0","id":%s,"result":{{"protocolVersion":"2025-06-18","capabilities":{{"tools":{{}}}},"serverInfo":{{"name":"sh","version":"1"}}}}}}\n' "$id" ;;
    *'"method":"tools/list"'*) printf '{{"jsonrpc":"2.0","id":%s,"result":{{"tools":[{{"name":"big","inputSchema":{{"type":"object"}}}},{{"name":"echo","inputSchema":{{"type":"object"}}}}]}}}}\n' "$id" ;;
    *'"name":"big"'*) printf '{{"jsonrpc":"2.0","id":%s,"result":{{"content":[{{"type":"text","text":"' "$id"; head -c {HUNDRED_MB} /dev/zero | tr '\0' x; printf '"}}]}}}}\n' ;;
    *'"name":"echo"'*) printf '{{"jsonrpc":"2.0","id":%s,"result":{{"content":[{{"type":"text","text":"echo from pid %s"}}]}}}}\n' "$id" "$$" ;;
  esac
done"#
    );
    json!({"command": "sh", "args": ["-c", script]})
}

#[tokio::test]
async fn a_100_mb_result_over_the_cap_is_refused_without_buffering_it() {
    // The cap is lowered to 8 MiB (the default is 128 MiB) to show that an oversized reply is
    // skipped as it streams in, never held in memory, and that the connection survives it.
    let env = [("MCPGW_TEST_MAX_MESSAGE_BYTES", "8388608")];
    let mut gw = gateway_with(&[("faulty", hundred_mb_server())], &[], &env).await;
    let _reaper = Reaper::new(&mut gw);
    let hello = first_text(&gw.call("execute_tool", exec("faulty", "echo", json!({}))).await);
    assert!(hello.starts_with("echo from pid "), "{hello}");
    server_pid(&gw, "calm").await;
    let base = Census::take(gw.pid());
    for round in 0..2 {
        let started = Instant::now();
        let big = gw.call("execute_tool", exec_within("faulty", "big", json!({}), 20_000));
        let during = async {
            tokio::time::sleep(Duration::from_millis(50)).await;
            assert_serves(&gw, "calm", "while a 100 MB reply streams in").await;
        };
        let (r, _) = tokio::join!(big, during);
        let e = gateway_error(&r);
        assert_eq!(e["code"], "DOWNSTREAM_ERROR", "round {round}: {r:?}");
        let msg = e["message"].as_str().unwrap();
        assert!(msg.contains("exceeds the limit of 8388608 bytes"), "{msg}");
        eprintln!("a 100 MB reply refused in {:?}", started.elapsed());
    }
    // The reply was skipped, not the connection: the same process answers.
    let r = gw.call("execute_tool", exec("faulty", "echo", json!({}))).await;
    assert_eq!(first_text(&r), hello, "{r:?}");
    let peak = peak_rss(gw.pid());
    assert!(peak < 64 * 1024 * 1024, "the gateway's peak RSS was {} MiB: it buffered the reply", peak >> 20);
    assert_no_leak(&mut gw, &base, "two 100 MB replies").await;
    gw.client.close().await;
}

#[tokio::test]
async fn a_100_mb_result_under_the_default_cap_passes_through_intact() {
    let mut gw = gateway_with(&[("faulty", hundred_mb_server())], &[], &[]).await;
    let _reaper = Reaper::new(&mut gw);
    let hello = first_text(&gw.call("execute_tool", exec("faulty", "echo", json!({}))).await);
    server_pid(&gw, "calm").await;
    let base = Census::take(gw.pid());
    let started = Instant::now();
    let r = gw.call("execute_tool", exec_within("faulty", "big", json!({}), 60_000)).await;
    assert_eq!(error_code(&r), None, "{:?}", r.structured_content);
    let text = &r.content[0].as_text().expect("a text block").text;
    assert!(text.len() == HUNDRED_MB && text.bytes().all(|b| b == b'x'), "the 100 MB result did not arrive intact");
    drop(r);
    eprintln!("a 100 MB result passed through in {:?}", started.elapsed());
    assert_serves(&gw, "calm", "after a 100 MB result").await;
    let r = gw.call("execute_tool", exec("faulty", "echo", json!({}))).await;
    assert_eq!(first_text(&r), hello, "{r:?}");
    assert_no_leak(&mut gw, &base, "a 100 MB result").await;
    gw.client.close().await;
}

#[tokio::test]
async fn a_notification_storm_does_not_starve_other_calls() {
    const COUNT: u32 = 5_000;
    let mut gw = gateway_with(&[("faulty", fixture_server(&["--name", "faulty"]))], &[], &[]).await;
    let _reaper = Reaper::new(&mut gw);
    let faulty = server_pid(&gw, "faulty").await;
    server_pid(&gw, "calm").await;
    let base = Census::take(gw.pid());

    // With a progress token (every rmcp request has one), the storm is progress for the caller.
    let call = gw
        .client
        .start_call(
            "execute_tool",
            exec_within("faulty", "storm", json!({"count": COUNT}), 30_000),
            PeerRequestOptions::no_options(),
        )
        .await
        .unwrap();
    let token = call.progress_token().clone();
    let during = async {
        for _ in 0..10 {
            assert_serves(&gw, "calm", "during a notification storm").await;
        }
    };
    let started = Instant::now();
    let (r, ()) = tokio::join!(call.result(), during);
    let r = r.expect("the storm call answers");
    assert_eq!(first_text(&r), "ok", "{r:?}");
    eprintln!("a storm of {COUNT} notifications took {:?}", started.elapsed());
    let forwarded = gw.client.recorder().progress_for(&token);
    assert!(forwarded.len() <= COUNT as usize, "{} notifications forwarded", forwarded.len());
    assert!(forwarded.windows(2).all(|w| w[0].progress < w[1].progress), "progress only goes forward");

    // Without a progress token the fixture storms with log messages instead.
    let storm = gw.call("execute_tool", exec_within("faulty", "storm", json!({"count": COUNT}), 30_000));
    let during = async {
        for _ in 0..10 {
            assert_serves(&gw, "calm", "during a storm of log messages").await;
        }
    };
    let started = Instant::now();
    let (r, ()) = tokio::join!(storm, during);
    assert_eq!(first_text(&r), "ok", "{r:?}");
    eprintln!("a storm of {COUNT} log messages took {:?}", started.elapsed());
    assert_serves(&gw, "faulty", "after two storms").await;
    assert_eq!(server_pid(&gw, "faulty").await, faulty);
    assert_no_leak(&mut gw, &base, "two notification storms").await;
    gw.client.close().await;
}

#[tokio::test]
async fn a_server_that_closes_stdout_but_keeps_running_is_replaced() {
    let mut gw = gateway_with(&[("faulty", fixture_server(&["--name", "faulty"]))], &[], &[]).await;
    let _reaper = Reaper::new(&mut gw);
    let calm = server_pid(&gw, "calm").await;
    let mut current = server_pid(&gw, "faulty").await;
    let base = Census::take(gw.pid());
    for round in 0..2 {
        // SERVER_UNAVAILABLE, not TIMEOUT: the EOF was noticed, not the 5000 ms budget.
        let r = gw.call("execute_tool", exec_within("faulty", "close_stdout", json!({}), 5000)).await;
        assert_eq!(error_code(&r).as_deref(), Some("SERVER_UNAVAILABLE"), "round {round}: {r:?}");
        assert_serves(&gw, "calm", "after a server went mute").await;
        // The mute process was alive; the gateway stops it at once, not at the next call.
        assert!(wait_gone(current, Duration::from_secs(4)).await, "round {round}: mute pid {current} left running");
        let dead = Census { fds: base.fds - 4, children: BTreeSet::from([calm]) };
        assert_no_leak(&mut gw, &dead, &format!("closed stdout {round}, before the restart")).await;
        let mut next = None;
        let deadline = Instant::now() + Duration::from_secs(8);
        while next.is_none() && Instant::now() < deadline {
            let r = gw.call("execute_tool", exec("faulty", "pid", json!({}))).await;
            match error_code(&r) {
                None => next = Some(pid_of(&r)),
                Some(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
        let next = next.unwrap_or_else(|| panic!("round {round}: never restarted"));
        assert!(pid_alive(next) && next != current);
        current = next;
        let expected = Census { fds: base.fds, children: BTreeSet::from([current, calm]) };
        assert_no_leak(&mut gw, &expected, &format!("closed stdout {round}")).await;
    }
    gw.client.close().await;
}
