//! The marketplace manifests (the seed's Kafka example and VK's Grafana `deploy.tf`) parse, plan
//! and apply, and every local, `count` and template evaluates to what Terraform gives, when the
//! resource attributes they read are supplied. The `vkcs_*` / `ivkcs_*` types here are an echo
//! provider registered by this test only: it stores its configuration and fills the computed
//! attributes the manifests read from a table below.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use common::Case;
use sha2::Digest as _;
use vitrina_engine::config::Config;
use vitrina_engine::plan::PlanMode;
use vitrina_engine::provider::{
    ApplyError, AttrType, Attribute, BoxFuture, ConfiguredProvider, CreateRequest, DeleteRequest,
    Nesting, Provider, ProviderError, ProviderRegistry, ProviderSchema, ReadDataRequest, Schema,
};
use vitrina_engine::{ResourceMode, State, Value};

/// Attributes the provider computes, by type (what the manifests read back).
fn computed_attrs(type_name: &str) -> &'static [&'static str] {
    match type_name {
        "vkcs_compute_instance" => &["id", "access_ip_v4"],
        "vkcs_networking_subnet" => &["id", "sdn", "network_id"],
        "vkcs_compute_flavor" => &["id"],
        "vkcs_networking_floatingip" => &["id", "address"],
        "ivkcs_agent_init" => &["id", "agent"],
        "ivkcs_s3" => &["id", "access", "secret"],
        "ivkcs_ssh_keypair" => &["id", "public_key", "private_key"],
        "ivkcs_user_data" => &["id", "user_data"],
        "ivkcs_agent_script_result" => &["id", "structured_result"],
        _ => &["id"],
    }
}

fn short_hash(v: &Value) -> String {
    let digest = sha2::Sha256::digest(v.to_string().as_bytes());
    hex::encode(&digest[..4])
}

/// The supplied value of a computed attribute.
fn computed_value(type_name: &str, attr: &str, config: &Value) -> Value {
    let h = short_hash(config);
    match (type_name, attr) {
        (_, "id") => Value::string(format!("{type_name}-{h}")),
        ("vkcs_compute_instance", "access_ip_v4") => {
            let n = u8::from_str_radix(&h[..2], 16).unwrap_or(1) % 200 + 10;
            Value::string(format!("10.0.0.{n}"))
        }
        ("vkcs_networking_subnet", "sdn") => Value::string("neutron"),
        ("vkcs_networking_subnet", "network_id") => Value::string("net-0001"),
        ("vkcs_networking_floatingip", "address") => Value::string("212.111.84.10"),
        ("ivkcs_agent_init", "agent") => Value::Map(
            config
                .get("hosts")
                .as_list()
                .unwrap_or_default()
                .iter()
                .filter_map(|h| h.as_str())
                .map(|h| {
                    (
                        h.to_owned(),
                        Value::string(format!("#cloud-config for {h}")),
                    )
                })
                .collect(),
        ),
        ("ivkcs_s3", "access") => Value::string("ACCESSKEY"),
        ("ivkcs_s3", "secret") => Value::string("SECRETKEY"),
        ("ivkcs_ssh_keypair", "public_key") => Value::string("ssh-ed25519 AAAA test"),
        ("ivkcs_ssh_keypair", "private_key") => {
            Value::string("-----BEGIN OPENSSH PRIVATE KEY-----")
        }
        ("ivkcs_user_data", "user_data") => {
            Value::List(vec![Value::string("#cloud-config\nagent: yes\n")])
        }
        ("ivkcs_agent_script_result", "structured_result") => {
            Value::map([("cert_archive", Value::string("Q0VSVA=="))])
        }
        _ => Value::Null,
    }
}

