//! `docs/CODES.md` is generated from the registry in `src/codes.rs` and must be up to date, and
//! every code a room of the workspace writes in its sources is registered.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use vitrina_diagnostics::codes;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn codes_md_is_up_to_date() {
    let path = workspace().join("docs/CODES.md");
    let want = codes::reference_markdown();
    if std::env::var_os("UPDATE_CODES_MD").is_some() {
        std::fs::write(&path, &want).expect("write docs/CODES.md");
    }
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        have == want,
        "docs/CODES.md is stale: run `UPDATE_CODES_MD=1 cargo test -p vitrina-diagnostics --test codes_doc`"
    );
}

#[test]
fn every_code_is_documented_once() {
    let mut seen = BTreeSet::new();
    for c in codes::REGISTRY {
        assert!(seen.insert(c.code), "{} registered twice", c.code);
        for (field, text) in [
            ("what", c.what),
            ("why", c.why),
            ("example", c.example),
            ("fix", c.fix),
        ] {
            assert!(!text.trim().is_empty(), "{}: empty {field}", c.code);
        }
        let (area, rule) = c.code.split_once('/').expect("area/rule");
        assert!(!area.is_empty() && !rule.is_empty(), "{}", c.code);
        assert!(
            ["package", "hcl", "engine", "server"].contains(&c.room),
            "{}",
            c.code
        );
    }
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// Code-shaped string literals (`"tf/undeclared"`, `"manifest/syntax"`) in every room's
/// sources (unit tests excluded) are registered: nothing emits an undocumented code.
#[test]
fn every_code_in_the_sources_is_registered() {
    let areas: BTreeSet<&str> = codes::REGISTRY
        .iter()
        .filter_map(|c| c.code.split_once('/').map(|(a, _)| a))
        .collect();
    let registered: BTreeSet<&str> = codes::REGISTRY.iter().map(|c| c.code).collect();
    let mut files = Vec::new();
    for entry in std::fs::read_dir(workspace().join("crates"))
        .expect("crates")
        .flatten()
    {
        rust_files(&entry.path().join("src"), &mut files);
    }
    assert!(files.len() > 20, "the sources were not found");
    let mut missing = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap_or_default();
        // Unit tests at the end of a file may spell codes in assertions only.
        let text = text.split("#[cfg(test)]").next().unwrap_or_default();
        let mut rest = text;
        while let Some(i) = rest.find('"') {
            rest = &rest[i + 1..];
            let Some(end) = rest.find('"') else { break };
            let lit = &rest[..end];
            rest = &rest[end + 1..];
            let Some((area, rule)) = lit.split_once('/') else {
                continue;
            };
            let shaped = !rule.is_empty()
                && rule
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
            if areas.contains(area) && shaped && !registered.contains(lit) {
                missing.push(format!("{}: {lit}", f.display()));
            }
        }
    }
    assert!(missing.is_empty(), "unregistered codes: {missing:#?}");
}
