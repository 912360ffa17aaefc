//! The JSON front ends (rules files, `.mcp.json`, `mcpgw test` cases, `mcpgw diff` tool
//! catalogues) read their files with one typed reader, so the same mistake reads the same in
//! each: one phrase, located at `file:line:col`, with the JSON path, the quoted line and a
//! caret, and a "did you mean" when a known name is close.
//!
//! Each test makes one kind of mistake in every file that can hold it, runs the command that
//! reads the file, and reduces each report to its form (the file, names, path and line
//! replaced by placeholders): the forms must be equal.

use std::path::Path;

use crate::support::TempFiles;
use crate::support::cli::mcpgw;

const OK_RULES: &str = r#"{"agents": {"backend": {"allow": {"servers": ["github"]}}}}"#;

/// One report to compare: where a command printed it, and what differs between files.
struct Report<'a> {
    /// The command's output that holds the report.
    output: String,
    file: &'a str,
    /// The names and the JSON path that differ between the files.
    specifics: &'a [&'a str],
}

/// The diagnostic of `output` whose headline contains `phrase`: that line and the lines that
/// belong to it (indented, or a quoted source line `2 | ...`).
fn diagnostic<'o>(output: &'o str, phrase: &str) -> Vec<&'o str> {
    let lines: Vec<&str> = output.lines().collect();
    let start = lines.iter().position(|l| l.contains(phrase)).unwrap_or_else(|| panic!("no `{phrase}` in:\n{output}"));
    let quoted =
        |l: &str| l.split_once(" |").is_some_and(|(n, _)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
    let len = lines[start + 1..].iter().take_while(|l| l.starts_with(' ') || quoted(l)).count();
    lines[start..=start + len].to_vec()
}

/// A diagnostic with what is particular to its file replaced: the location by `FILE:L:C`,
/// each of `specifics` by `X`, the quoted line by `LINE`, the caret's indent dropped and a
/// list of names by `NAMES`.
fn form(lines: &[&str], report: &Report<'_>) -> String {
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let mut line = line.to_string();
        if i == 0 {
            let location = line.strip_prefix(report.file).and_then(|rest| rest.split_once(": ")).map(|(at, _)| at);
            let at = location.unwrap_or_else(|| panic!("not located in `{}`: {line}", report.file));
            let (l, c) = at.trim_start_matches(':').split_once(':').unwrap_or_else(|| panic!("no line:col: {line}"));
            assert!(l.parse::<u32>().is_ok() && c.parse::<u32>().is_ok(), "not line:col: {line}");
            line = line.replacen(&format!("{}{at}", report.file), "FILE:L:C", 1);
            if let Some((head, _)) = line.split_once("expected one of ") {
                line = format!("{head}expected one of NAMES");
            }
        } else if let Some((gutter, _)) = line.split_once(" | ").filter(|(g, _)| g.bytes().all(|b| b.is_ascii_digit()))
        {
            line = format!("{gutter} | LINE");
        } else if line.trim_start_matches([' ', '|']).starts_with('^') {
            line = "  | ^".to_owned();
        }
        for s in report.specifics {
            line = line.replace(&format!("`{s}`"), "`X`").replace(&format!("at {s}"), "at X");
        }
        out.push(line);
    }
    out.join("\n")
}

