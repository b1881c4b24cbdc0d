//! One case per VM-SDF diagnostic code: a small app with one mistake, reporting that code at
//! the marked position (`«`), with a help line, and no other error.

use std::collections::BTreeSet;

use vitrina_package::{codes, sdf};

const BASE_VARS: &str = "\
app-1:
  name: App
  version: 1
  source: https://repo.example.com/app.tar.gz
  variables:
";

struct Case {
    code: &'static str,
    text: String,
}

fn app(vars: &str) -> String {
    format!("{BASE_VARS}{vars}")
}

fn cases() -> Vec<Case> {
    let c = |code, text: String| Case { code, text };
    vec![
        c(codes::SDF_NOT_AN_APP, "«deployment-info:\n  mode: raw\n".into()),
        c(codes::SDF_NOT_AN_APP, "app-1:\n  name: A\n  version: 1\n  source: https://r.example.com/a.tgz\n«mysql-mode:\n  type: OneOf\n  options: {a: {label: A}}\n".into()),
        c(codes::SDF_REQUIRED, "«app-1:\n  name: App\n  source: https://repo.example.com/app.tar.gz\n".into()),
        c(codes::SDF_REQUIRED, app("    «x:\n      label: X\n")),
        c(codes::SDF_UNKNOWN_TYPE, app("    x:\n      type: «Strnig\n")),
        c(codes::SDF_UNKNOWN_TYPE, app("    x:\n      type: «FQDN_DNS\n")),
        c(codes::SDF_BAD_VALUE, format!("{}  mode: «rwa\n", BASE_VARS.trim_end_matches("  variables:\n"))),
        c(codes::SDF_BAD_VALUE, format!("{}  engine: «ansible | docker-stack\n", BASE_VARS.trim_end_matches("  variables:\n"))),
        c(codes::SDF_UNSUPPORTED_SCHEMA, format!("{}  schema: «/schemes/vm-sdf-9.yaml\n", BASE_VARS.trim_end_matches("  variables:\n"))),
        c(codes::SDF_UNSUPPORTED_SCHEME, app("    u:\n      type: URI\n      scheme: [https, «mailto]\n")),
        c(codes::SDF_UNSUPPORTED_SCHEME, app("    u:\n      type: URI\n      scheme: [«https://]\n")),
        c(codes::SDF_UNKNOWN_FEATURE, format!("{}  features-requested:\n    «private-key-value-store: true\n", BASE_VARS.trim_end_matches("  variables:\n"))),
        c(codes::SDF_UNKNOWN_SOURCE, app("    a:\n      type: OneOf\n      options: {x: {label: X}}\n      default: x\n    b:\n      type: String\n      default: s\n      active-if:\n        sources:\n          «aa: x\n")),
        c(codes::SDF_FORWARD_SOURCE, app("    b:\n      type: String\n      default: s\n      active-if:\n        sources:\n          «a: x\n    a:\n      type: OneOf\n      options: {x: {label: X}}\n      default: x\n")),
        c(codes::SDF_ACTIVATION_CYCLE, app("    a:\n      type: String\n      default: s\n      «active-if:\n        sources: {b: s}\n    b:\n      type: String\n      default: s\n      active-if:\n        sources: {a: s}\n")),
        c(codes::SDF_ACTIVATION_CYCLE, app("    a:\n      type: String\n      default: s\n      «active-if:\n        sources: {a: s}\n")),
        c(codes::SDF_CONDITION_VALUE, app("    mode:\n      type: OneOf\n      options: {install: {label: I}, use: {label: U}}\n      default: install\n    pw:\n      type: String\n      default: s\n      active-if:\n        sources:\n          mode: «instal\n")),
        c(codes::SDF_BAD_DEFAULT, app("    port:\n      type: Number\n      minimum: 1024\n      default: «80\n")),
        c(codes::SDF_BAD_DEFAULT, app("    port:\n      type: Number\n      default: «8.5\n")),
        c(codes::SDF_BAD_DEFAULT, app("    db:\n      type: String\n      regex: '^[a-z]+$'\n      default: «Db1\n")),
        c(codes::SDF_BAD_DEFAULT, app("    ip:\n      type: IpAddress\n      version: 6\n      default: «10.0.0.1\n")),
        c(codes::SDF_BAD_DEFAULT, app("    site:\n      type: URL\n      scheme: [https]\n      default: «http://example.com/\n")),
        c(codes::SDF_BAD_DEFAULT, app("    mail:\n      type: Email\n      default: «root@localhost\n")),
        c(codes::SDF_DEFAULT_NOT_OPTION, app("    mods:\n      type: Some\n      options: {abc: {label: A}, def: {label: D}}\n      defaults: [abc, «abd]\n")),
        c(codes::SDF_DEFAULT_NOT_OPTION, app("    mode:\n      type: OneOf\n      options: {install: {label: I}, use: {label: U}}\n      default: «instal\n")),
        c(codes::SDF_BAD_REGEX, app("    db:\n      type: String\n      regex: «'^[a-z'\n")),
        c(codes::SDF_BAD_RANGE, app("    n:\n      type: Number\n      minimum: 10\n      maximum: «5\n")),
        c(codes::SDF_BAD_RANGE, app("    p:\n      type: Password\n      minimum-length: 10\n      maximum-length: «5\n")),
        c(codes::SDF_LEGACY_KEY, app("    port:\n      type: Number\n      «integer_min: 1\n      default: 8\n")),
        c(codes::SDF_BAD_NETWORK_RULE, format!("{}  network-security:\n    ingress:\n      - rule:\n          protocol: tcp\n          ports: [80, «70000]\n          cidr: 0.0.0.0/0\n", BASE_VARS.trim_end_matches("  variables:\n"))),
        c(codes::SDF_BAD_NETWORK_RULE, format!("{}  network-security:\n    egress:\n      - rule:\n          protocol: icmp\n          type: -1\n          code: -1\n          cidr: «0.0.0.0\n", BASE_VARS.trim_end_matches("  variables:\n"))),
    ]
}

