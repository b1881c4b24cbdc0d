//! VK's public Grafana marketplace manifest (copied from shared/fixtures/vk-docs/deployment).

use vitrina_hcl::{parse, references, Expression};

const GRAFANA: &str = include_str!("fixtures/grafana.deploy.tf");

#[test]
fn grafana_manifest_parses_with_structure() {
    let m = parse("deployment/grafana.deploy.tf", GRAFANA).expect("parses");
    assert!(m.variables.iter().any(|v| v.name == "ds-az"));
    assert!(m.locals.iter().any(|l| l.name == "start"));
    assert!(m
        .resources
        .iter()
        .any(|r| r.type_name == "ivkcs_agent_exec" && r.name == "start"));
    assert!(m.outputs.iter().any(|o| o.name == "keypair" && o.sensitive));
}

#[test]
fn grafana_start_script_keeps_its_shebang() {
    let m = parse("deployment/grafana.deploy.tf", GRAFANA).expect("parses");
    let start = m
        .locals
        .iter()
        .find(|l| l.name == "start")
        .expect("local.start");
    let Expression::HeredocTemplate(h) = &start.expr else {
        panic!("local.start is a heredoc")
    };
    let first = h
        .template
        .iter()
        .next()
        .and_then(|e| e.as_literal())
        .expect("starts with a literal");
    assert!(
        first
            .value()
            .starts_with("#!/bin/bash\nansible-playbook start.yml \\\n  --extra-vars"),
        "{:?}",
        first.value()
    );
    let names: Vec<String> = references(&start.expr)
        .iter()
        .map(ToString::to_string)
        .collect();
    assert!(names.contains(&"var.grafana_placement".to_string()));
    assert!(names.contains(&"ivkcs_s3.s3_backup[0].access".to_string()));
    assert!(names.contains(&"local.grafana_root_url".to_string()));
}
