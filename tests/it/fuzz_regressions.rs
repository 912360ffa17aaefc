//! The fuzz targets' properties, run as ordinary tests over the checked-in inputs.
//!
//! CI does not run the fuzzers (building them with sanitizers is too slow there). Instead this
//! test replays, through the same property functions the fuzz targets call
//! (`mcpgw::policy::testkit::fuzzing`):
//!
//! - every file in `fuzz/corpus-seed/<target>/`, the small seed corpus, and
//! - every file in `fuzz/regressions/<target>/`, each an input that once broke a property.
//!
//! A folder named after no target fails the test, so a renamed target cannot silently stop
//! its regressions from running. See `fuzz/README.md`.

use std::path::{Path, PathBuf};

use mcpgw::policy::testkit::fuzzing::{PROPERTIES, property};

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz")
}

/// Every (target, file) under `root/<target>/`, recursively, sorted.
fn inputs(root: &Path) -> Vec<(String, PathBuf)> {
    let mut out = Vec::new();
    let Ok(targets) = std::fs::read_dir(root) else {
        return out;
    };
    for target in targets {
        let target = target.unwrap().path();
        if !target.is_dir() {
            continue;
        }
        let name = target.file_name().unwrap().to_string_lossy().into_owned();
        let mut stack = vec![target];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    stack.push(path);
                } else if path.file_name().is_some_and(|n| n != "README.md" && n != ".gitkeep") {
                    out.push((name.clone(), path));
                }
            }
        }
    }
    out.sort();
    out
}

fn replay(root: &Path) -> usize {
    let mut failures = Vec::new();
    let all = inputs(root);
    for (target, path) in &all {
        let Some(check) = property(target) else {
            failures.push(format!(
                "{}: no fuzz target is named `{target}` (the targets are {:?})",
                path.display(),
                PROPERTIES.map(|(n, _)| n)
            ));
            continue;
        };
        let data = std::fs::read(path).unwrap();
        let result = std::panic::catch_unwind(|| check(&data));
        match result {
            Ok(Ok(())) => {}
            Ok(Err(violation)) => failures.push(format!("{}: {target}: {violation}", path.display())),
            Err(_) => failures.push(format!("{}: {target}: panicked", path.display())),
        }
    }
    assert!(failures.is_empty(), "{} of {} inputs fail:\n\n{}", failures.len(), all.len(), failures.join("\n\n"));
    all.len()
}

#[test]
fn seed_corpus_holds_every_property() {
    let n = replay(&fuzz_dir().join("corpus-seed"));
    // Every target has seeds.
    for (target, _) in PROPERTIES {
        let dir = fuzz_dir().join("corpus-seed").join(target);
        let count = std::fs::read_dir(&dir).map(|d| d.count()).unwrap_or(0);
        assert!(count > 0, "no seeds for `{target}` in {}", dir.display());
    }
    assert!(n > 0);
}

#[test]
fn regressions_stay_fixed() {
    replay(&fuzz_dir().join("regressions"));
}
