//! Property functions for fuzzing, shared by the cargo-fuzz targets in `fuzz/fuzz_targets/`
//! and by `tests/it/fuzz_regressions.rs`, which replays the seed corpus and every crash found.
//!
//! Each property takes the raw fuzz input and returns `Err` with a description when the
//! property does not hold; a panic inside the library is a failure too (the fuzzer catches it,
//! and so does the test harness). Inputs longer than a property's cap are accepted without
//! checking, so the fuzzer spends its time on small inputs.
//!
//! The structured properties decode their input with the generator, reading its choices from
//! the input's bytes ([`tricky::generate`]), into a policy and a list of requests, so that a
//! crash file is self-contained and replays without the `arbitrary` crate.

use crate::located::LineIndex;
use crate::policy::ast::{Effect, Pattern, PolicySet};
use crate::policy::dsl::{format_dsl_str, to_dsl_string};
use crate::policy::explain::{Explanation, RuleRef};
use crate::policy::json::print::to_json_string;
use crate::policy::table::{CompileOptions, DecisionTable};
use crate::policy::testkit::reference::reference_decide;
use crate::policy::testkit::tricky::{self, Generated, Options};
use crate::policy::testkit::write_dsl::write_dsl;

/// The longest text input the parser properties look at.
pub const MAX_TEXT_LEN: usize = 16 * 1024;
/// The longest input the structured properties look at.
pub const MAX_STRUCTURED_LEN: usize = 2048;

/// Both syntaxes require unique agent keys; the AST does not.
const UNIQUE_KEYS: Options = Options { unique_keys: true, empty_patterns: false };

/// What a property returns: `Err` describes a violation.
pub type Outcome = Result<(), String>;

/// A property: raw fuzz input in, verdict out.
pub type Property = fn(&[u8]) -> Outcome;

/// Every property, by the name of its fuzz target (and of its corpus and regression folders).
pub const PROPERTIES: [(&str, Property); 5] = [
    ("dsl_parse_never_panics", dsl_parse_never_panics),
    ("json_parse_never_panics", json_parse_never_panics),
    ("json_dsl_json_preserves_decisions", json_dsl_json_preserves_decisions),
    ("dsl_json_dsl_preserves_decisions", dsl_json_dsl_preserves_decisions),
    ("decide_matches_reference", decide_matches_reference),
];

/// The property of a fuzz target, by name.
pub fn property(target: &str) -> Option<Property> {
    PROPERTIES.iter().find(|(name, _)| *name == target).map(|(_, p)| *p)
}

// ---------------------------------------------------------------------------------------------
// Text properties
// ---------------------------------------------------------------------------------------------

/// The DSL reader never panics on any input; every error it reports lies inside the text; and
/// a policy it accepts formats (with comments) to a fixed point that reads back to the same
/// policy, as does its canonical text.
pub fn dsl_parse_never_panics(data: &[u8]) -> Outcome {
    if data.len() > MAX_TEXT_LEN {
        return Ok(());
    }
    let text = String::from_utf8_lossy(data);
    let policy = match PolicySet::from_dsl_str("fuzz.mcpgw", &text) {
        Ok(p) => p,
        Err(errors) => {
            let lines = LineIndex::new(&text).lines().count();
            for d in errors.iter() {
                if d.span.is_some_and(|s| s.line == 0 || s.column == 0 || s.line as usize > lines) {
                    return Err(format!("error outside the text: {d}"));
                }
            }
            if errors.iter().next().is_none() {
                return Err("the reader failed without an error".to_owned());
            }
            let _ = errors.to_string();
            if format_dsl_str("fuzz.mcpgw", &text).is_ok() {
                return Err("format_dsl_str accepts text that from_dsl_str refuses".to_owned());
            }
            return Ok(());
        }
    };
    let json = to_json_string(&policy);
    let formatted = format_dsl_str("fuzz.mcpgw", &text).map_err(|e| format!("accepted text does not format:\n{e}"))?;
    let from_formatted = read_dsl(&formatted, "formatted text")?;
    same_text("the formatted text's policy (as JSON)", &json, &to_json_string(&from_formatted))?;
    let again =
        format_dsl_str("fuzz.mcpgw", &formatted).map_err(|e| format!("formatted text does not format:\n{e}"))?;
    same_text("formatting the formatted text", &formatted, &again)?;
    let canonical = to_dsl_string(&policy);
    let back = read_dsl(&canonical, "canonical text")?;
    same_text("the canonical text's policy (as JSON)", &json, &to_json_string(&back))?;
    check_dsl_locations(&formatted, &from_formatted)
}

