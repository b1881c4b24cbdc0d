//! Real marketplace manifests: VK's Grafana example and the Kafka manifest of the VK seed
//! (appendix C). Every local, every `count` and every string template in them evaluates, given
//! variable defaults and the resource attributes they read.

use std::collections::BTreeMap;

use vitrina_hcl::eval::{evaluate, evaluate_constant, EvalContext};
use vitrina_hcl::{parse, Block, Expression, Module, Value};

const GRAFANA: &str = include_str!("../../../fixtures/vk-docs/deployment/grafana.deploy.tf");
const KAFKA: &str = include_str!("../../../fixtures/vk-seed/kafka.deploy.tf");

/// `var` from each variable's default, then `overrides`.
fn variables(m: &Module, overrides: &[(&str, Value)]) -> Value {
    let mut vars = BTreeMap::new();
    for v in &m.variables {
        if let Some(d) = &v.default {
            let value = evaluate_constant(&d.expr)
                .unwrap_or_else(|e| panic!("default of `{}`: {e}", v.name));
            vars.insert(v.name.clone(), value);
        }
    }
    for (k, v) in overrides {
        vars.insert((*k).to_string(), v.clone());
    }
    Value::Object(vars)
}

/// Evaluates locals in dependency order (repeating until none is left), as the engine would.
fn locals(m: &Module, ctx: &mut EvalContext) -> BTreeMap<String, Value> {
    let mut done: BTreeMap<String, Value> = BTreeMap::new();
    let mut pending: Vec<_> = m.locals.iter().collect();
    while !pending.is_empty() {
        ctx.set_variable("local", Value::Object(done.clone()));
        let before = pending.len();
        let mut last_err = String::new();
        pending.retain(|l| match evaluate(&l.expr, ctx) {
            Ok(v) => {
                done.insert(l.name.clone(), v);
                false
            }
            Err(e) => {
                last_err = format!("local.{}: {e}", l.name);
                true
            }
        });
        assert!(pending.len() < before, "locals do not converge: {last_err}");
    }
    ctx.set_variable("local", Value::Object(done.clone()));
    done
}

fn is_template(e: &Expression) -> bool {
    matches!(
        e,
        Expression::StringTemplate(_) | Expression::HeredocTemplate(_)
    )
}

/// Evaluates `count` and every template attribute of a block (and nested blocks) with
/// `count.index = 0`; returns how many were evaluated.
fn evaluate_block(block: &Block, ctx: &EvalContext, what: &str) -> usize {
    let mut n = 0;
    for a in &block.attributes {
        if a.name == "count" || is_template(&a.expr) {
            if let Err(e) = evaluate(&a.expr, ctx) {
                panic!("{what}.{}: {e}", a.name);
            }
            n += 1;
        }
    }
    for b in &block.blocks {
        n += evaluate_block(b, ctx, what);
    }
    n
}

fn instance(attrs: &[(&str, Value)]) -> Value {
    Value::object(attrs.iter().map(|(k, v)| (*k, v.clone())))
}

