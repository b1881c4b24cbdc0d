//! VK's public Grafana marketplace manifest (`fixtures/vk-docs/deployment`, shared by the tests).

use vitrina_hcl::{parse, references, Expression};

const GRAFANA: &str = include_str!("../../../fixtures/vk-docs/deployment/grafana.deploy.tf");

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

#[test]
fn grafana_start_script_evaluates_with_its_shebang() {
    use vitrina_hcl::eval::{evaluate, EvalContext};
    use vitrina_hcl::Value;

    let m = parse("deployment/grafana.deploy.tf", GRAFANA).expect("parses");
    let start = m
        .locals
        .iter()
        .find(|l| l.name == "start")
        .expect("local.start");
    let mut ctx = EvalContext::new();
    ctx.set_variable(
        "var",
        Value::object([
            ("grafana_placement", Value::from("external")),
            ("email", Value::from("ops@example.com")),
            ("backup_style", Value::from("none")),
        ]),
    );
    // count = 0: the backup bucket does not exist, so `try(...[0]...)` falls back.
    ctx.set_variable(
        "ivkcs_s3",
        Value::object([("s3_backup", Value::Tuple(vec![]))]),
    );
    ctx.set_variable(
        "local",
        Value::object([
            ("grafana_domain", Value::from("grafana.example.com")),
            (
                "grafana_root_url",
                Value::from("https://grafana.example.com"),
            ),
        ]),
    );
    let v = evaluate(&start.expr, &ctx).expect("evaluates");
    let text = v.as_str().expect("a string");
    assert_eq!(
        text,
        "#!/bin/bash\n\
         ansible-playbook start.yml \\\n  \
         --extra-vars \"lego_enabled=true\" \\\n  \
         --extra-vars \"lego_email=ops@example.com\" \\\n  \
         --extra-vars \"backup_enabled=false\" \\\n  \
         --extra-vars \"backup_access_token=n/a\" \\\n  \
         --extra-vars \"backup_secret_token=n/a\" \\\n  \
         --extra-vars \"backup_bucket_name=n/a_bucket\" \\\n  \
         --extra-vars \"grafana_domain=grafana.example.com\" \\\n  \
         --extra-vars \"grafana_root_url=https://grafana.example.com\"\n"
    );
}
