//! The broker catalog: golden output, determinism, schema sections, `parameters_patch` per plan.

mod common;

use std::path::Path;

use common::build;
use serde_json::Value;

fn catalog_text(files: &vitrina_package::PackageFiles) -> String {
    let v = vitrina_package::validate(files);
    assert!(!v.diagnostics.has_errors(), "{:?}", v.diagnostics);
    let c = vitrina_package::build_catalog(&v).expect("no errors, so a catalog");
    vitrina_package::catalog::to_text(&c)
}

#[test]
fn base_catalog_is_golden_and_deterministic() {
    let first = catalog_text(&build(&[]).files);
    let second = catalog_text(&build(&[]).files);
    assert_eq!(first, second, "two builds must give identical bytes");
    let json: Value = serde_json::from_str(&first).unwrap();
    insta::assert_json_snapshot!("base_catalog", json);
}

fn plan<'a>(catalog: &'a Value, name: &str) -> &'a Value {
    catalog["services"][0]["plans"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == name)
        .unwrap()
}

#[test]
fn every_plan_has_all_four_schema_sections() {
    let json: Value = serde_json::from_str(&catalog_text(&build(&[]).files)).unwrap();
    for p in json["services"][0]["plans"].as_array().unwrap() {
        let s = &p["schemas"];
        for section in [
            &s["service_instance"]["create"]["parameters"],
            &s["service_instance"]["update"]["parameters"],
            &s["service_instance"]["resource_usages"]["parameters"],
            &s["service_binding"]["create"]["parameters"],
        ] {
            assert_eq!(section["type"], "object", "{section}");
            assert!(section["properties"].is_object(), "{section}");
        }
        assert_eq!(
            s["service_instance"]["create"]["parameters"]["$schema"],
            "http://json-schema.org/draft-04/schema#"
        );
        let sha = p["x-deployment"]["sha256"].as_str().unwrap();
        assert_eq!(sha.len(), 64);
    }
}

#[test]
fn parameters_patch_shows_in_the_patched_plan_only() {
    let json: Value = serde_json::from_str(&catalog_text(&build(&[]).files)).unwrap();
    let props = |name: &str| {
        plan(&json, name)["schemas"]["service_instance"]["create"]["parameters"]["properties"]
            ["disk_size"]
            .clone()
    };
    let basic = props("basic");
    let pro = props("pro");
    assert_eq!(basic["default"], 10);
    assert_eq!(basic["minimum"], 10);
    assert_eq!(pro["default"], 20);
    assert_eq!(pro["minimum"], 20);
    assert_eq!(pro["maximum"], 100, "unpatched keys stay");
}

#[test]
fn user_step_option_keeps_steps_and_billing_goes_to_options() {
    let json: Value = serde_json::from_str(&catalog_text(&build(&[]).files)).unwrap();
    let p = plan(&json, "pro");
    let extra =
        &p["schemas"]["service_instance"]["create"]["parameters"]["properties"]["extra_space"];
    assert_eq!(extra["default"], 0);
    assert_eq!(extra["maximum"], 5);
    assert_eq!(
        p["billing"]["options"]["extra_space"],
        serde_json::json!({"base": 10, "cost": 100, "unit": {"size": 10, "measurement": "GB"}})
    );
    assert_eq!(p["billing"]["billing_cycle_flat"], "1 mons 0 days");
    assert_eq!(p["x-deployment"]["manifest"], "demo_pro_1.0");
    assert_eq!(
        p["x-deployment"]["settings"],
        serde_json::json!({"preset": "base_v3", "retry": false})
    );
}

#[test]
fn section_patch_replaces_the_whole_section() {
    let b = build(&[common::sub(
        "plans/pro/plan.yaml",
        "parameters_patch:\n",
        "parameters_patch:\n  extra_space:\n    billing:\n      base: 0\n      cost: 50\n      unit:\n        size: 1\n",
    )]);
    let json: Value = serde_json::from_str(&catalog_text(&b.files)).unwrap();
    assert_eq!(
        plan(&json, "pro")["billing"]["options"]["extra_space"],
        serde_json::json!({"base": 0, "cost": 50, "unit": {"size": 1}})
    );
    assert_eq!(
        plan(&json, "basic")["billing"]["options"]["extra_space"]["cost"],
        100
    );
}

#[test]
fn examples_validate_clean_and_build_golden() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/packages");
    let mut names: Vec<String> = std::fs::read_dir(&root)
        .unwrap_or_else(|e| panic!("examples/packages must exist next to crates/: {e}"))
        .filter_map(Result::ok)
        .filter(|e| e.path().join("service.yaml").is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert!(
        names.len() >= 3,
        "expected the three example packages, found {names:?}"
    );
    for name in names {
        let v = vitrina_package::validate_path(&root.join(&name)).unwrap();
        // hello_web lets consumers move between its plans through vitrina's broker, which VK
        // Cloud would refuse: that warning is the only one an example may have.
        assert!(
            v.diagnostics
                .iter()
                .all(|d| name == "hello_web" && d.code == "service/plan-updateable"),
            "{name}: {}",
            v.sources.render_text(&v.diagnostics, "")
        );
        let a = vitrina_package::catalog::to_text(&vitrina_package::build_catalog(&v).unwrap());
        let again = vitrina_package::validate_path(&root.join(&name)).unwrap();
        let b = vitrina_package::catalog::to_text(&vitrina_package::build_catalog(&again).unwrap());
        assert_eq!(a, b, "{name}: two builds differ");
        // The manifests' hashes are checked here and left out of the golden file, so editing a
        // script does not churn it.
        let mut json: Value = serde_json::from_str(&a).unwrap();
        for p in json["services"][0]["plans"].as_array_mut().unwrap() {
            let sha = p["x-deployment"]["sha256"].as_str().unwrap_or_default();
            assert!(
                sha.len() == 64 && sha.bytes().all(|b| b.is_ascii_hexdigit()),
                "{sha}"
            );
            p["x-deployment"]["sha256"] = Value::from("<sha256 of the manifest>");
        }
        insta::assert_json_snapshot!(format!("example_{name}"), json);
    }
}

#[test]
fn osb_catalog_converts_user_steps_to_values() {
    let vk: Value = serde_json::from_str(&catalog_text(&build(&[]).files)).unwrap();
    let osb = vitrina_package::catalog::to_osb(&vk);
    let prop = |c: &Value, section: &str| {
        plan(c, "pro")["schemas"]["service_instance"][section]["parameters"]["properties"]
            ["extra_space"]
            .clone()
    };
    // base 10, size 10; steps default 0, minimum 0, maximum 5.
    for section in ["create", "update"] {
        let p = prop(&osb, section);
        assert_eq!(p["default"], 10);
        assert_eq!(p["minimum"], 10);
        assert_eq!(p["maximum"], 60);
        assert_eq!(p["multipleOf"], 10);
    }
    assert_eq!(
        prop(&vk, "create")["maximum"],
        5,
        "the VK catalog keeps steps"
    );
    // Options without steps are untouched.
    let disk = |c: &Value| {
        plan(c, "pro")["schemas"]["service_instance"]["create"]["parameters"]["properties"]
            ["disk_size"]
            .clone()
    };
    assert_eq!(disk(&osb), disk(&vk));
}
