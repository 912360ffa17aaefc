//! Cross-agent isolation over HTTP (DESIGN section 11): two agents call one shared downstream
//! at once, their round trips interleaved. Each agent's client answers the server with its own
//! name and each log storm carries its caller's name, so any answer, request for input, log
//! line, progress notification or result that crossed over would show on the wrong side.

use std::time::Duration;

use serde_json::{Value, json};

use crate::security::{ALICE, BOB, two_agents};
use crate::support::http::HttpGateway;
use crate::support::*;

/// Round trips per agent, each of them every kind of exchange.
const ROUNDS: usize = 4;
const LOGS_PER_STORM: usize = 5;
const PROGRESS_STEPS: usize = 3;

async fn connect(gw: &HttpGateway, token: &str, label: &str) -> McpClient {
    let auth = format!("Bearer {token}");
    McpClient::connect_http_with(&gw.url(), &[("authorization", &auth)], Recorder::answering_as(label))
        .await
        .unwrap_or_else(|e| panic!("{label} connects: {e}\n{}", gw.stderr()))
}

fn on_shared(tool: &str, args: Value) -> Value {
    json!({"server": "shared", "tool": tool, "args": args})
}

/// One agent's side: every kind of input, a log storm and a progress run, `ROUNDS` times;
/// returns the texts of the results of its input calls.
async fn round_trips(client: &McpClient, me: &str) -> Vec<String> {
    let mut answers = Vec::new();
    for _ in 0..ROUNDS {
        for kind in ["elicitation", "sampling", "roots"] {
            let r = client.call_tool("execute_tool", on_shared("ask", json!({"kind": kind}))).await.unwrap();
            answers.push(first_text(&r));
        }
        let storm = on_shared("storm", json!({"count": LOGS_PER_STORM, "log": true, "tag": me}));
        assert_eq!(first_text(&client.call_tool("execute_tool", storm).await.unwrap()), "ok");
        let progress = on_shared("progress", json!({"steps": PROGRESS_STEPS, "interval_ms": 5}));
        let (r, seen) =
            client.call_with_progress("execute_tool", progress, PROGRESS_STEPS, Duration::from_secs(10)).await;
        assert_eq!(first_text(&r.unwrap()), format!("done {PROGRESS_STEPS}"));
        assert_eq!(seen.len(), PROGRESS_STEPS, "{me}: the progress of its own call, and only that");
    }
    answers
}

/// What the gateway says when a shared stdio server asks for input (or logs) while calls of
/// several clients are in flight: nothing in the message names its call, so it refuses to
/// guess rather than risk the wrong client.
const UNATTRIBUTABLE: &str = "mcpgw cannot tell which call";

/// How sure the gateway can be of whose a server's message is, in one phase of the test.
#[derive(Clone, Copy, PartialEq)]
enum Attribution {
    /// Only one agent's calls run: every request for input and log line is delivered.
    Sole,
    /// Both agents' calls run on a legacy stdio server: its requests and logs name no call.
    Ambiguous,
    /// Both run on a 2026-07-28 server: input rounds come back in the call's own result, but
    /// log lines still name no call.
    RoundsInResults,
}

fn assert_only_own(me: &str, other: &str, client: &McpClient, answers: &[String], how: Attribution) {
    assert_eq!(answers.len(), 3 * ROUNDS);
    for answer in answers {
        assert!(!answer.contains(other), "{other}'s answer reached {me}'s call: {answer}");
        let own = answer.starts_with("answered: ") && answer.contains(me);
        let refused = how == Attribution::Ambiguous && answer.contains(UNATTRIBUTABLE);
        assert!(own || refused, "{me} got {answer}");
    }
    let asked = client.recorder().asked();
    let answered = answers.iter().filter(|a| a.starts_with("answered: ")).count();
    assert_eq!(asked.len(), answered, "{me} was asked for its own calls only: {asked:?}");
    let logs = client.recorder().logs();
    let storms: Vec<&Value> = logs.iter().filter(|l| l.get("storm").is_some()).collect();
    assert!(storms.iter().all(|l| l["tag"] == me), "{other}'s log lines reached {me}: {logs:?}");
    if how == Attribution::Sole {
        assert_eq!(answered, 3 * ROUNDS, "{me}: {answers:?}");
        assert_eq!(storms.len(), LOGS_PER_STORM * ROUNDS, "{me} heard all its storms: {logs:?}");
    } else {
        assert!(storms.len() <= LOGS_PER_STORM * ROUNDS, "{me}: {logs:?}");
    }
    if how == Attribution::RoundsInResults {
        assert_eq!(answered, 3 * ROUNDS, "input rounds are routed by their call: {answers:?}");
    }
    let progress = client.recorder().progress();
    assert_eq!(progress.len(), PROGRESS_STEPS * ROUNDS, "{me}: {progress:?}");
}

#[tokio::test]
async fn two_agents_interleaving_round_trips_on_one_server_see_only_their_own() {
    // A legacy server asks during the call; a 2026-07-28 server answers with input rounds,
    // which the gateway fulfils for these 2025 clients.
    for (era, together) in [("legacy", Attribution::Ambiguous), ("2026-07-28", Attribution::RoundsInResults)] {
        let servers = [("shared", fixture_server(&["--name", "shared", "--input-tools", "--protocol", era]))];
        let gw = two_agents(&servers).await;
        // At once, their round trips interleaved.
        let (alice, bob) = (connect(&gw, ALICE, "alice").await, connect(&gw, BOB, "bob").await);
        let (alices, bobs) = tokio::join!(round_trips(&alice, "alice"), round_trips(&bob, "bob"));
        assert_only_own("alice", "bob", &alice, &alices, together);
        assert_only_own("bob", "alice", &bob, &bobs, together);
        // In turn, both sessions open: now everything is delivered, to its own caller.
        let (alice, bob) = (connect(&gw, ALICE, "alice").await, connect(&gw, BOB, "bob").await);
        let alices = round_trips(&alice, "alice").await;
        let bobs = round_trips(&bob, "bob").await;
        assert_only_own("alice", "bob", &alice, &alices, Attribution::Sole);
        assert_only_own("bob", "alice", &bob, &bobs, Attribution::Sole);
        let asks =
            |agent: &str| gw.audit_lines().iter().filter(|l| l["agent_id"] == agent && l["tool"] == "ask").count();
        // The audit writer runs behind the calls: wait for its lines, then count them.
        eventually(Duration::from_secs(5), || asks("alice") + asks("bob") >= 12 * ROUNDS).await;
        assert_eq!((asks("alice"), asks("bob")), (6 * ROUNDS, 6 * ROUNDS), "{era}: each call audited under its agent");
    }
}
