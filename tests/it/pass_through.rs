//! The forward path keeps a result as the server wrote it (DESIGN section 11, issue 14): for
//! random tool results (vendor fields, nesting, unicode and escapes, numbers a JSON library
//! would rewrite: `1.0`, `1e400`, `-0`, thirty digits), the client receives the downstream's
//! JSON unchanged but for the id and the version fields. Through `execute_tool` and direct
//! mode, to a legacy caller (byte for byte) and to a 2026-07-28 caller (every member as
//! written, and `resultType` added), in front of a server that writes the result text it is
//! given (`tests/servers/raw_results.py`).

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::time::Duration;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::value::RawValue;
use serde_json::{Value, json};

use crate::support::raw::RawGateway;
use crate::support::*;

/// A JSON number's text, among them those a parse and write would change.
fn number() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("1.0".to_owned()),
        Just("1e400".to_owned()),
        Just("-1E-400".to_owned()),
        Just("-0".to_owned()),
        Just("123456789012345678901234567890".to_owned()),
        Just("0.30000000000000004".to_owned()),
        any::<i64>().prop_map(|n| n.to_string()),
        (any::<i32>(), 0u32..1000, -400i32..400).prop_map(|(m, f, e)| format!("{m}.{f}e{e}")),
    ]
}

/// A JSON string's text: raw characters of any script and escapes, surrogate pairs included.
fn string() -> impl Strategy<Value = String> {
    let part = prop_oneof![
        any::<char>()
            .prop_filter("not raw in JSON", |c| !c.is_control() && *c != '"' && *c != '\\')
            .prop_map(String::from),
        Just(r#"\""#.to_owned()),
        Just(r"\\".to_owned()),
        Just(r"\n".to_owned()),
        Just(r"\/".to_owned()),
        Just(r"\u00e9".to_owned()),
        Just(r"\ud83d\ude00".to_owned()),
        Just("é😀中".to_owned()),
    ];
    prop::collection::vec(part, 0..8).prop_map(|parts| format!("\"{}\"", parts.concat()))
}

/// Member names: plain, vendor-prefixed, non-ASCII.
fn key() -> impl Strategy<Value = String> {
    prop_oneof!["[a-z_]{1,8}", "x-[a-z]{1,6}", "com\\.example/[a-z]{1,4}", Just("clé".to_owned())]
}

/// An object's text from its members (the first of a repeated name kept), with or without
/// spaces after the separators.
fn object(members: Vec<(String, String)>, spaced: bool) -> String {
    let mut seen = std::collections::HashSet::new();
    let sep = if spaced { ", " } else { "," };
    let colon = if spaced { ": " } else { ":" };
    let parts: Vec<String> = members
        .into_iter()
        .filter(|(k, _)| seen.insert(k.clone()))
        .map(|(k, v)| format!("\"{k}\"{colon}{v}"))
        .collect();
    format!("{{{}}}", parts.join(sep))
}

/// Any JSON value's text, nested.
fn value() -> impl Strategy<Value = String> {
    let leaf =
        prop_oneof![number(), string(), Just("true".to_owned()), Just("false".to_owned()), Just("null".to_owned())];
    leaf.prop_recursive(4, 40, 5, |inner| {
        prop_oneof![
            (prop::collection::vec(inner.clone(), 0..5), any::<bool>())
                .prop_map(|(xs, spaced)| format!("[{}]", xs.join(if spaced { ", " } else { "," }))),
            (prop::collection::vec((key(), inner), 0..5), any::<bool>()).prop_map(|(m, s)| object(m, s)),
        ]
    })
}

/// A tool result's text: content blocks with vendor fields, and vendor members at the top,
/// none of the version fields (`resultType`, `ttlMs`, `cacheScope`) the gateway shapes.
fn tool_result() -> impl Strategy<Value = String> {
    let block =
        (string(), prop::collection::vec((key(), value()), 0..3), any::<bool>()).prop_map(|(text, extra, s)| {
            let mut members = vec![("type".to_owned(), "\"text\"".to_owned()), ("text".to_owned(), text)];
            members.extend(extra.into_iter().filter(|(k, _)| k != "type" && k != "text"));
            object(members, s)
        });
    let top = prop_oneof![
        value().prop_map(|v| ("structuredContent".to_owned(), v)),
        any::<bool>().prop_map(|b| ("isError".to_owned(), b.to_string())),
        (key(), value()).prop_map(|(k, v)| ("_meta".to_owned(), object(vec![(k, v)], false))),
        (key(), value()).prop_map(|(k, v)| (format!("x-{k}"), v)),
    ];
    (prop::collection::vec(block, 0..4), prop::collection::vec(top, 0..4), any::<bool>()).prop_map(
        |(blocks, extra, spaced)| {
            let mut members = vec![("content".to_owned(), format!("[{}]", blocks.join(",")))];
            members.extend(extra);
            object(members, spaced)
        },
    )
}

/// The `_meta` of a 2026-07-28 request.
fn modern_meta() -> Value {
    json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {},
        "io.modelcontextprotocol/clientInfo": {"name": "raw-2026", "version": "1"}
    })
}

