//! `mcpgw fmt`: canonical pretty-printing, and conversion between JSON and the `.mcpgw` language.
//!
//! - Without flags the canonical text goes to stdout.
//! - `--check` prints nothing and exits 0 when the file is canonical; otherwise it prints the
//!   file name and the first differing lines (a small unified-style hunk) and exits 1.
//! - `--write` rewrites the file atomically (a temporary file in the same directory, then a
//!   rename), and leaves it untouched when it is already canonical. With `--to` naming the
//!   other syntax it writes a new file beside the old one with the other extension, refuses
//!   to replace an existing file, and leaves the original alone.
//!
//! DSL comments survive DSL-to-DSL formatting; JSON has no comments, so converting a commented
//! `.mcpgw` file to JSON drops them, and a note on stderr says so.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::cli::{FmtArgs, Syntax};
use crate::commands::{EXIT_BAD_INPUT, fail};
use crate::config::{self, ConfigError};
use crate::policy::json::print::to_json_string;
use crate::policy::{PolicySet, format_dsl_str, to_dsl_string};

/// How many differing lines of each side `--check` shows.
const HUNK_LINES: usize = 8;

/// Runs the command: 0 when done (or canonical, with `--check`), 1 when `--check` finds the
/// file not canonical or a write fails, 2 when the file cannot be read or parsed.
pub fn run(args: &FmtArgs) -> ExitCode {
    let path = &args.file;
    let from = if config::is_dsl_path(path) { Syntax::Dsl } else { Syntax::Json };
    let to = args.to.unwrap_or(from);
    if args.check && to != from {
        eprintln!(
            "{}: --check compares a file with its own canonical form; drop `--to {}` (the file is {})",
            path.display(),
            syntax_name(to),
            syntax_name(from)
        );
        return ExitCode::from(EXIT_BAD_INPUT);
    }
    let text = match config::read_text(path) {
        Ok(t) => t,
        Err(e) => return fail(&e),
    };
    let formatted = match format(path, &text, from, to) {
        Ok(f) => f,
        Err(e) => return fail(&e),
    };
    if formatted.comments_dropped {
        eprintln!("{}: note: JSON has no comments, so the comments of the file are not carried over", path.display());
    }
    if args.check {
        return check(path, &text, &formatted.text);
    }
    if args.write {
        return write(path, &text, &formatted.text, from, to);
    }
    let mut out = std::io::stdout().lock();
    if out.write_all(formatted.text.as_bytes()).and_then(|()| out.flush()).is_err() {
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

/// The output of formatting.
struct Formatted {
    text: String,
    /// The source had comments that the output cannot hold.
    comments_dropped: bool,
}

fn format(path: &Path, text: &str, from: Syntax, to: Syntax) -> Result<Formatted, ConfigError> {
    let name = path.display().to_string();
    let policy: PolicySet = config::parse_rules(path, text).map_err(ConfigError::Invalid)?;
    Ok(match (from, to) {
        (Syntax::Dsl, Syntax::Dsl) => {
            Formatted { text: format_dsl_str(&name, text).map_err(ConfigError::Invalid)?, comments_dropped: false }
        }
        (Syntax::Dsl, Syntax::Json) => {
            // The canonical DSL text with comments differs from the one without exactly when
            // the source has comments.
            let with_comments = format_dsl_str(&name, text).map_err(ConfigError::Invalid)?;
            Formatted { comments_dropped: with_comments != to_dsl_string(&policy), text: to_json_string(&policy) }
        }
        (Syntax::Json, Syntax::Dsl) => Formatted { text: to_dsl_string(&policy), comments_dropped: false },
        (Syntax::Json, Syntax::Json) => Formatted { text: to_json_string(&policy), comments_dropped: false },
    })
}

fn syntax_name(s: Syntax) -> &'static str {
    match s {
        Syntax::Dsl => "dsl",
        Syntax::Json => "json",
    }
}

fn check(path: &Path, text: &str, canonical: &str) -> ExitCode {
    if text == canonical {
        return ExitCode::SUCCESS;
    }
    let mut out = std::io::stdout().lock();
    let report = format!(
        "{}: not in canonical form (run `mcpgw fmt --write {}` to fix)\n{}",
        path.display(),
        path.display(),
        hunk(path, text, canonical)
    );
    let _ = out.write_all(report.as_bytes());
    ExitCode::FAILURE
}

/// A unified-diff-style hunk around the differing lines: the common prefix and suffix are
/// cut, a line of context is kept on each side, and each side shows at most [`HUNK_LINES`]
/// lines.
fn hunk(path: &Path, old: &str, new: &str) -> String {
    let a: Vec<&str> = old.split_inclusive('\n').collect();
    let b: Vec<&str> = new.split_inclusive('\n').collect();
    let prefix = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let suffix = a[prefix..].iter().rev().zip(b[prefix..].iter().rev()).take_while(|(x, y)| x == y).count();
    let start = prefix.saturating_sub(1);
    let (a_end, b_end) = (a.len() - suffix, b.len() - suffix);
    let mut s = format!("--- {}\n+++ {} (canonical)\n", path.display(), path.display());
    s.push_str(&format!("@@ -{} +{} @@\n", start + 1, start + 1));
    let show = |s: &mut String, mark: char, line: &str| {
        s.push(mark);
        s.push_str(line.strip_suffix('\n').unwrap_or(line));
        if !line.ends_with('\n') {
            s.push_str("\n\\ no newline at end of file");
        }
        s.push('\n');
    };
    for line in &a[start..prefix] {
        show(&mut s, ' ', line);
    }
    for (mark, lines) in [('-', &a[prefix..a_end]), ('+', &b[prefix..b_end])] {
        for line in lines.iter().take(HUNK_LINES) {
            show(&mut s, mark, line);
        }
        if lines.len() > HUNK_LINES {
            s.push_str(&format!("{mark}... {} more lines\n", lines.len() - HUNK_LINES));
        }
    }
    if let Some(line) = a.get(a_end) {
        show(&mut s, ' ', line);
    }
    s
}

fn write(path: &Path, text: &str, formatted: &str, from: Syntax, to: Syntax) -> ExitCode {
    if from == to {
        if text == formatted {
            return ExitCode::SUCCESS;
        }
        // Write through a symlink to the file it names, rather than replacing the link.
        let target = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_owned());
        return match write_atomically(&target, formatted, true) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("{}: cannot write: {e}", path.display());
                ExitCode::FAILURE
            }
        };
    }
    let target = converted_path(path, to);
    if target.exists() {
        eprintln!(
            "{}: not written: {} already exists (converting never replaces a file; remove it first, or \
             print to stdout without --write)",
            path.display(),
            target.display()
        );
        return ExitCode::from(EXIT_BAD_INPUT);
    }
    match write_atomically(&target, formatted, false) {
        Ok(()) => {
            eprintln!(
                "wrote {} ({} form of {}, which is left unchanged)",
                target.display(),
                syntax_name(to),
                path.display()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{}: cannot write: {e}", target.display());
            ExitCode::FAILURE
        }
    }
}