fn assert_same_form(phrase: &str, reports: &[Report<'_>]) -> String {
    let forms: Vec<String> = reports.iter().map(|r| form(&diagnostic(&r.output, phrase), r)).collect();
    for (r, f) in reports.iter().zip(&forms) {
        assert_eq!(f, &forms[0], "`{}` and `{}` word the same mistake differently", r.file, reports[0].file);
    }
    forms[0].clone()
}

fn run(dir: &Path, args: &[&str]) -> String {
    let r = mcpgw(dir, args);
    format!("{}{}", r.stdout, r.stderr)
}

#[test]
fn an_unknown_field_reads_the_same_in_every_file_that_has_fields() {
    let files = TempFiles::new();
    let dir = files.path();
    files.write("ok.json", OK_RULES);
    files.write("rules.json", "{\"agents\": {\"backend\": {\n  \"allwo\": {\"servers\": [\"github\"]}}}}\n");
    files.write("team.mcp.json", "{\"mcpServers\": {\"github\": {\"command\": \"gh-mcp\",\n  \"argz\": []}}}\n");
    files.write(
        "cases.json",
        "{\"rules\": \"ok.json\", \"cases\": [\n  {\"server\": \"github\", \"expect\": \"allow\", \"tol\": \"x\"}]}\n",
    );

    let rules = run(dir, &["check", "--rules", "rules.json"]);
    let mcp = run(dir, &["check", "--mcp-config", "team.mcp.json", "--rules", "ok.json"]);
    let cases = run(dir, &["test", "cases.json"]);
    // `.mcp.json` is shared with other tools, so a key it does not know is skipped with a
    // warning (DESIGN.md section 3); the rules and the cases refuse it.
    let mcp_diag = diagnostic(&mcp, "unknown field `argz`").join("\n");
    assert!(
        mcp_diag.starts_with("team.mcp.json:2:3: warning: unknown field `argz` is ignored, expected one of"),
        "{mcp}"
    );
    let mcp = mcp.replace("warning: unknown field `argz` is ignored,", "error: unknown field `argz`,");

    let form = assert_same_form(
        "unknown field",
        &[
            Report { output: rules, file: "rules.json", specifics: &["allwo", "allow", "agents.backend.allwo"] },
            Report { output: mcp, file: "team.mcp.json", specifics: &["argz", "args", "mcpServers.github.argz"] },
            Report { output: cases, file: "cases.json", specifics: &["tol", "tool", "cases[0].tol"] },
        ],
    );
    assert_eq!(
        form,
        "FILE:L:C: error: unknown field `X`, expected one of NAMES\n  at X\n  |\n2 | LINE\n  | ^\n  hint: did you mean `X`?"
    );
}

/// A catalogue's keys are server names, any name at all, so it has no unknown field; a value
/// of the wrong type is a mistake every front end can meet.
#[test]
fn a_wrong_type_reads_the_same_in_every_front_end() {
    let files = TempFiles::new();
    let dir = files.path();
    files.write("ok.json", OK_RULES);
    files.write("rules.json", "{\"agents\": {\"backend\": {\"allow\":\n  {\"servers\": \"github\"}}}}\n");
    files.write(
        "team.mcp.json",
        "{\"mcpServers\": {\"github\": {\"command\": \"gh-mcp\",\n  \"args\": \"--verbose\"}}}\n",
    );
    files.write("cases.json", "{\"rules\": \"ok.json\",\n  \"cases\": \"all of them\"}\n");
    files.write("tools.json", "{\"search\": [\"web\"],\n  \"github\": \"create_issue\"}\n");

    let rules = mcpgw(dir, &["check", "--rules", "rules.json"]);
    let mcp = mcpgw(dir, &["check", "--mcp-config", "team.mcp.json", "--rules", "ok.json"]);
    let cases = mcpgw(dir, &["test", "cases.json"]);
    let tools = mcpgw(dir, &["diff", "ok.json", "ok.json", "--tools", "tools.json"]);
    assert_eq!([rules.code, mcp.code, cases.code, tools.code], [1, 1, 2, 2], "each refuses its file");

    let output = |r: &crate::support::cli::Run| format!("{}{}", r.stdout, r.stderr);
    let form = assert_same_form(
        "error: expected an array of",
        &[
            Report { output: output(&rules), file: "rules.json", specifics: &["agents.backend.allow.servers"] },
            Report { output: output(&mcp), file: "team.mcp.json", specifics: &["mcpServers.github.args"] },
            Report { output: output(&cases), file: "cases.json", specifics: &["cases"] },
            Report { output: output(&tools), file: "tools.json", specifics: &["github"] },
        ]
        .map(|mut r| {
            // What the array holds is particular to each file.
            for what in ["server patterns", "strings", "test cases", "tool names"] {
                r.output = r.output.replace(&format!("an array of {what},"), "an array of THINGS,");
            }
            r
        }),
    );
    assert_eq!(form, "FILE:L:C: error: expected an array of THINGS, found a string\n  at X\n  |\n2 | LINE\n  | ^");
}
