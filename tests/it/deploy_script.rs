//! The CI-sized run of `deploy/test.sh` (DESIGN section 15): three replicas behind a real
//! HAProxy, limits in a real Redis, telemetry to a real collector (rotel), under mixed load
//! from the official Python SDK (legacy sessions and 2026-07-28 clients), with Redis
//! restarted and a replica killed mid-run. The script checks every phase itself
//! (deploy/mixed_load.py); this runs it on the binaries under test and reads its verdicts.

use serde_json::Value;

use crate::support::{fixture_bin, mcpgw_bin};

#[test]
fn the_deploy_script_holds_limits_survives_faults_and_delivers_telemetry() {
    let root = env!("CARGO_MANIFEST_DIR");
    let out = std::process::Command::new(format!("{root}/deploy/test.sh"))
        .arg("--short")
        .env("MCPGW", mcpgw_bin())
        .env("FIXTURE", fixture_bin())
        .env("DEPLOY_TEST_SETUP", "0")
        .output()
        .expect("run deploy/test.sh");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let report: Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("deploy/test.sh printed no report ({e}):\n{stdout}\nstderr:\n{stderr}"));
    for phase in ["rate", "redis", "collector", "kill"] {
        assert_eq!(report[phase]["ok"], true, "phase `{phase}` failed: {:#}\nstderr:\n{stderr}", report[phase]);
    }
    // Each check saw real traffic.
    assert!(report["rate"]["limited"].as_u64().is_some_and(|n| n > 0), "{:#}", report["rate"]);
    assert!(report["collector"]["calls"].as_u64().is_some_and(|n| n > 0), "{:#}", report["collector"]);
    assert_eq!(report["redis"]["ready_during_outage"], serde_json::json!(["fallback", "fallback", "fallback"]));
    assert!(out.status.success(), "{stdout}\n{stderr}");
}