/// Codes checked in the tests below (they need a folder).
const ELSEWHERE: &[&str] = &[codes::SDF_TOO_LARGE, codes::SDF_DUPLICATE_APP];

fn position(text: &str, at: usize) -> (usize, usize) {
    let before = &text[..at];
    let line = before.matches('\n').count() + 1;
    let col = before
        .rsplit('\n')
        .next()
        .unwrap_or_default()
        .chars()
        .count()
        + 1;
    (line, col)
}

#[test]
fn every_sdf_code_has_a_case() {
    let tested: BTreeSet<&str> = cases()
        .iter()
        .map(|c| c.code)
        .chain(ELSEWHERE.iter().copied())
        .collect();
    let all: BTreeSet<&str> = codes::of_room("package")
        .map(|c| c.code)
        .filter(|c| c.starts_with("sdf/"))
        .collect();
    assert_eq!(all, tested);
}

#[test]
fn each_code_at_its_position_with_help_and_no_other_error() {
    let mut failures = Vec::new();
    for c in cases() {
        let at = c.text.find('«').expect("marker");
        let text = c.text.replace('«', "");
        let (line, col) = position(&text, at);
        let v = sdf::validate_text("app.yml", &text);
        let json = v.sources.to_json(&v.diagnostics);
        let severity = codes::lookup(c.code)
            .map(|r| r.severity.as_str())
            .unwrap_or_default();
        let hit = json.iter().any(|d| {
            d["code"] == c.code
                && d["severity"] == severity
                && d["line"] == line
                && d["column"] == col
                && d["help"].as_str().is_some_and(|h| !h.is_empty())
        });
        let others: Vec<_> = json
            .iter()
            .filter(|d| d["severity"] == "error" && d["code"] != c.code)
            .collect();
        if !hit || !others.is_empty() {
            failures.push(format!(
                "{} expected at {line}:{col}:\n{}",
                c.code,
                v.sources.render_text(&v.diagnostics, "")
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn an_id_in_two_files_is_a_duplicate() {
    let dir = tempfile::tempdir().expect("tempdir");
    let one = "lnmp-10:\n  name: A\n  version: 1\n  source: https://r.example.com/a.tgz\n";
    std::fs::write(dir.path().join("a.yml"), one).expect("write");
    std::fs::create_dir(dir.path().join("more")).expect("mkdir");
    std::fs::write(dir.path().join("more/b.yaml"), format!("# again\n{one}")).expect("write");
    let v = sdf::validate_path(dir.path()).expect("readable");
    let json = v.sources.to_json(&v.diagnostics);
    assert_eq!(json.len(), 1, "{json:?}");
    assert_eq!(json[0]["code"], codes::SDF_DUPLICATE_APP);
    assert_eq!(json[0]["file"], "more/b.yaml");
    assert_eq!(
        (json[0]["line"].as_u64(), json[0]["column"].as_u64()),
        (Some(2), Some(1))
    );
    assert_eq!(v.apps.len(), 1);
}

#[test]
fn a_file_over_the_limit_is_refused_unread() {
    let dir = tempfile::tempdir().expect("tempdir");
    let big = format!(
        "# {}\n",
        "x".repeat(usize::try_from(sdf::MAX_FILE_BYTES).unwrap_or(1 << 20))
    );
    std::fs::write(dir.path().join("big.yml"), big).expect("write");
    let v = sdf::validate_path(dir.path()).expect("readable");
    let json = v.sources.to_json(&v.diagnostics);
    assert_eq!(json.len(), 1);
    assert_eq!(json[0]["code"], codes::SDF_TOO_LARGE);
    assert_eq!(json[0]["file"], "big.yml");
    assert_eq!(
        (json[0]["line"].as_u64(), json[0]["column"].as_u64()),
        (Some(1), Some(1))
    );
}

#[test]
fn the_catalog_is_deterministic_and_sorted() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (file, id) in [
        ("z.yml", "alpha-1"),
        ("a.yml", "zeta-1"),
        ("m.yml", "mid-1"),
    ] {
        std::fs::write(
            dir.path().join(file),
            format!("{id}:\n  name: {id}\n  version: 1\n  source: https://r.example.com/{id}.tgz\n  variables:\n    x: {{type: String, default: 'a: b'}}\n"),
        )
        .expect("write");
    }
    let first = sdf::build_catalog(&sdf::validate_path(dir.path()).expect("read")).expect("built");
    let again = sdf::build_catalog(&sdf::validate_path(dir.path()).expect("read")).expect("built");
    assert_eq!(first, again);
    let doc: serde_json::Value = serde_yaml::from_str(&first).expect("the catalog parses");
    let ids: Vec<&String> = doc["applications"]
        .as_object()
        .expect("apps")
        .keys()
        .collect();
    assert_eq!(ids, ["alpha-1", "mid-1", "zeta-1"]);
    assert_eq!(
        doc["applications"]["mid-1"]["variables"]["x"]["default"],
        "a: b"
    );
    // A folder with an error builds nothing.
    std::fs::write(dir.path().join("bad.yml"), "bad-1:\n  name: B\n").expect("write");
    assert!(sdf::build_catalog(&sdf::validate_path(dir.path()).expect("read")).is_none());
}