#[test]
fn kafka_manifest_evaluates() {
    let m = parse("deployment/kafka.deploy.tf", KAFKA).expect("the repaired Kafka manifest parses");
    let mut ctx = EvalContext::new();
    ctx.set_variable(
        "var",
        variables(
            &m,
            &[
                ("instance_uuid", Value::from("4e2a")),
                ("sub_network", Value::from("kafka-net")),
            ],
        ),
    );
    ctx.set_variable("count", Value::object([("index", Value::from(0.0))]));
    // What the resources the locals and templates read would hold after apply.
    let vms: Vec<Value> = (0..3)
        .map(|i| instance(&[("access_ip_v4", Value::from(format!("10.0.0.{}", i + 10)))]))
        .collect();
    ctx.set_variable(
        "vkcs_compute_instance",
        Value::object([("compute", Value::Tuple(vms))]),
    );
    ctx.set_variable(
        "data",
        Value::object([(
            "ivkcs_agent_script_result",
            Value::object([(
                "ssl",
                instance(&[(
                    "structured_result",
                    Value::object([("cert_archive", Value::from("H4sI"))]),
                )]),
            )]),
        )]),
    );
    let locals = locals(&m, &mut ctx);
    assert_eq!(locals.get("count_vm"), Some(&Value::from(3.0)));
    assert_eq!(
        locals.get("hosts_name"),
        Some(&Value::Tuple(vec![
            "4e2a-kafka-1".into(),
            "4e2a-kafka-2".into(),
            "4e2a-kafka-3".into(),
        ]))
    );
    let ansible = locals.get("ansible").expect("local.ansible");
    let hosts = ansible
        .get_attr("hosts")
        .and_then(Value::as_elements)
        .expect("hosts");
    assert_eq!(hosts.len(), 3);
    assert_eq!(
        hosts.get(1),
        Some(&Value::object([
            ("hostname", Value::from("4e2a-kafka-2.novalocal")),
            ("id", Value::from(2.0)),
            ("ip", Value::from("10.0.0.11")),
        ]))
    );

    let mut evaluated = 0;
    for r in &m.resources {
        evaluated += evaluate_block(&r.block, &ctx, &format!("{}.{}", r.type_name, r.name));
    }
    assert!(
        evaluated >= 10,
        "only {evaluated} counts and templates found"
    );

    // The sync script: heredoc with interpolations mid-line, jsonencode of a local.
    let sync = m
        .resources
        .iter()
        .find(|r| r.name == "sync")
        .and_then(|r| r.block.blocks_of("step").next())
        .and_then(|s| s.attribute("content"))
        .expect("sync step content");
    let script = evaluate(&sync.expr, &ctx).expect("evaluates");
    let script = script.as_str().expect("a string");
    assert!(
        script.starts_with("#!/bin/bash\nansible-playbook start.yml \\\n"),
        "{script}"
    );
    assert!(script.contains("--extra-vars \"ssl_ca_password=SSL_CA_PASSWORD\""));
    assert!(script.contains(
        "--extra-vars '{\"hosts\":[{\"hostname\":\"4e2a-kafka-1.novalocal\",\"id\":1,\"ip\":\"10.0.0.10\"}"
    ));
    assert!(script.contains("--extra-vars '{\"cert_archive\":\"H4sI\"}'"));
}

#[test]
fn grafana_manifest_evaluates() {
    let m = parse("deployment/grafana.deploy.tf", GRAFANA).expect("parses");
    let mut ctx = EvalContext::new();
    ctx.set_variable(
        "var",
        variables(
            &m,
            &[
                ("instance_uuid", Value::from("0123456789abcdef")),
                ("email", Value::from("ops@example.com")),
                ("ds-az", Value::from("ME1")),
                ("ds-flavor", Value::from("flavor-1")),
                ("ds-subnet", Value::from("subnet-1")),
                ("image_uuid", Value::from("image-1")),
                ("grafana_placement", Value::from("external")),
                ("backup_style", Value::from("s3")),
            ],
        ),
    );
    ctx.set_variable("count", Value::object([("index", Value::from(0.0))]));
    ctx.set_variable(
        "ivkcs_s3",
        Value::object([(
            "s3_backup",
            Value::Tuple(vec![instance(&[
                ("access", Value::from("AK")),
                ("secret", Value::from("SK").mark_sensitive()),
                ("name", Value::from("b1")),
            ])]),
        )]),
    );
    ctx.set_variable(
        "ivkcs_dns",
        Value::object([(
            "grafana",
            Value::Tuple(vec![instance(&[
                ("name", Value::from("grafana-0123")),
                ("domain", Value::from("example.com")),
            ])]),
        )]),
    );
    ctx.set_variable(
        "vkcs_compute_instance",
        Value::object([(
            "grafana",
            instance(&[("access_ip_v4", Value::from("10.1.1.5"))]),
        )]),
    );
    ctx.set_variable(
        "vkcs_networking_floatingip",
        Value::object([(
            "fips",
            Value::Tuple(vec![instance(&[("address", Value::from("198.51.100.7"))])]),
        )]),
    );
    let locals = locals(&m, &mut ctx);
    let start = locals.get("start").expect("local.start");
    // The S3 secret is sensitive, so the script that embeds it is too.
    assert!(start.is_sensitive());
    let text = start.unmarked().as_str().expect("a string");
    assert!(
        text.starts_with("#!/bin/bash\nansible-playbook start.yml"),
        "{text}"
    );
    assert!(text.contains("backup_secret_token=SK"));
    let mut evaluated = 0;
    for r in &m.resources {
        evaluated += evaluate_block(&r.block, &ctx, &format!("{}.{}", r.type_name, r.name));
    }
    assert!(
        evaluated >= 5,
        "only {evaluated} counts and templates found"
    );
}