/// A schema made from how the configuration uses a type: every attribute optional and dynamic,
/// every nested block a list, plus the computed attributes above.
fn schema_from_blocks<'a>(
    blocks: impl Iterator<Item = &'a vitrina_hcl::Block>,
    computed: &[&str],
    top: bool,
) -> Schema {
    let mut s = Schema::new();
    let mut nested: BTreeMap<String, Vec<vitrina_hcl::Block>> = BTreeMap::new();
    for b in blocks {
        for a in &b.attributes {
            if top && ["count", "for_each", "depends_on", "provider"].contains(&a.name.as_str()) {
                continue;
            }
            s = s.attr(&a.name, Attribute::optional(AttrType::Dynamic));
        }
        for inner in &b.blocks {
            if top && ["lifecycle", "timeouts"].contains(&inner.kind.as_str()) {
                continue;
            }
            nested
                .entry(inner.kind.clone())
                .or_default()
                .push(inner.clone());
        }
    }
    for c in computed {
        let attr = if s.attributes.contains_key(*c) {
            Attribute::optional_computed(AttrType::Dynamic)
        } else {
            Attribute::computed(AttrType::Dynamic)
        };
        s = s.attr(c, attr);
    }
    for (kind, bs) in nested {
        s = s.block(
            &kind,
            Nesting::List,
            schema_from_blocks(bs.iter(), &[], false),
        );
    }
    s
}

#[derive(Clone)]
struct Echo {
    schema: ProviderSchema,
}

impl Echo {
    fn for_prefix(config: &Config, prefix: &str) -> Echo {
        let mut schema = ProviderSchema::default();
        let mut by_type: BTreeMap<(ResourceMode, String), Vec<vitrina_hcl::Block>> =
            BTreeMap::new();
        for (addr, rc) in &config.resources {
            if addr.type_name.starts_with(prefix) {
                by_type
                    .entry((addr.mode, addr.type_name.clone()))
                    .or_default()
                    .push(rc.block.clone());
            }
        }
        for ((mode, t), blocks) in by_type {
            let s = schema_from_blocks(blocks.iter(), computed_attrs(&t), true);
            match mode {
                ResourceMode::Managed => schema.resources.insert(t, s),
                ResourceMode::Data => schema.data_sources.insert(t, s),
            };
        }
        Echo { schema }
    }

    fn fill(type_name: &str, planned: &Value, config: &Value) -> Value {
        let mut out = planned.clone();
        for c in computed_attrs(type_name) {
            if out.get(c).is_unknown() || out.get(c).is_null() {
                out.set(c, computed_value(type_name, c, config));
            }
        }
        out
    }
}

impl Provider for Echo {
    fn schema(&self) -> ProviderSchema {
        self.schema.clone()
    }

    fn configure(
        &self,
        _config: Value,
    ) -> BoxFuture<'_, Result<Arc<dyn ConfiguredProvider>, ProviderError>> {
        let p: Arc<dyn ConfiguredProvider> = Arc::new(self.clone());
        Box::pin(async move { Ok(p) })
    }
}

impl ConfiguredProvider for Echo {
    fn create(&self, req: CreateRequest) -> BoxFuture<'_, Result<Value, ApplyError>> {
        Box::pin(async move { Ok(Echo::fill(&req.type_name, &req.planned, &req.config)) })
    }

    fn delete(&self, _req: DeleteRequest) -> BoxFuture<'_, Result<(), ApplyError>> {
        Box::pin(async { Ok(()) })
    }

    fn read_data(&self, req: ReadDataRequest) -> BoxFuture<'_, Result<Value, ProviderError>> {
        Box::pin(async move { Ok(Echo::fill(&req.type_name, &req.config, &req.config)) })
    }
}

const UUID: &str = "4a57a965-3c83-436c-80e2-428e421538cc";

fn case_for(manifest: &str, extra_outputs: &str) -> Case {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("main.tf"), manifest).expect("write");
    std::fs::write(dir.path().join("zz_test_outputs.tf"), extra_outputs).expect("write");
    let (config, diags) = Config::load_dir(dir.path());
    assert!(!diags.has_errors(), "{diags:?}");
    let mut registry = ProviderRegistry::with_builtins();
    registry.register("vkcs", Arc::new(Echo::for_prefix(&config, "vkcs_")));
    registry.register("ivkcs", Arc::new(Echo::for_prefix(&config, "ivkcs_")));
    let case = Case::with_registry(manifest, registry);
    std::fs::write(case.path().join("zz_test_outputs.tf"), extra_outputs).expect("write");
    case
}

fn instances<'a>(state: &'a State, addr: &str) -> Vec<&'a Value> {
    state
        .resources
        .iter()
        .filter(|(r, _)| r.to_string() == addr)
        .flat_map(|(_, rs)| rs.instances.values())
        .filter_map(|i| i.current.as_ref().map(|o| &o.attributes))
        .collect()
}

