//! `build_catalog` serializes the app trees directly. Its document is the former path's
//! (each tree converted to a JSON value, the document emitted by `serde_yaml` from that value)
//! but for mapping keys, which keep their YAML type (`false:` stays a boolean key, where JSON
//! made it the text `'false'`): checked for the repository's VM-SDF files, the seed fixtures, an
//! app with every kind of scalar and 200 apps, and the output is the same bytes on every build.

use std::path::{Path, PathBuf};

use serde_yaml::Value;
use vitrina_package::sdf::{build_catalog, validate_path, SdfValidated};

/// The catalog as it was built before: through `serde_json::Value`.
fn via_json(v: &SdfValidated) -> String {
    let mut apps: Vec<_> = v.apps.iter().collect();
    apps.sort_by(|a, b| a.app.id.cmp(&b.app.id));
    let mut applications = serde_json::Map::new();
    for a in apps {
        applications.insert(a.app.id.clone(), a.tree.to_json());
    }
    let doc = serde_json::json!({
        "vm-sdf-catalog": 1,
        "applications": applications,
    });
    serde_yaml::to_string(&doc).expect("emits")
}

/// The document with every mapping key turned into its text, as JSON has them.
fn keys_as_text(v: Value) -> Value {
    match v {
        Value::Mapping(m) => Value::Mapping(
            m.into_iter()
                .map(|(k, v)| {
                    let k = match k {
                        Value::String(s) => Value::String(s),
                        Value::Null => Value::String("null".into()),
                        other => Value::String(
                            serde_yaml::to_string(&other)
                                .expect("a key")
                                .trim_end()
                                .to_owned(),
                        ),
                    };
                    (k, keys_as_text(v))
                })
                .collect(),
        ),
        Value::Sequence(items) => Value::Sequence(items.into_iter().map(keys_as_text).collect()),
        other => other,
    }
}

fn repo(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join(p)
}

fn same_bytes(path: &Path) {
    let v = validate_path(path).expect("reads");
    assert!(v.ok(), "{}", v.sources.render_text(&v.diagnostics, ""));
    let built = build_catalog(&v).expect("builds");
    assert_eq!(
        build_catalog(&v).as_deref(),
        Some(built.as_str()),
        "deterministic"
    );
    let typed: Value = serde_yaml::from_str(&built).expect("the catalog parses");
    let former: Value = serde_yaml::from_str(&via_json(&v)).expect("parses");
    assert_eq!(keys_as_text(typed), former, "{}", path.display());
}

#[test]
fn option_keys_keep_their_yaml_type() {
    let v = validate_path(&repo("fixtures/vm-sdf/seed-lnmp-10.yml")).expect("reads");
    let built = build_catalog(&v).expect("builds");
    let doc: Value = serde_yaml::from_str(&built).expect("parses");
    let options =
        &doc["applications"]["lnmp-10"]["variables"]["mysql-php-admin-install"]["options"];
    let keys: Vec<&Value> = options.as_mapping().expect("options").keys().collect();
    assert_eq!(keys, [&Value::Bool(false), &Value::Bool(true)], "{built}");
}

#[test]
fn examples_and_seed_fixtures_give_the_former_document() {
    same_bytes(&repo("examples/vm-sdf"));
    same_bytes(&repo("fixtures/vm-sdf/seed-lnmp-10.yml"));
    same_bytes(&repo("fixtures/vm-sdf/seed-mysql-sections.yml"));
}

const SCALARS: &str = r##"scalars-1:
  mode: kvs
  name: "Scalars: every kind"
  version: 1.0
  description:
    default: |
      Two lines,
      with: a colon and a "quote"
    ru_RU: Описание — по-русски
  source: 'https://repo.example.com/a%20b/x?y=1&z=*'
  tags: [a, 'b', "c", 1, -2, 0x1F, 0o17, 1e3, .inf, -.inf, .nan, '', "yes", "0755", 12345678901234567890]
  x-scalars: [~, null, Null, true, False, -0, +7, 0.5, -1.25e-3, 1_000, "~", 'null', 'true', ":", "#", "|", ">"]
  x-empty: {}
  x-list-of-maps:
    - {k: v, 1: one}
    - []
  templates:
    - "- dash"
    - '* star'
    - "@at"
    - "!bang"
    - "%percent"
    - "key: value"
    - " leading space"
    - "trailing space "
  minimal-root-disk-size: 10
  variables:
    n:
      type: Number
      minimum: -5
      maximum: 2.5
      is-integer: false
      default: 0.1
    s:
      label: {default: "Multi", ru_RU: "Много"}
      type: String
      is-multiline: true
      default: "line 1\nline 2\ttab"
    o:
      type: OneOf
      options:
        1: {labels: One}
        "2": {labels: Two}
        true: {labels: Yes}
      default: 1
"##;

#[test]
fn every_kind_of_scalar_gives_the_former_document() {
    let dir = tempfile::tempdir().expect("tmp");
    std::fs::write(dir.path().join("scalars.yml"), SCALARS).expect("write");
    same_bytes(dir.path());
    // And 200 apps, as the benchmark builds them.
    let seed = std::fs::read_to_string(repo("fixtures/vm-sdf/seed-lnmp-10.yml")).expect("the seed");
    for i in 0..200 {
        std::fs::write(
            dir.path().join(format!("app-{i:03}.yml")),
            seed.replacen("lnmp-10:", &format!("lnmp-{i:03}:"), 1),
        )
        .expect("write");
    }
    same_bytes(dir.path());
}
