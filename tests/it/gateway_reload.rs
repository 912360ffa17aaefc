//! Hot reload (DESIGN.md section 7, issue 5), through the real `mcpgw` binary: rules edits
//! change decisions; a broken, emptied or deleted file keeps the last good snapshot and shows
//! the error in `get_gateway_status`; editors' atomic saves are seen; `.mcp.json` changes add,
//! remove and restart servers; SIGHUP reloads; and under load, while the rules are rewritten
//! again and again, every answer is the one some snapshot gives, never an error.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::{Duration, Instant};

use crate::support::*;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::{Value, json};

const RELOAD_WAIT: Duration = Duration::from_secs(5);

/// `dev` may use `echo` and, when `add` is true, `add`.
fn policy(add: bool) -> Value {
    let tools: Vec<&str> = if add { vec!["echo", "add", "sleep"] } else { vec!["echo", "sleep"] };
    json!({"agents": {"dev": {"allow": {"servers": ["*"], "tools": {"tools": tools}}}}})
}

fn add_call() -> Value {
    json!({"agent_id": "dev", "server": "tools", "tool": "add", "args": {"a": 20, "b": 22}})
}

async fn start(rules: &Value, args: &[&str]) -> GatewayUnderTest {
    GatewayUnderTest::start(&[("tools", fixture_server(&["--name", "tools"]))], rules, args).await
}

async fn snapshot(gw: &GatewayUnderTest) -> String {
    gw.status(Some("dev")).await["policy"]["snapshot"].as_str().unwrap().to_owned()
}