fn one<'a>(state: &'a State, addr: &str, index: usize) -> &'a Value {
    instances(state, addr)
        .get(index)
        .copied()
        .unwrap_or_else(|| panic!("{addr}[{index}] missing"))
}

fn output(state: &State, name: &str) -> serde_json::Value {
    state
        .outputs
        .get(name)
        .unwrap_or_else(|| panic!("output {name}"))
        .value
        .clone()
}

const KAFKA_OUTPUTS: &str = r#"
output "test_count_vm" { value = local.count_vm }
output "test_hosts_name" { value = local.hosts_name }
output "test_ansible" { value = local.ansible }
"#;

#[tokio::test]
async fn kafka_manifest_evaluates_like_terraform() {
    let mut case = case_for(
        include_str!("../../../fixtures/vk-seed/kafka.deploy.tf"),
        KAFKA_OUTPUTS,
    );
    case.inputs.set(
        "instance_uuid",
        vitrina_hcl::Value::string(UUID),
        "test",
        true,
    );
    let planned = case.apply(PlanMode::Normal).await;
    let s = case.state();

    // Locals.
    assert_eq!(output(&s, "test_count_vm"), serde_json::json!(3));
    let hosts: Vec<String> = (1..=3).map(|i| format!("{UUID}-kafka-{i}")).collect();
    assert_eq!(output(&s, "test_hosts_name"), serde_json::json!(hosts));
    let ips: Vec<String> = (0..3)
        .map(|i| {
            one(&s, "vkcs_compute_instance.compute", i)
                .get("access_ip_v4")
                .as_str()
                .expect("ip")
                .to_owned()
        })
        .collect();
    let ansible = serde_json::json!({"hosts": (0..3).map(|i| serde_json::json!({
        "hostname": format!("{}.novalocal", hosts[i]), "ip": ips[i], "id": i + 1
    })).collect::<Vec<_>>()});
    assert_eq!(output(&s, "test_ansible"), ansible);

    // Counts.
    for (addr, n) in [
        ("vkcs_networking_secgroup_rule.rules", 7),
        ("vkcs_blockstorage_volume.kafka_data", 3),
        ("ivkcs_agent_status.status_host", 3),
        ("null_resource.replacement_trigger", 3),
        ("vkcs_compute_instance.compute", 3),
        ("vkcs_compute_volume_attach.attached", 3),
    ] {
        assert_eq!(instances(&s, addr).len(), n, "{addr}");
    }

    // Templates and references.
    assert_eq!(
        one(&s, "vkcs_blockstorage_volume.kafka_data", 1).get("name"),
        &Value::string(format!("{UUID}-kafka-2-storage"))
    );
    let rule3 = one(&s, "vkcs_networking_secgroup_rule.rules", 3);
    assert_eq!(rule3.get("port_range_max"), &Value::int(3888));
    assert_eq!(rule3.get("description"), &Value::string("secgroup_rule_4"));
    assert_eq!(
        one(&s, "vkcs_networking_secgroup.secgroup", 0).get("name"),
        &Value::string(format!("{UUID}-security_group_for_kafka"))
    );
    let vm2 = one(&s, "vkcs_compute_instance.compute", 2);
    assert_eq!(vm2.get("name"), &Value::string(hosts[2].clone()));
    assert_eq!(
        vm2.get("user_data"),
        &Value::string(format!("#cloud-config for {}", hosts[2]))
    );
    let flavor = instances(&s, "data.vkcs_compute_flavor.compute")[0]
        .get("id")
        .clone();
    assert_eq!(vm2.get("flavor_id"), &flavor);
    assert_eq!(
        vm2.get("block_device")
            .as_list()
            .map(|b| b[0].get("volume_size").clone()),
        Some(Value::int(10))
    );
    for i in 0..3 {
        let att = one(&s, "vkcs_compute_volume_attach.attached", i);
        assert_eq!(
            att.get("instance_id"),
            one(&s, "vkcs_compute_instance.compute", i).get("id")
        );
        assert_eq!(
            att.get("volume_id"),
            one(&s, "vkcs_blockstorage_volume.kafka_data", i).get("id")
        );
    }
    let ssl = one(&s, "ivkcs_agent_exec.initssl", 0);
    let step = &ssl.get("step").as_list().expect("step")[0];
    assert_eq!(
        step.get("content"),
        &Value::string("#!/bin/bash\nansible-playbook ssl_init.yml --extra-vars \"ssl_ca_password=SSL_CA_PASSWORD\"\n")
    );
    assert_eq!(
        step.get("options").get("structured_result_file"),
        &Value::string("/tmp/cert_result.json")
    );
    let sync = one(&s, "ivkcs_agent_exec.sync", 0);
    let content = sync.get("step").as_list().expect("step")[0]
        .get("content")
        .as_str()
        .expect("content")
        .to_owned();
    // `jsonencode` writes object keys in lexical order.
    let hosts_json: Vec<String> = (0..3)
        .map(|i| {
            format!(
                "{{\"hostname\":\"{}.novalocal\",\"id\":{},\"ip\":\"{}\"}}",
                hosts[i],
                i + 1,
                ips[i]
            )
        })
        .collect();
    let expected_tail = format!(
        "--extra-vars \"max_expected_topics=15\" \\\n--extra-vars '{{\"hosts\":[{}]}}' \\\n--extra-vars '{{\"cert_archive\":\"Q0VSVA==\"}}'\n",
        hosts_json.join(",")
    );
    assert!(content.ends_with(&expected_tail), "{content}");
    assert!(content.starts_with("#!/bin/bash\nansible-playbook start.yml \\\n--extra-vars \"ssl_ca_password=SSL_CA_PASSWORD\" \\\n"), "{content}");
    let checks = one(&s, "ivkcs_agent_check.health", 0)
        .get("port_health")
        .as_list()
        .expect("checks")
        .to_vec();
    assert_eq!(
        checks
            .iter()
            .map(|c| c.get("port").clone())
            .collect::<Vec<_>>(),
        vec![Value::int(9092), Value::int(2182)]
    );

    // Outputs.
    assert_eq!(output(&s, "address"), serde_json::json!(ips));
    assert_eq!(output(&s, "cert"), serde_json::json!("Q0VSVA=="));
    assert!(s.outputs["cert"].sensitive && s.outputs["image"].sensitive);

    // The plan read the data source whose inputs were known, deferred the dependent one.
    let deferred = planned
        .plan
        .change("data.ivkcs_agent_script_result.ssl")
        .expect("ssl read");
    assert_eq!(deferred.action, vitrina_engine::Action::Read);
    case.assert_no_changes().await;
}