/// The JSON rules reader never panics on any input; a policy it accepts prints as canonical
/// JSON that reads back to the same text, and as DSL that reads back to the same policy.
pub fn json_parse_never_panics(data: &[u8]) -> Outcome {
    if data.len() > MAX_TEXT_LEN {
        return Ok(());
    }
    let text = String::from_utf8_lossy(data);
    let policy = match PolicySet::from_json_str("fuzz.json", &text) {
        Ok(p) => p,
        Err(errors) => {
            let _ = errors.to_string();
            return if errors.iter().next().is_none() {
                Err("the reader failed without an error".to_owned())
            } else {
                Ok(())
            };
        }
    };
    let json = to_json_string(&policy);
    let back = read_json(&json, "printed JSON")?;
    same_text("printing the printed JSON's policy", &json, &to_json_string(&back))?;
    let dsl = to_dsl_string(&policy);
    let back = read_dsl(&dsl, "printed DSL")?;
    same_text("the printed DSL's policy (as JSON)", &json, &to_json_string(&back))
}

// ---------------------------------------------------------------------------------------------
// Structured properties
// ---------------------------------------------------------------------------------------------

/// JSON -> DSL -> JSON keeps every decision, the determining rules of every decision, and the
/// JSON text; and every rule read from the DSL points at its name in the DSL text.
pub fn json_dsl_json_preserves_decisions(data: &[u8]) -> Outcome {
    if data.len() > MAX_STRUCTURED_LEN {
        return Ok(());
    }
    let g = tricky::generate(data, UNIQUE_KEYS);
    let json = to_json_string(&g.policy);
    let from_json = read_json(&json, "printed JSON")?;
    let dsl = to_dsl_string(&from_json);
    let from_dsl = read_dsl(&dsl, "DSL printed from JSON")?;
    check_dsl_locations(&dsl, &from_dsl)?;
    let json2 = to_json_string(&from_dsl);
    same_text("JSON -> DSL -> JSON", &json, &json2)?;
    // The last JSON text is the first one, so it reads back to the same policy.
    let tables = [
        ("the generated policy", compile(&g.policy, &g)?),
        ("JSON", compile(&from_json, &g)?),
        ("JSON -> DSL", compile(&from_dsl, &g)?),
    ];
    same_decisions(&tables, &g)
}

/// DSL -> JSON -> DSL keeps every decision, the determining rules of every decision, and the
/// canonical DSL text. The DSL is written the way people write it, not canonically: statements
/// split and shuffled, tool rules for one server spread over several statements, names bare
/// or quoted, comments and odd layout between the tokens. Reading it must give the policy it
/// was written from.
pub fn dsl_json_dsl_preserves_decisions(data: &[u8]) -> Outcome {
    if data.len() > MAX_STRUCTURED_LEN {
        return Ok(());
    }
    let g = tricky::generate(data, UNIQUE_KEYS);
    let text = write_dsl(&g.policy, g.layout_seed);
    let from_text = read_dsl(&text, "generated DSL text")?;
    check_dsl_locations(&text, &from_text)?;
    let json = to_json_string(&from_text);
    let from_json = read_json(&json, "JSON printed from DSL")?;
    let dsl = to_dsl_string(&from_json);
    same_text("DSL -> JSON -> DSL (canonical)", &to_dsl_string(&from_text), &dsl)?;
    let from_dsl = read_dsl(&dsl, "DSL printed from JSON")?;
    check_dsl_locations(&dsl, &from_dsl)?;
    let formatted = format_dsl_str("fuzz.mcpgw", &text).map_err(|e| format!("generated DSL does not format:\n{e}"))?;
    let from_formatted = read_dsl(&formatted, "formatted DSL")?;
    same_text("formatting keeps the policy", &json, &to_json_string(&from_formatted))?;
    let tables = [
        ("the generated policy", compile(&g.policy, &g)?),
        ("DSL", compile(&from_text, &g)?),
        ("DSL -> JSON", compile(&from_json, &g)?),
        ("DSL -> JSON -> DSL", compile(&from_dsl, &g)?),
    ];
    same_decisions(&tables, &g)
}