/// Polls `get_gateway_status` until `check` holds for its `reload` section.
async fn wait_reload(gw: &GatewayUnderTest, what: &str, check: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + RELOAD_WAIT;
    loop {
        let s = gw.status(Some("dev")).await;
        if check(&s["reload"]) {
            return s;
        }
        assert!(Instant::now() < deadline, "{what}: never happened; status: {s:#}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits until `add` is allowed (`true`) or denied (`false`).
async fn wait_add_allowed(gw: &GatewayUnderTest, allowed: bool) {
    let deadline = Instant::now() + RELOAD_WAIT;
    loop {
        let r = gw.call("execute_tool", add_call()).await;
        match error_code(&r).as_deref() {
            None if allowed => {
                assert_eq!(r.structured_content, Some(json!({"sum": 42})));
                return;
            }
            Some("DENIED_BY_POLICY") if !allowed => return,
            None | Some("DENIED_BY_POLICY") => {}
            Some(other) => panic!("unexpected {other}: {r:?}"),
        }
        assert!(Instant::now() < deadline, "the reload to allowed={allowed} never took effect");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn write_json(path: &Path, v: &Value) {
    std::fs::write(path, serde_json::to_string_pretty(v).unwrap()).unwrap();
}

#[tokio::test]
async fn editing_the_rules_changes_decisions() {
    let gw = start(&policy(false), &[]).await;
    let before = snapshot(&gw).await;
    let r = gw.call("execute_tool", add_call()).await;
    assert_eq!(error_code(&r).as_deref(), Some("DENIED_BY_POLICY"));
    write_json(&gw.rules_path(), &policy(true));
    wait_add_allowed(&gw, true).await;
    let s = gw.status(Some("dev")).await;
    assert_ne!(s["policy"]["snapshot"], before.as_str(), "a new snapshot serves");
    assert_eq!(s["reload"]["rules"]["failures"], 0);
    assert!(s["reload"]["rules"]["attempts"].as_u64().unwrap() >= 2, "{s}");
    // And back.
    write_json(&gw.rules_path(), &policy(false));
    wait_add_allowed(&gw, false).await;
    assert_eq!(snapshot(&gw).await, before, "the same policy has the same snapshot id");
    gw.client.close().await;
}

#[tokio::test]
async fn a_broken_rules_file_keeps_the_old_snapshot_and_reports_the_error() {
    let gw = start(&policy(true), &[]).await;
    let good = snapshot(&gw).await;
    let broken: [(&str, &str); 3] = [
        ("syntax", "{\"agents\": {\"dev\": {\"allow\": {\"servers\": [\"*\",]}}}}"),
        ("unknown field", "{\"agents\": {\"dev\": {\"alow\": {}}}}"),
        ("empty", ""),
    ];
    for (n, (what, text)) in broken.iter().enumerate() {
        std::fs::write(gw.rules_path(), text).unwrap();
        let s = wait_reload(&gw, what, |r| r["rules"]["failures"].as_u64() == Some(n as u64 + 1)).await;
        let rules = &s["reload"]["rules"];
        let error = rules["last_error"].as_str().unwrap_or_else(|| panic!("{what}: no last_error in {rules}"));
        assert!(error.contains("rules.json"), "{what}: the error names the file: {error}");
        if *what != "empty" {
            assert!(error.contains("rules.json:1:"), "{what}: the error has a location: {error}");
        }
        assert!(
            !error.contains(gw.files.path().to_str().unwrap()),
            "{what}: without --debug the status shows no config path: {error}"
        );
        assert_eq!(s["policy"]["snapshot"], good.as_str(), "{what}: the old snapshot keeps serving");
        let r = gw.call("execute_tool", add_call()).await;
        assert_eq!(r.structured_content, Some(json!({"sum": 42})), "{what}: old decisions stand: {r:?}");
        let r = gw.call("execute_tool", json!({"agent_id": "dev", "server": "tools", "tool": "crash"})).await;
        assert_eq!(error_code(&r).as_deref(), Some("DENIED_BY_POLICY"), "{what}: never allow-all: {r:?}");
    }
    // Fixing the file clears the error and applies the new policy.
    write_json(&gw.rules_path(), &policy(false));
    wait_add_allowed(&gw, false).await;
    let s = gw.status(Some("dev")).await;
    assert!(s["reload"]["rules"]["last_error"].is_null(), "{s}");
    assert!(s["reload"]["rules"]["last_success"].is_string());
    gw.client.close().await;
}

#[tokio::test]
async fn with_debug_the_status_shows_the_full_error() {
    let gw = start(&policy(true), &["--debug"]).await;
    std::fs::write(gw.rules_path(), "{\"agents\": {\"dev\": {\"alow\": {}}}}").unwrap();
    let s = wait_reload(&gw, "failure", |r| r["rules"]["failures"] == 1).await;
    let error = s["reload"]["rules"]["last_error"].as_str().unwrap();
    assert!(error.contains(&gw.rules_path().display().to_string()), "{error}");
    assert!(error.contains("alow"), "{error}");
    gw.client.close().await;
}

#[tokio::test]
async fn deleting_and_recreating_the_rules_file() {
    let gw = start(&policy(true), &[]).await;
    std::fs::remove_file(gw.rules_path()).unwrap();
    let s = wait_reload(&gw, "the failed reload of a deleted file", |r| r["rules"]["failures"] == 1).await;
    assert!(s["reload"]["rules"]["last_error"].is_string(), "{s}");
    let r = gw.call("execute_tool", add_call()).await;
    assert_eq!(r.structured_content, Some(json!({"sum": 42})), "a deleted file keeps the old policy: {r:?}");
    write_json(&gw.rules_path(), &policy(false));
    wait_add_allowed(&gw, false).await;
    let s = gw.status(Some("dev")).await;
    assert!(s["reload"]["rules"]["last_error"].is_null(), "{s}");
    gw.client.close().await;
}

#[tokio::test]
async fn editor_style_atomic_saves_are_seen() {
    let gw = start(&policy(false), &[]).await;
    let rules = gw.rules_path();
    // Write a temporary file, then rename it over the original.
    let tmp = gw.files.file_path(".rules.json.swp");
    write_json(&tmp, &policy(true));
    std::fs::rename(&tmp, &rules).unwrap();
    wait_add_allowed(&gw, true).await;
    // Move the original away as a backup, then write a new file in its place.
    std::fs::rename(&rules, gw.files.file_path("rules.json~")).unwrap();
    write_json(&rules, &policy(false));
    wait_add_allowed(&gw, false).await;
    gw.client.close().await;
}

#[tokio::test]
async fn sighup_reloads_a_change_the_watcher_cannot_see() {
    // The rules file is a symlink into another directory: editing the target there makes no
    // event in the directory that is watched, so only SIGHUP picks the change up.
    let files = TempFiles::new();
    let spawn = gateway_spawn(&files, &[("tools", fixture_server(&[]))], &policy(false), &[]);
    let real = files.file_path("elsewhere/rules.json");
    std::fs::create_dir_all(real.parent().unwrap()).unwrap();
    write_json(&real, &policy(false));
    std::fs::remove_file(files.file_path("rules.json")).unwrap();
    std::os::unix::fs::symlink(&real, files.file_path("rules.json")).unwrap();
    let mut gw = GatewayUnderTest::from_spawn(files, &spawn).await;
    write_json(&real, &policy(true));
    tokio::time::sleep(Duration::from_millis(400)).await;
    let r = gw.call("execute_tool", add_call()).await;
    assert_eq!(error_code(&r).as_deref(), Some("DENIED_BY_POLICY"), "no reload without SIGHUP: {r:?}");
    let pid = gw.pid();
    kill(Pid::from_raw(pid as i32), Signal::SIGHUP).unwrap();
    wait_add_allowed(&gw, true).await;
    let s = gw.status(Some("dev")).await;
    assert_eq!(s["reload"]["rules"]["attempts"], 2, "{s}");
    assert_eq!(s["reload"]["mcp_config"]["attempts"], 2, "SIGHUP reloads both files: {s}");
    gw.client.close().await;
}

#[tokio::test]
async fn mcp_config_changes_add_remove_and_restart_servers() {
    let rules = allow_all();
    let servers = [
        ("keep", fixture_server(&["--name", "keep"])),
        ("change", fixture_server(&["--name", "change"])),
        ("drop", fixture_server(&["--name", "drop"])),
    ];
    let gw = GatewayUnderTest::start(&servers, &rules, &[]).await;
    let pid = |server: &'static str| {
        let gw = &gw;
        async move { pid_of(&gw.call("execute_tool", json!({"agent_id": "dev", "server": server, "tool": "pid"})).await) }
    };
    let (keep, change, drop) = (pid("keep").await, pid("change").await, pid("drop").await);

    let next = [
        ("added", json!({"command": fixture_bin(), "args": ["--name", "added"], "description": "new"})),
        ("keep", fixture_server(&["--name", "keep"])),
        ("change", fixture_server(&["--name", "change", "--extra-tools", "1"])),
    ];
    gw.files.write(".mcp.json", mcp_json(&next));
    let deadline = Instant::now() + RELOAD_WAIT;
    loop {
        let r = gw.call("list_servers", json!({"agent_id": "dev"})).await;
        if server_names(&r) == ["added", "keep", "change"] {
            assert_eq!(structured(&r)["servers"][0]["description"], "new");
            break;
        }
        assert!(Instant::now() < deadline, "the new config never applied: {r:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Added: started on first use.
    let r = gw.call("list_servers", json!({"agent_id": "dev", "include_metadata": true})).await;
    assert_eq!(structured(&r)["servers"][0]["status"], "not_started", "{r:?}");
    let r = gw
        .call("execute_tool", json!({"agent_id": "dev", "server": "added", "tool": "echo", "args": {"text": "hi"}}))
        .await;
    assert_eq!(first_text(&r), "hi", "{r:?}");
    // Removed: no new calls, and its process is stopped.
    let r = gw
        .call("execute_tool", json!({"agent_id": "dev", "server": "drop", "tool": "echo", "args": {"text": "x"}}))
        .await;
    assert_eq!(error_code(&r).as_deref(), Some("UNKNOWN_SERVER"), "{r:?}");
    assert!(crate::support::procfs::wait_gone(drop, RELOAD_WAIT).await, "the removed server kept running");
    // Changed: a new process with the new configuration.
    assert!(
        crate::support::procfs::wait_gone(change, RELOAD_WAIT).await,
        "the changed server's old process kept running"
    );
    assert_ne!(pid("change").await, change);
    let r = gw.call("get_server_tools", json!({"agent_id": "dev", "server": "change", "names": "extra_0"})).await;
    assert_eq!(tool_names(&r), ["extra_0"], "the restarted server runs with its new arguments");
    // Unchanged: the same connection.
    assert_eq!(pid("keep").await, keep);

    // A broken config keeps the servers as they are and reports the error.
    gw.files.write(".mcp.json", "{\"mcpServers\": {\"keep\": {\"command\": \"${MCPGW_TEST_SURELY_UNSET}\"}}}");
    let s = wait_reload(&gw, "mcp config failure", |r| r["mcp_config"]["failures"] == 1).await;
    let error = s["reload"]["mcp_config"]["last_error"].as_str().unwrap();
    assert!(error.contains("MCPGW_TEST_SURELY_UNSET"), "{error}");
    let r = gw.call("list_servers", json!({"agent_id": "dev"})).await;
    assert_eq!(server_names(&r), ["added", "keep", "change"]);
    assert_eq!(pid("keep").await, keep);
    gw.client.close().await;
}

#[tokio::test]
async fn a_call_in_flight_finishes_under_the_snapshot_it_started_with() {
    let gw = start(&policy(true), &[]).await;
    let old = snapshot(&gw).await;
    let slow =
        gw.call("execute_tool", json!({"agent_id": "dev", "server": "tools", "tool": "sleep", "args": {"ms": 1500}}));
    let change = async {
        // Once the call is under way, take `sleep` away from dev.
        let deadline = Instant::now() + RELOAD_WAIT;
        while gw.status(Some("dev")).await["servers"][0]["in_flight"] != 1 {
            assert!(Instant::now() < deadline);
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let rules = json!({"agents": {"dev": {"allow": {"servers": ["*"], "tools": {"tools": ["echo"]}}}}});
        write_json(&gw.rules_path(), &rules);
        let deadline = Instant::now() + RELOAD_WAIT;
        while snapshot(&gw).await == old {
            assert!(Instant::now() < deadline, "the reload never happened");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    let (r, ()) = tokio::join!(slow, change);
    assert_eq!(first_text(&r), "slept 1500", "{r:?}");
    let r = gw
        .call("execute_tool", json!({"agent_id": "dev", "server": "tools", "tool": "sleep", "args": {"ms": 1}}))
        .await;
    assert_eq!(error_code(&r).as_deref(), Some("DENIED_BY_POLICY"));
    let mut slept = None;
    eventually(Duration::from_secs(3), || {
        slept = gw.audit_lines().into_iter().find(|l| l["tool"] == "sleep" && l["outcome"] == "ok");
        slept.is_some()
    })
    .await;
    let slept = slept.expect("the slow call's audit line");
    assert_eq!(slept["snapshot"], old.as_str(), "audited under the snapshot that decided it");
    gw.client.close().await;
}

#[tokio::test]
async fn under_load_every_answer_matches_a_snapshot() {
    let gw = start(&policy(true), &[]).await;
    let rules = gw.rules_path();
    let stop = std::sync::atomic::AtomicBool::new(false);
    let writer = async {
        for i in 0..24 {
            let allow = i % 2 == 1;
            if i % 6 == 2 {
                // A slow, non-atomic save: the file is empty, then half written, long enough
                // for a reload to read it (and fail).
                std::fs::write(&rules, "").unwrap();
                tokio::time::sleep(Duration::from_millis(5)).await;
                std::fs::write(&rules, "{\"agents\": {\"dev\": ").unwrap();
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            write_json(&rules, &policy(allow));
            // Longer than the debounce, so most rewrites are reloads of their own.
            tokio::time::sleep(Duration::from_millis(170)).await;
        }
        stop.store(true, std::sync::atomic::Ordering::SeqCst);
    };
    let callers = (0..8).map(|_| {
        let (gw, stop) = (&gw, &stop);
        async move {
            let mut outcomes = BTreeMap::<String, u32>::new();
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                let r = gw.call("execute_tool", add_call()).await;
                let outcome = match error_code(&r) {
                    None => {
                        assert_eq!(r.structured_content, Some(json!({"sum": 42})), "{r:?}");
                        "ok".to_owned()
                    }
                    Some(code) => {
                        assert_eq!(code, "DENIED_BY_POLICY", "only the two policies' answers are possible: {r:?}");
                        code
                    }
                };
                *outcomes.entry(outcome).or_default() += 1;
            }
            outcomes
        }
    });
    let ((), results) = tokio::join!(writer, futures::future::join_all(callers));
    let mut total = BTreeMap::<String, u32>::new();
    for r in results {
        for (k, v) in r {
            *total.entry(k).or_default() += v;
        }
    }
    assert!(
        total.get("ok").is_some_and(|&n| n > 0) && total.get("DENIED_BY_POLICY").is_some_and(|&n| n > 0),
        "{total:?}"
    );
    let calls: u32 = total.values().sum();

    // Every audit line agrees with its snapshot: one decision per snapshot, and exactly two
    // snapshots (a half-written file never served).
    let lines = gw.wait_audit(calls as usize, Duration::from_secs(5)).await;
    let mut by_snapshot = BTreeMap::<String, BTreeSet<String>>::new();
    for l in lines.iter().filter(|l| l["operation"] == "execute_tool") {
        let snapshot = l["snapshot"].as_str().unwrap().to_owned();
        by_snapshot.entry(snapshot).or_default().insert(format!("{}/{}", l["decision"], l["outcome"]));
    }
    assert_eq!(by_snapshot.len(), 2, "{by_snapshot:?}");
    for (snapshot, decisions) in &by_snapshot {
        assert_eq!(decisions.len(), 1, "snapshot {snapshot} gave different answers: {decisions:?}");
    }
    let s = gw.status(Some("dev")).await;
    assert!(s["reload"]["rules"]["attempts"].as_u64().unwrap() >= 10, "{s}");
    assert!(s["reload"]["rules"]["failures"].as_u64().unwrap() >= 2, "the half-written files were read: {s}");
    eprintln!("{calls} calls: {total:?}; reloads: {}", s["reload"]["rules"]);
    gw.client.close().await;
}

#[tokio::test]
async fn a_removed_server_finishes_its_calls_in_flight_before_it_is_stopped() {
    let rules = allow_all();
    let servers =
        [("going", fixture_server(&["--name", "going"])), ("staying", fixture_server(&["--name", "staying"]))];
    let gw = GatewayUnderTest::start(&servers, &rules, &[]).await;
    let going = pid_of(&gw.call("execute_tool", json!({"agent_id": "dev", "server": "going", "tool": "pid"})).await);
    let slow =
        gw.call("execute_tool", json!({"agent_id": "dev", "server": "going", "tool": "sleep", "args": {"ms": 1500}}));
    let remove = async {
        let deadline = Instant::now() + RELOAD_WAIT;
        while gw.status(Some("dev")).await["servers"][0]["in_flight"] != 1 {
            assert!(Instant::now() < deadline);
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        gw.files.write(".mcp.json", mcp_json(&[("staying", fixture_server(&["--name", "staying"]))]));
        let deadline = Instant::now() + RELOAD_WAIT;
        loop {
            let r = gw.call("list_servers", json!({"agent_id": "dev"})).await;
            if server_names(&r) == ["staying"] {
                break;
            }
            assert!(Instant::now() < deadline, "the server was never removed");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // Removed from the config, but still running its call.
        assert!(crate::support::procfs::pid_alive(going), "stopped before its call finished");
    };
    let (r, ()) = tokio::join!(slow, remove);
    assert_eq!(first_text(&r), "slept 1500", "{r:?}");
    assert!(crate::support::procfs::wait_gone(going, RELOAD_WAIT).await, "the removed server was never stopped");
    gw.client.close().await;
}

#[tokio::test]
async fn reading_or_rewriting_the_same_content_does_not_reload() {
    // Reading a watched file (as `cat` does, and as every reload itself does) and writing
    // back the very same bytes are no reason to reload: once, each read started an endless
    // loop of reloads.
    let gw = start(&policy(false), &[]).await;
    let rules = gw.rules_path();
    let mcp = gw.mcp_path();
    for _ in 0..5 {
        let _ = std::fs::read(&rules).unwrap();
        let _ = std::fs::read(&mcp).unwrap();
    }
    let same = std::fs::read(&rules).unwrap();
    std::fs::write(&rules, &same).unwrap();
    let file = std::fs::File::options().append(true).open(&rules).unwrap();
    file.set_modified(std::time::SystemTime::now()).unwrap();
    drop(file);
    tokio::time::sleep(crate::support::RELOAD_SETTLE).await;
    let s = gw.status(Some("dev")).await;
    assert_eq!(s["reload"]["rules"]["attempts"], 1, "{s}");
    assert_eq!(s["reload"]["mcp_config"]["attempts"], 1, "{s}");
    // A real change still reloads, once.
    write_json(&rules, &policy(true));
    wait_add_allowed(&gw, true).await;
    tokio::time::sleep(crate::support::RELOAD_SETTLE).await;
    let s = gw.status(Some("dev")).await;
    assert_eq!(s["reload"]["rules"]["attempts"], 2, "one reload per change, none caused by its own read: {s}");
    gw.client.close().await;
}

#[tokio::test]
async fn a_call_keeps_the_snapshot_it_started_with() {
    // The call starts under a policy that knows `dev` and limits it; while it runs, the
    // policy is replaced by one that does not know `dev` at all. The call's decision, its
    // metrics key and its audit line all belong to the first policy.
    let servers = [("tools", fixture_server(&["--name", "tools"]))];
    let first = json!({"agents": {"dev": {"allow": {"servers": ["tools"]},
                                          "limits": {"max_concurrent_calls": 1, "requests_per_second": 100}}}});
    let gw = crate::support::http::HttpGateway::start(&servers, first).await;
    let client = gw.client(None).await;
    let r = client.call_tool("get_gateway_status", json!({"agent_id": "dev"})).await.unwrap();
    let old = structured(&r)["policy"]["snapshot"].as_str().unwrap().to_owned();
    let slow = client.call_tool(
        "execute_tool",
        json!({"agent_id": "dev", "server": "tools", "tool": "sleep", "args": {"ms": 1500}}),
    );
    let reload = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        write_json(&gw.files.file_path("rules.json"), &json!({"agents": {"ops": {"allow": {"servers": ["tools"]}}}}));
        // Until the reload lands, `dev` is still known.
        let deadline = Instant::now() + RELOAD_WAIT;
        loop {
            let r = client.call_tool("list_servers", json!({"agent_id": "dev"})).await.unwrap();
            if error_code(&r).as_deref() == Some("INVALID_AGENT_ID") {
                break;
            }
            assert!(Instant::now() < deadline, "the reload never happened: {r:?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    let (slept, ()) = tokio::join!(slow, reload);
    let slept = slept.unwrap();
    assert_eq!(first_text(&slept), "slept 1500", "the call finished under the policy it started with: {slept:?}");
    let audited = eventually(RELOAD_WAIT, || gw.audit_lines().iter().any(|l| l["operation"] == "execute_tool")).await;
    assert!(audited, "the call was never audited");
    let lines = gw.audit_lines();
    let call = lines.iter().find(|l| l["operation"] == "execute_tool").expect("the call's audit line");
    assert_eq!(call["snapshot"], old, "{call}");
    assert_eq!((call["decision"].as_str(), call["outcome"].as_str()), (Some("allow"), Some("ok")), "{call}");
    let m = gw.metrics(&[]).await;
    assert_eq!(m.get("mcpgw_calls_total{agent=\"dev\",operation=\"execute_tool\"}"), Some(1.0), "{}", m.text);
    assert!(m.get("mcpgw_calls_total{agent=\"(unknown)\",operation=\"execute_tool\"}").is_none(), "{}", m.text);
    let new = m.series("mcpgw_policy_info");
    assert!(!new[0].0.contains(&old), "the gateway serves the new policy: {new:?}");
    client.close().await;
}