const GRAFANA_OUTPUTS: &str = r#"
output "test_short_name" { value = local.short_name }
output "test_hosts_name" { value = local.hosts_name }
output "test_domain" { value = local.grafana_domain }
"#;

fn grafana_start(ip_or_domain: &str, external: bool) -> String {
    let (lego, url) = if external {
        ("true", format!("https://{ip_or_domain}"))
    } else {
        ("false", format!("http://{ip_or_domain}"))
    };
    format!(
        "#!/bin/bash\nansible-playbook start.yml \\\n  --extra-vars \"lego_enabled={lego}\" \\\n  --extra-vars \"lego_email=user@example.com\" \\\n  --extra-vars \"backup_enabled=true\" \\\n  --extra-vars \"backup_access_token=ACCESSKEY\" \\\n  --extra-vars \"backup_secret_token=SECRETKEY\" \\\n  --extra-vars \"backup_bucket_name=4a57a965-grafana-backup_bucket\" \\\n  --extra-vars \"grafana_domain={ip_or_domain}\" \\\n  --extra-vars \"grafana_root_url={url}\"\n"
    )
}

#[tokio::test]
async fn grafana_manifest_evaluates_like_terraform_internal() {
    let case = case_for(
        include_str!("../../../fixtures/vk-docs/deployment/grafana.deploy.tf"),
        GRAFANA_OUTPUTS,
    );
    case.apply(PlanMode::Normal).await;
    let s = case.state();
    assert_eq!(output(&s, "test_short_name"), serde_json::json!("4a57a965"));
    assert_eq!(
        output(&s, "test_hosts_name"),
        serde_json::json!("4a57a965-grafana")
    );
    let ip = one(&s, "vkcs_compute_instance.grafana", 0)
        .get("access_ip_v4")
        .as_str()
        .expect("ip")
        .to_owned();
    assert_eq!(output(&s, "test_domain"), serde_json::json!(ip));
    assert_eq!(
        output(&s, "grafana_url"),
        serde_json::json!(format!("http://{ip}"))
    );
    assert_eq!(instances(&s, "ivkcs_s3.s3_backup").len(), 1);
    assert_eq!(
        output(&s, "s3_backup"),
        serde_json::json!(one(&s, "ivkcs_s3.s3_backup", 0).get("id").as_str())
    );
    assert_eq!(
        one(&s, "ivkcs_s3.s3_backup", 0).get("name"),
        &Value::string("4a57a965-grafana-backup")
    );
    assert_eq!(
        instances(&s, "vkcs_networking_secgroup_rule.rules").len(),
        3
    );
    assert_eq!(
        one(&s, "vkcs_networking_secgroup_rule.rules", 1).get("description"),
        &Value::string("rule_tcp_80")
    );
    assert_eq!(
        one(&s, "vkcs_networking_secgroup.secgroup", 0).get("sdn"),
        &Value::string("neutron")
    );
    for none in [
        "vkcs_networking_floatingip.fips",
        "vkcs_compute_floatingip_associate.fip",
        "ivkcs_dns.grafana",
    ] {
        assert!(instances(&s, none).is_empty(), "{none}");
    }
    let vm = one(&s, "vkcs_compute_instance.grafana", 0);
    assert_eq!(
        vm.get("user_data"),
        &Value::string("#cloud-config\nagent: yes\n")
    );
    assert_eq!(
        vm.get("metadata"),
        &Value::map([
            ("product", Value::string("grafana")),
            ("sid", Value::string("xaas"))
        ])
    );
    let start = one(&s, "ivkcs_agent_exec.start", 0)
        .get("step")
        .as_list()
        .expect("step")[0]
        .clone();
    assert_eq!(
        start.get("content"),
        &Value::string(grafana_start(&ip, false))
    );
    assert_eq!(
        start
            .get("options")
            .as_list()
            .map(|o| o[0].get("timeout").clone()),
        Some(Value::string("20m"))
    );
    let health = one(&s, "ivkcs_agent_check.health", 0)
        .get("http_health")
        .as_list()
        .expect("health")[0]
        .clone();
    assert_eq!(health.get("protocol"), &Value::string("http"));
    assert_eq!(health.get("host"), &Value::string(ip.clone()));
    assert_eq!(
        health.get("http_codes"),
        &Value::List(vec![Value::int(200)])
    );
    assert!(s.outputs["keypair"].sensitive);
    case.assert_no_changes().await;
}