/// Calls `raw` through the gateway with `text` as the result to give, and returns the result
/// text of the gateway's answer as written.
async fn forward(gw: &mut RawGateway, text: &str, modern: bool, direct: bool) -> String {
    let id = gw.fresh_id();
    let (name, arguments) = if direct {
        ("raw__raw", json!({"json": text}))
    } else {
        ("execute_tool", json!({"server": "raw", "tool": "raw", "args": {"json": text}}))
    };
    let mut params = json!({"name": name, "arguments": arguments});
    if modern {
        params["_meta"] = modern_meta();
    }
    let request = json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": params});
    gw.send_line(request.to_string().as_bytes()).await;
    let line = gw.next_raw_line(Duration::from_secs(20)).await.expect("an answer");
    let line = String::from_utf8(line).expect("the answer is UTF-8");
    let line = line.trim_end_matches(['\n', '\r']);
    let head = format!(r#"{{"jsonrpc":"2.0","id":{id},"result":"#);
    assert!(line.starts_with(&head) && line.ends_with('}'), "not a result for {id}: {line}");
    line[head.len()..line.len() - 1].to_owned()
}

/// The members of an object's text, each value as written.
fn members(text: &str) -> BTreeMap<String, String> {
    let map: BTreeMap<String, Box<RawValue>> =
        serde_json::from_str(text).unwrap_or_else(|e| panic!("not an object ({e}): {text}"));
    map.into_iter().map(|(k, v)| (k, v.get().to_owned())).collect()
}

#[test]
fn a_forwarded_result_reaches_the_client_as_the_server_wrote_it() {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
    let files = TempFiles::new();
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/servers/raw_results.py");
    let servers = [("raw", json!({"command": "python3", "args": [script]}))];
    let rules = json!({"agents": {"dev": {"allow": {"servers": ["raw"]}}}});
    let spawn = gateway_spawn(&files, &servers, &rules, &["--agent", "dev", "--expose", "both"]);
    let gw = RefCell::new(rt.block_on(RawGateway::start(&spawn)));
    let mut runner = TestRunner::new(Config { cases: 256, failure_persistence: None, ..Config::default() });
    let outcome = runner.run(&(tool_result(), any::<bool>(), any::<bool>()), |(text, modern, direct)| {
        let got = rt.block_on(forward(&mut gw.borrow_mut(), &text, modern, direct));
        if modern {
            let mut want = members(&text);
            want.insert("resultType".to_owned(), "\"complete\"".to_owned());
            prop_assert_eq!(members(&got), want, "2026-07-28, direct mode {}: {}", direct, text);
        } else {
            prop_assert_eq!(&got, &text, "legacy, direct mode {}", direct);
        }
        Ok(())
    });
    if let Err(e) = outcome {
        panic!("{e}");
    }
    // The cases reached both paths and both eras: the property held on each.
    let audit = rt.block_on(crate::support::gateway::audited_operations(&files.file_path("audit.jsonl"), "direct", 1));
    assert!(!audit.is_empty());
}
