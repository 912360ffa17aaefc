use super::*;
use crate::located::Span;

/// Reads `text` with `f` and returns every problem as displayed, errors first.
fn problems(text: &str, f: impl FnOnce(&Value<'_>)) -> Vec<String> {
    let reader = Reader::new("f.json", text);
    if let Some(root) = reader.parse() {
        f(&reader.root(&root));
    }
    let Problems { errors, warnings } = reader.finish();
    errors.iter().chain(&warnings).map(ToString::to_string).collect()
}

#[test]
fn unknown_fields_are_located_at_the_key_with_a_hint() {
    let p = problems("{\"a\": {\n  \"alow\": 1, \"deny\": 2}}", |v| {
        let a = v.object("an object").and_then(|o| o.get("a")).unwrap();
        a.object("an object").unwrap().deny_unknown(&["allow", "deny"]);
    });
    assert_eq!(
        p,
        [
            "f.json:2:3: error: unknown field `alow`, expected one of `allow`, `deny`\n  at a.alow\n  |\n2 |   \"alow\": 1, \"deny\": 2}}\n  |   ^\n  hint: did you mean `allow`?"
        ]
    );
}

#[test]
fn ignored_fields_are_warnings() {
    let p = problems(r#"{"x": 1}"#, |v| v.object("an object").unwrap().warn_unknown(&["y"]));
    assert_eq!(p.len(), 1);
    assert!(
        p[0].starts_with("f.json:1:2: warning: unknown field `x` is ignored, expected one of `y`\n  at x"),
        "{}",
        p[0]
    );
}

#[test]
fn wrong_types_missing_fields_and_values() {
    let p = problems(r#"{"s": 1, "n": "1", "b": null, "e": "permit", "z": 0, "arr": [1, "ok"]}"#, |v| {
        let o = v.object("an object").unwrap();
        assert_eq!(o.get("s").unwrap().string("a string"), None);
        assert_eq!(o.get("n").unwrap().number("a number", |t| t.parse::<u8>().ok()), None);
        assert_eq!(o.get("b").unwrap().bool(), None);
        assert_eq!(o.get("b").unwrap().nullable_string(), Some(None));
        assert_eq!(o.get("e").unwrap().one_of(&["allow", "deny"]), None);
        assert_eq!(
            o.get("z").unwrap().number("a whole number from 1 to 9", |t| t.parse::<u8>().ok().filter(|n| *n > 0)),
            None
        );
        assert_eq!(o.get("s").unwrap().one_of(&["a"]), None);
        let items = o.get("arr").unwrap().array_of("an array of strings", |i| i.string("a string").map(str::to_owned));
        assert_eq!(items, Some(vec!["ok".to_owned()]));
        assert!(o.required("missing").is_none());
        assert!(v.array_of("an array", Some).is_none());
    });
    let heads: Vec<&str> = p.iter().map(|d| d.lines().next().unwrap()).collect();
    assert_eq!(
        heads,
        [
            "f.json:1:1: error: missing field `missing`",
            "f.json:1:1: error: expected an array, found an object",
            "f.json:1:7: error: expected a string, found a number",
            "f.json:1:7: error: expected one of `a`, found a number",
            "f.json:1:15: error: expected a number, found a string",
            "f.json:1:25: error: expected `true` or `false`, found null",
            "f.json:1:36: error: expected one of `allow`, `deny`, found `permit`",
            "f.json:1:51: error: expected a whole number from 1 to 9, found `0`",
            "f.json:1:62: error: expected a string, found a number",
        ]
    );
    assert!(p[8].contains("\n  at arr[0]\n"), "{}", p[8]);
    assert!(!p[0].contains("  at "), "the root has no path to show: {}", p[0]);
}

#[test]
fn syntax_errors_are_located_with_the_enclosing_path() {
    let p = problems("{\"a\": [1,]}", |_| panic!("no tree"));
    assert_eq!(p.len(), 1);
    assert!(p[0].starts_with("f.json:1:10: error: expected a value after `,`"), "{}", p[0]);
    assert!(p[0].contains("\n  at a\n"), "{}", p[0]);
}

#[test]
fn parts_of_a_text_keep_their_place() {
    let text = "{\"k\": 1}\n{\"k\": \"x\"}\n{\"k\" 1}\n";
    let reader = Reader::new("f.jsonl", text);
    let mut offset = 0;
    for (i, line) in text.split_inclusive('\n').enumerate() {
        match json::parse(line) {
            Ok(node) => {
                let v = reader.value_at(&node, offset, vec![PathSegment::Index(i)]);
                let k = v.object("an object").and_then(|o| o.required("k"));
                k.map(|k| k.number("a number", |t| t.parse::<u8>().ok()));
            }
            Err(e) => reader.syntax_error(&e, offset, &[PathSegment::Index(i)]),
        }
        offset += line.len();
    }
    let errors: Vec<String> = reader.finish().errors.iter().map(ToString::to_string).collect();
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(
        errors[0].starts_with("f.jsonl:2:7: error: expected a number, found a string\n  at [1].k\n"),
        "{}",
        errors[0]
    );
    assert!(errors[1].starts_with("f.jsonl:3:6: error: expected `:` after key"), "{}", errors[1]);
    assert!(errors[1].contains("\n  at [2]\n"), "{}", errors[1]);
}

#[test]
fn problems_come_in_source_order_with_masked_lines_when_asked() {
    let text = "{\"b\": {\"secret\": 1},\n \"a\": 2}";
    let reader = Reader::new("f.json", text);
    let root = reader.parse().unwrap();
    let o = reader.root(&root).object("an object").unwrap();
    o.get("a").unwrap().string("a string");
    o.get("b").unwrap().string("a string");
    let f = o.fields().next().unwrap();
    assert_eq!((f.key(), f.key_span(), f.value().path()), ("b", Span { line: 1, column: 2 }, "b".to_owned()));
    f.key_error("bad key");
    let errors = reader.finish_showing("{\"b\": {\"******\": 1},\n \"a\": 2}").errors;
    let shown: Vec<(Option<Span>, Option<&str>)> = errors.iter().map(|d| (d.span, d.line_text.as_deref())).collect();
    assert_eq!(
        shown,
        [
            (Some(Span { line: 1, column: 2 }), Some("{\"b\": {\"******\": 1},")),
            (Some(Span { line: 1, column: 7 }), Some("{\"b\": {\"******\": 1},")),
            (Some(Span { line: 2, column: 7 }), Some(" \"a\": 2}")),
        ]
    );
}