#[tokio::test]
async fn grafana_manifest_evaluates_like_terraform_external() {
    let mut case = case_for(
        include_str!("../../../fixtures/vk-docs/deployment/grafana.deploy.tf"),
        GRAFANA_OUTPUTS,
    );
    case.inputs.set(
        "grafana_placement",
        vitrina_hcl::Value::string("external"),
        "test",
        true,
    );
    case.apply(PlanMode::Normal).await;
    let s = case.state();
    for one_of in [
        "vkcs_networking_floatingip.fips",
        "vkcs_compute_floatingip_associate.fip",
        "ivkcs_dns.grafana",
    ] {
        assert_eq!(instances(&s, one_of).len(), 1, "{one_of}");
    }
    assert_eq!(
        one(&s, "vkcs_networking_floatingip.fips", 0).get("pool"),
        &Value::string("ext-net")
    );
    assert_eq!(
        one(&s, "vkcs_compute_floatingip_associate.fip", 0).get("floating_ip"),
        &Value::string("212.111.84.10")
    );
    let domain = "grafana-4a57a965.xaas.msk.vkcs.cloud";
    assert_eq!(output(&s, "test_domain"), serde_json::json!(domain));
    assert_eq!(
        output(&s, "grafana_url"),
        serde_json::json!(format!("https://{domain}"))
    );
    let start = one(&s, "ivkcs_agent_exec.start", 0)
        .get("step")
        .as_list()
        .expect("step")[0]
        .clone();
    assert_eq!(
        start.get("content"),
        &Value::string(grafana_start(domain, true))
    );
}