/// `FILE` with the extension of `to`: `rules.json` -> `rules.mcpgw`, `policy.mcpgw` ->
/// `policy.json`, `.mcp-gateway-rules.json` -> `.mcp-gateway-rules.mcpgw`.
fn converted_path(path: &Path, to: Syntax) -> PathBuf {
    path.with_extension(match to {
        Syntax::Dsl => "mcpgw",
        Syntax::Json => "json",
    })
}

/// Writes `contents` to a new file in `target`'s directory and renames it over `target`, so a
/// reader (such as the gateway's hot reload) sees the old file or the new one, never half of
/// one. When `replace` is set, the new file gets the old one's permissions; otherwise it gets
/// those of any newly created file (0666 less the umask, not a temporary file's 0600), and an
/// existing `target` is never replaced, even one created since the caller looked.
pub(crate) fn write_atomically(target: &Path, contents: &str, replace: bool) -> std::io::Result<()> {
    let dir = match target.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let permissions =
        if replace { std::fs::metadata(target)?.permissions() } else { std::fs::Permissions::from_mode(0o666) };
    // Created with `permissions` (less the umask); removed again if anything below fails.
    let mut file = tempfile::Builder::new().permissions(permissions.clone()).tempfile_in(dir)?;
    file.write_all(contents.as_bytes())?;
    if replace {
        // The umask may have narrowed them on creation.
        file.as_file().set_permissions(permissions)?;
    }
    file.as_file().sync_all()?;
    if replace {
        file.persist(target)?;
    } else {
        file.persist_noclobber(target)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hunk_shows_only_the_differing_lines_with_context() {
        let old = "a\nb\nc\nd\n";
        let new = "a\nB\nc\nd\n";
        assert_eq!(
            hunk(Path::new("p.mcpgw"), old, new),
            "--- p.mcpgw\n+++ p.mcpgw (canonical)\n@@ -1 +1 @@\n a\n-b\n+B\n c\n"
        );
        let h = hunk(Path::new("p"), "x", "x\n");
        assert!(h.contains("-x\n\\ no newline at end of file\n+x\n"), "{h}");
    }

    #[test]
    fn writes_are_atomic_keep_permissions_and_never_clobber_a_new_file() {
        let dir = tempfile::tempdir().unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        let old = dir.path().join("p.mcpgw");
        std::fs::write(&old, "old").unwrap();
        std::fs::set_permissions(&old, std::fs::Permissions::from_mode(0o640)).unwrap();
        write_atomically(&old, "new", true).unwrap();
        assert_eq!((std::fs::read_to_string(&old).unwrap().as_str(), mode(&old)), ("new", 0o640));

        let converted = dir.path().join("p.json");
        write_atomically(&converted, "{}", false).unwrap();
        let plain = dir.path().join("plain");
        std::fs::write(&plain, "").unwrap();
        assert_eq!(mode(&converted), mode(&plain), "a converted file is created like any other file");
        let e = write_atomically(&converted, "again", false).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::AlreadyExists);
        assert_eq!(std::fs::read_to_string(&converted).unwrap(), "{}");
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(left.len(), 3, "no temporary file is left behind: {left:?}");
    }

    #[test]
    fn converted_paths_swap_the_extension() {
        assert_eq!(converted_path(Path::new("d/rules.json"), Syntax::Dsl), PathBuf::from("d/rules.mcpgw"));
        assert_eq!(converted_path(Path::new("policy.mcpgw"), Syntax::Json), PathBuf::from("policy.json"));
        assert_eq!(
            converted_path(Path::new(".mcp-gateway-rules.json"), Syntax::Dsl),
            PathBuf::from(".mcp-gateway-rules.mcpgw")
        );
    }
}