/// The compiled table's `decide` agrees with [`reference_decide`] on every request; `explain`
/// agrees with `decide`; and the determining and overridden rules are the reference's.
pub fn decide_matches_reference(data: &[u8]) -> Outcome {
    if data.len() > MAX_STRUCTURED_LEN {
        return Ok(());
    }
    let g = tricky::generate(data, Options::default());
    let table = compile(&g.policy, &g)?;
    for r in &g.requests {
        let req = r.as_request();
        let fast = table.decide(&req);
        let why = table.explain(&req);
        let reference = reference_decide(&g.policy, g.default_agent.as_deref(), &req);
        if fast != reference.decision {
            return Err(format!(
                "decide says {fast:?}, the reference says {:?}, for {r:?} (default agent {:?})\n{}",
                reference.decision,
                g.default_agent,
                to_json_string(&g.policy)
            ));
        }
        if why.to_decision() != fast {
            return Err(format!("explain says {:?}, decide says {fast:?}, for {r:?}", why.to_decision()));
        }
        let ids = |rules: &[RuleRef]| rules.iter().map(|x| x.id).collect::<Vec<u32>>();
        if ids(&why.determining_rules) != reference.determining || ids(&why.overridden_allows) != reference.overridden {
            return Err(format!(
                "explain's rules {:?} / {:?} differ from the reference's {:?} / {:?} for {r:?}\n{}",
                ids(&why.determining_rules),
                ids(&why.overridden_allows),
                reference.determining,
                reference.overridden,
                to_json_string(&g.policy)
            ));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

fn read_dsl(text: &str, what: &str) -> Result<PolicySet, String> {
    PolicySet::from_dsl_str("fuzz.mcpgw", text).map_err(|e| format!("{what} does not read back:\n{e}\n---\n{text}"))
}

fn read_json(text: &str, what: &str) -> Result<PolicySet, String> {
    PolicySet::from_json_str("fuzz.json", text).map_err(|e| format!("{what} does not read back:\n{e}\n---\n{text}"))
}

fn same_text(what: &str, expected: &str, got: &str) -> Outcome {
    if expected == got { Ok(()) } else { Err(format!("{what} changed the text:\n{expected}\n--- became ---\n{got}")) }
}

fn compile(policy: &PolicySet, g: &Generated) -> Result<DecisionTable, String> {
    let options = CompileOptions { default_agent: g.default_agent.clone() };
    DecisionTable::compile_with(policy, &options)
        .map_err(|e| format!("a small valid policy does not compile:\n{e}\n---\n{}", to_json_string(policy)))
}

/// What identifies a rule across syntaxes: everything but its location and number.
type RuleKey = (Effect, String, String, [Option<String>; 3], String);

fn rule_keys(rules: &[RuleRef]) -> Vec<RuleKey> {
    let mut keys: Vec<RuleKey> = rules
        .iter()
        .map(|r| {
            let items = [r.tool.clone(), r.resource.clone(), r.prompt.clone()];
            (r.effect, r.agent.clone(), r.server.clone(), items, r.pattern.clone())
        })
        .collect();
    keys.sort();
    keys
}

fn explanation_key(e: &Explanation) -> (Effect, &'static str, Vec<RuleKey>, Vec<RuleKey>) {
    (e.decision, e.reason.as_str(), rule_keys(&e.determining_rules), rule_keys(&e.overridden_allows))
}

/// Every table decides every request the same way, for the same rules (compared as a
/// multiset, since statement order and merging may renumber them).
fn same_decisions(tables: &[(&str, DecisionTable)], g: &Generated) -> Outcome {
    let Some((first_name, first)) = tables.first() else {
        return Ok(());
    };
    for r in &g.requests {
        let req = r.as_request();
        let expected = explanation_key(&first.explain(&req));
        for (name, table) in tables.iter().skip(1) {
            let got = explanation_key(&table.explain(&req));
            if got != expected {
                return Err(format!(
                    "{name} decides {r:?} as {got:?}, {first_name} as {expected:?}\n{}",
                    to_json_string(&g.policy)
                ));
            }
            if table.decide(&req) != first.decide(&req) {
                return Err(format!("{name} and {first_name} disagree on decide for {r:?}"));
            }
        }
    }
    Ok(())
}

/// Every pattern read from DSL `text` carries a location that points at its name there: the
/// opening quote of a quoted name, or the bare name itself.
fn check_dsl_locations(text: &str, policy: &PolicySet) -> Outcome {
    let lines: Vec<&str> = LineIndex::new(text).lines().collect();
    let mut patterns: Vec<&Pattern> = policy.agents.iter().map(|a| &a.key).collect();
    patterns.extend(policy.rules().flat_map(|r| [r.server].into_iter().chain(r.item.map(|(_, p)| p))));
    for p in patterns {
        let span = p.source.span;
        if p.source.path.is_some() {
            return Err(format!("a DSL rule has a JSON path: {:?}", p.source));
        }
        let at: String = lines
            .get((span.line as usize).wrapping_sub(1))
            .map(|l| l.chars().skip((span.column as usize).saturating_sub(1)).collect())
            .unwrap_or_default();
        if !(at.starts_with('"') || at.starts_with(p.text.as_str())) {
            return Err(format!(
                "pattern `{}` is said to be at {}:{}, where the text is `{}`\n---\n{text}",
                p.text.escape_debug(),
                span.line,
                span.column,
                at.escape_debug()
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_property_holds_on_small_inputs() {
        let inputs: [&[u8]; 6] = [
            b"",
            b"\x00",
            b"agent a { allow servers b }",
            &[7; 64],
            &[1, 2, 3, 4, 5, 6, 7, 8, 9, 200, 17],
            &[255; 300],
        ];
        for (name, property) in PROPERTIES {
            for input in inputs {
                if let Err(e) = property(input) {
                    panic!("{name} on {input:?}: {e}");
                }
            }
        }
    }

    #[test]
    fn generated_dsl_reads_back() {
        for seed in 0..200u32 {
            let data: Vec<u8> =
                (0..120u32).map(|i| (i.wrapping_mul(seed).wrapping_add(seed >> 2) % 251) as u8).collect();
            let g = tricky::generate(&data, UNIQUE_KEYS);
            let text = write_dsl(&g.policy, seed);
            assert!(PolicySet::from_dsl_str("t.mcpgw", &text).is_ok(), "{text}");
        }
    }

    /// `n` bytes from a linear congruential generator: the same for the same `state`, so the
    /// coverage tests below are deterministic.
    fn pseudo_random_bytes(state: &mut u32, n: usize) -> Vec<u8> {
        (0..n)
            .map(|_| {
                *state = state.wrapping_mul(1_103_515_245).wrapping_add(12345);
                (*state >> 16) as u8
            })
            .collect()
    }

    /// The generator is useful only if its requests reach every kind of decision.
    #[test]
    fn generated_requests_reach_every_reason() {
        let mut seen = std::collections::BTreeSet::new();
        let mut state = 7u32;
        for _ in 0..400 {
            let data = pseudo_random_bytes(&mut state, 200);
            let g = tricky::generate(&data, Options::default());
            let options = CompileOptions { default_agent: g.default_agent.clone() };
            let table = DecisionTable::compile_with(&g.policy, &options).unwrap();
            for r in &g.requests {
                seen.insert(table.decide(&r.as_request()).reason.as_str());
            }
        }
        assert_eq!(seen.len(), 7, "{seen:?}");
    }

    /// Resource and prompt rules are generated, and requests of every kind reach every kind
    /// of allow (so the new kinds are exercised, not just parsed).
    #[test]
    fn generated_policies_cover_every_item_kind() {
        use crate::policy::ast::ItemKind;
        let mut rules = std::collections::BTreeSet::new();
        let mut decided = std::collections::BTreeSet::new();
        let mut state = 11u32;
        for _ in 0..400 {
            let data = pseudo_random_bytes(&mut state, 200);
            let g = tricky::generate(&data, Options::default());
            rules.extend(g.policy.rules().filter_map(|r| r.item.map(|(k, _)| k)));
            let options = CompileOptions { default_agent: g.default_agent.clone() };
            let table = DecisionTable::compile_with(&g.policy, &options).unwrap();
            for r in g.requests.iter().filter(|r| r.tool.is_some()) {
                let d = table.decide(&r.as_request());
                decided.insert((r.kind, d.reason.as_str()));
            }
        }
        assert_eq!(rules.len(), 3, "{rules:?}");
        for kind in ItemKind::ALL {
            for reason in ["allowed_by_rule", "implicit_grant", "explicit_deny", "no_matching_allow"] {
                assert!(decided.contains(&(kind, reason)), "{kind:?} {reason}: {decided:?}");
            }
        }
    }

    /// The checks can fail: a property that always passed would prove nothing.
    #[test]
    fn the_checks_catch_differences() {
        let data = [0u8, 0, 0, 0, 0, 1, 4, 1, 0, 0, 0, 0, 0, 0];
        let g = tricky::generate(&data, UNIQUE_KEYS);
        let a = PolicySet::from_dsl_str("a.mcpgw", "agent a { allow servers a }").unwrap();
        let b = PolicySet::from_dsl_str("b.mcpgw", "agent a { allow servers a\n deny tools on a: b }").unwrap();
        let tables = [("a", compile(&a, &g).unwrap()), ("b", compile(&b, &g).unwrap())];
        let e = same_decisions(&tables, &g).unwrap_err();
        assert!(e.contains("decides"), "{e}");

        let mut moved = a.clone();
        moved.agents[0].allow.servers[0].source.span.column += 1;
        assert!(check_dsl_locations("agent a { allow servers a }", &a).is_ok());
        assert!(check_dsl_locations("agent a { allow servers a }", &moved).is_err());
        assert!(same_text("x", "a", "b").is_err());
    }
}
