//! `CODES.md` is generated from the registry in `src/codes.rs` and must be up to date.

use std::path::Path;

#[test]
fn codes_md_is_up_to_date() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("CODES.md");
    let want = vitrina_package::codes::reference_markdown();
    if std::env::var_os("UPDATE_CODES_MD").is_some() {
        std::fs::write(&path, &want).expect("write CODES.md");
    }
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        have == want,
        "CODES.md is stale: run `UPDATE_CODES_MD=1 cargo test -p vitrina-package --test codes_doc`"
    );
}

#[test]
fn every_code_is_documented() {
    for c in vitrina_package::codes::REGISTRY {
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
    }
}
