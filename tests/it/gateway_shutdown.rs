//! Shutdown (DESIGN.md section 6): when its client closes stdin, or on SIGINT or SIGTERM, the
//! gateway exits within 5 s and leaves no process behind: every downstream child is gone, and
//! so is the grandchild that `mcpgw-fixture --startup grandchild` leaves in its process group.

use std::time::{Duration, Instant};

use crate::support::procfs::{pid_alive, wait_gone};
use crate::support::*;
use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;
use serde_json::{Value, json};

/// Kills whatever a failed test left running, so a failure does not leak processes.
struct Reaper(Vec<u32>);

impl Drop for Reaper {
    fn drop(&mut self) {
        for &pid in &self.0 {
            if pid_alive(pid) {
                let _ = killpg(Pid::from_raw(pid as i32), Signal::SIGKILL);
                let _ = kill(Pid::from_raw(pid as i32), Signal::SIGKILL);
            }
        }
    }
}

/// Starts a gateway with two downstreams (one with a grandchild), starts both, and leaves a
/// slow call in flight. Returns the gateway and every downstream pid (children, grandchild).
async fn busy_gateway() -> (GatewayUnderTest, Vec<u32>) {
    let servers = [
        ("family", fixture_server(&["--name", "family", "--startup", "grandchild"])),
        ("plain", fixture_server(&["--name", "plain"])),
    ];
    let rules = allow_all();
    let gw = GatewayUnderTest::start(&servers, &rules, &[]).await;
    let mut pids = Vec::new();
    for server in ["family", "plain"] {
        let r = gw.call("execute_tool", json!({"agent_id": "dev", "server": server, "tool": "pid"})).await;
        let s = structured(&r).clone();
        pids.push(s["pid"].as_u64().unwrap() as u32);
        if let Some(g) = s["grandchild"].as_u64() {
            pids.push(g as u32);
        }
    }
    assert_eq!(pids.len(), 3, "two children and one grandchild: {pids:?}");
    for &pid in &pids {
        assert!(pid_alive(pid), "{pid} should be running");
    }
    (gw, pids)
}

/// Leaves a call in flight on `plain` (it sleeps far longer than the test), so shutdown has to
/// cut it short.
async fn start_slow_call(gw: &GatewayUnderTest) {
    let args = json!({"agent_id": "dev", "server": "plain", "tool": "sleep", "args": {"ms": 60000}});
    std::mem::forget(
        gw.client.start_call("execute_tool", args, rmcp::service::PeerRequestOptions::no_options()).await.unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let s = gw.status(Some("dev")).await;
        let busy: u64 = s["servers"].as_array().unwrap().iter().map(|s| s["in_flight"].as_u64().unwrap()).sum();
        if busy > 0 {
            return;
        }
        assert!(Instant::now() < deadline, "the slow call never started");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn assert_all_gone(pids: &[u32]) {
    for &pid in pids {
        // They must already be gone when the gateway has exited; allow a moment for the
        // kernel to reap what was killed last.
        assert!(wait_gone(pid, Duration::from_millis(500)).await, "pid {pid} outlived the gateway");
    }
}

fn signal_test_status(status: std::process::ExitStatus) -> Value {
    json!({"code": status.code(), "success": status.success()})
}

#[tokio::test]
async fn closing_stdin_stops_the_gateway_and_every_downstream() {
    let (mut gw, pids) = busy_gateway().await;
    let gw_pid = gw.pid();
    let _reaper = Reaper([pids.clone(), vec![gw_pid]].concat());
    start_slow_call(&gw).await;
    let mut child = gw.client.disconnect().await.expect("a child process");
    let status = child.wait_exit(Duration::from_secs(5)).await;
    let status =
        status.unwrap_or_else(|| panic!("the gateway did not exit within 5 s; stderr:\n{}", child.stderr().text()));
    assert!(status.success(), "{}: {}", signal_test_status(status), child.stderr().text());
    assert_all_gone(&pids).await;
}

async fn signal_stops_everything(signal: Signal) {
    let (mut gw, pids) = busy_gateway().await;
    let gw_pid = gw.pid();
    let _reaper = Reaper([pids.clone(), vec![gw_pid]].concat());
    start_slow_call(&gw).await;
    kill(Pid::from_raw(gw_pid as i32), signal).unwrap();
    let child = gw.client.child();
    let status = child.wait_exit(Duration::from_secs(5)).await;
    let status = status.unwrap_or_else(|| panic!("{signal}: no exit within 5 s; stderr:\n{}", child.stderr().text()));
    assert!(status.success(), "{signal}: {}", signal_test_status(status));
    // The pipe may still be draining after the exit.
    let said = child.stderr().wait_for_line(&format!("{signal}"), Duration::from_secs(5)).await;
    assert!(said.is_some(), "{signal}: the log should say why it stopped:\n{}", child.stderr().text());
    assert_all_gone(&pids).await;
}

#[tokio::test]
async fn sigterm_stops_the_gateway_and_every_downstream() {
    signal_stops_everything(Signal::SIGTERM).await;
}

#[tokio::test]
async fn sigint_stops_the_gateway_and_every_downstream() {
    signal_stops_everything(Signal::SIGINT).await;
}

#[tokio::test]
async fn removing_a_server_from_the_config_stops_its_process_group() {
    let (gw, pids) = busy_gateway().await;
    let _reaper = Reaper(pids.clone());
    let plain = fixture_server(&["--name", "plain"]);
    gw.files.write(".mcp.json", mcp_json(&[("plain", plain)]));
    // `family` (pids[0] and its grandchild pids[1]) is removed; `plain` is unchanged.
    assert!(wait_gone(pids[0], Duration::from_secs(5)).await, "the removed server kept running");
    assert!(wait_gone(pids[1], Duration::from_secs(2)).await, "the removed server's grandchild kept running");
    assert!(pid_alive(pids[2]), "an unchanged server must keep running");
    gw.client.close().await;
}

#[tokio::test]
async fn a_client_that_closes_stdin_right_after_its_requests_still_gets_answers() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let files = TempFiles::new();
    let rules = allow_all();
    let spawn = gateway_spawn(&files, &[("s", fixture_server(&[]))], &rules, &[]);
    let mut child = spawn.spawn().unwrap();
    let _reaper = Reaper(vec![child.pid()]);
    let (mut stdout, mut stdin) = child.take_pipes().unwrap();
    let requests = [
        json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "pipe", "version": "1"}}}),
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
        json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "execute_tool", "arguments": {"agent_id": "dev", "server": "s", "tool": "echo", "args": {"text": "piped"}}}}),
    ];
    let text: String = requests.iter().map(|r| format!("{r}\n")).collect();
    stdin.write_all(text.as_bytes()).await.unwrap();
    drop(stdin);
    let mut out = String::new();
    let read = tokio::time::timeout(Duration::from_secs(5), stdout.read_to_string(&mut out)).await;
    assert!(read.is_ok(), "stdout was not closed within 5 s");
    let status = child.wait_exit(Duration::from_secs(5)).await.expect("the gateway exits");
    assert!(status.success());
    let answer = out
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|m| m["id"] == 2)
        .unwrap_or_else(|| panic!("no answer to the call: {out}"));
    assert_eq!(answer["result"]["content"][0]["text"], "piped", "{answer}");
}
