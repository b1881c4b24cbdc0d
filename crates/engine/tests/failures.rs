//! Failures and recovery: a failed create is tainted and replaced next time, and skips only its
//! dependents; resource `timeouts` are honoured; an interrupted create is repeated with the same
//! token; create-before-destroy order; cycles and schema mistakes are reported up front.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{actions, Case};
use vitrina_engine::hooks::Hook;
use vitrina_engine::plan::PlanMode;
use vitrina_engine::provider::{
    ApplyError, AttrType, Attribute, BoxFuture, ConfiguredProvider, CreateRequest, DeleteRequest,
    Provider, ProviderError, ProviderRegistry, ProviderSchema, Schema,
};
use vitrina_engine::state::{ObjectState, ObjectStatus};
use vitrina_engine::{Action, InstanceAddr, InstanceKey, ResourceAddr, Value};

/// `flaky_thing` fails (leaving a half-made object) while `FAIL` is set; `flaky_slow` takes five
/// seconds to create.
#[derive(Clone)]
struct Flaky(Arc<AtomicBool>);

impl Provider for Flaky {
    fn schema(&self) -> ProviderSchema {
        let s = Schema::new()
            .attr("name", Attribute::required(AttrType::String))
            .attr("id", Attribute::computed(AttrType::String))
            .block(
                "rule",
                vitrina_engine::Nesting::List,
                Schema::new().attr("port", Attribute::required(AttrType::Number)),
            );
        let mut p = ProviderSchema::default();
        p.resources.insert("flaky_thing".into(), s.clone());
        p.resources.insert("flaky_slow".into(), s);
        p
    }

    fn configure(
        &self,
        _config: Value,
    ) -> BoxFuture<'_, Result<Arc<dyn ConfiguredProvider>, ProviderError>> {
        let p: Arc<dyn ConfiguredProvider> = Arc::new(self.clone());
        Box::pin(async move { Ok(p) })
    }
}

impl ConfiguredProvider for Flaky {
    fn create(&self, req: CreateRequest) -> BoxFuture<'_, Result<Value, ApplyError>> {
        Box::pin(async move {
            let mut out = req.planned.clone();
            out.set("id", Value::string(format!("thing-{}", &req.token[..8])));
            if req.type_name == "flaky_slow" {
                tokio::time::sleep(Duration::from_secs(5)).await;
            } else if self.0.load(Ordering::SeqCst) {
                return Err(ApplyError {
                    error: ProviderError::new("the cloud said no"),
                    partial: Some(out),
                });
            }
            Ok(out)
        })
    }

    fn delete(&self, _req: DeleteRequest) -> BoxFuture<'_, Result<(), ApplyError>> {
        Box::pin(async { Ok(()) })
    }
}

fn flaky_case(tf: &str) -> (Case, Arc<AtomicBool>) {
    let fail = Arc::new(AtomicBool::new(false));
    let mut registry = ProviderRegistry::with_builtins();
    registry.register("flaky", Arc::new(Flaky(fail.clone())));
    (Case::with_registry(tf, registry), fail)
}

#[tokio::test]
async fn failed_create_is_tainted_skips_only_dependents_and_is_replaced_next_time() {
    let tf = r#"
resource "flaky_thing" "a" {
  name = "a"
}
resource "null_resource" "dependent" {
  triggers = { a = flaky_thing.a.id }
}
resource "null_resource" "independent" {
  triggers = { x = "1" }
}
"#;
    let (case, fail) = flaky_case(tf);
    fail.store(true, Ordering::SeqCst);
    let planned = case.plan(PlanMode::Normal).await.expect("plan");
    let report = case.apply_planned(&planned).await;
    assert!(!report.is_success());
    assert!(
        report
            .diagnostics
            .iter()
            .any(|d| d.message.contains("the cloud said no")),
        "{:?}",
        report.diagnostics
    );
    let state = case.state();
    let a = state
        .current(&ResourceAddr::managed("flaky_thing", "a").instance(InstanceKey::None))
        .expect("a recorded");
    assert_eq!(a.status, ObjectStatus::Tainted);
    assert!(state
        .current(&ResourceAddr::managed("null_resource", "independent").instance(InstanceKey::None))
        .is_some());
    assert!(state
        .current(&ResourceAddr::managed("null_resource", "dependent").instance(InstanceKey::None))
        .is_none());

    fail.store(false, Ordering::SeqCst);
    let planned = case.plan(PlanMode::Normal).await.expect("plan");
    let mut got = actions(&planned);
    got.sort();
    assert_eq!(
        got,
        vec![
            ("flaky_thing.a".to_owned(), "replace".to_owned()),
            ("null_resource.dependent".to_owned(), "create".to_owned()),
        ]
    );
    assert_eq!(
        planned.plan.change("flaky_thing.a").expect("a").reasons[0],
        "tainted: a previous apply failed part-way"
    );
    let report = case.apply_planned(&planned).await;
    assert!(report.is_success(), "{:?}", report.diagnostics);
    case.assert_no_changes().await;
}

#[tokio::test]
async fn create_timeout_is_honoured_and_the_create_resumes_with_its_token() {
    let tf = r#"
resource "flaky_slow" "s" {
  name = "s"
  timeouts {
    create = "200ms"
  }
}
"#;
    let (case, _) = flaky_case(tf);
    let started = std::time::Instant::now();
    let planned = case.plan(PlanMode::Normal).await.expect("plan");
    let report = case.apply_planned(&planned).await;
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "the timeout did not stop the create"
    );
    assert!(
        report
            .diagnostics
            .iter()
            .any(|d| d.message.contains("timed out after 200ms")),
        "{:?}",
        report.diagnostics
    );
    let addr = ResourceAddr::managed("flaky_slow", "s").instance(InstanceKey::None);
    let obj = case
        .state()
        .current(&addr)
        .cloned()
        .expect("kept as creating");
    assert_eq!(obj.status, ObjectStatus::Creating);

    case.write(&tf.replace("200ms", "10s"));
    let planned = case.plan(PlanMode::Normal).await.expect("plan");
    let change = planned.plan.change("flaky_slow.s").expect("change");
    assert_eq!(change.action, Action::Create);
    assert!(
        change.reasons[0].contains("same idempotency token"),
        "{:?}",
        change.reasons
    );
    let report = case.apply_planned(&planned).await;
    assert!(report.is_success(), "{:?}", report.diagnostics);
    let done = case.state().current(&addr).cloned().expect("created");
    assert_eq!(done.create_token, obj.create_token);
    assert_eq!(
        done.attributes.get("id"),
        &Value::string(format!("thing-{}", &obj.create_token[..8]))
    );
}

#[tokio::test]
async fn an_interrupted_random_create_reproduces_its_result() {
    let case = Case::new("resource \"random_id\" \"x\" {\n  byte_length = 8\n}\n");
    // The state a crash leaves between "create started" and "create recorded".
    let addr: InstanceAddr = ResourceAddr::managed("random_id", "x").instance(InstanceKey::None);
    let mut state = vitrina_engine::State::new();
    state.set_current(
        &addr,
        "random",
        Some(ObjectState {
            status: ObjectStatus::Creating,
            attributes: Value::map([("byte_length", Value::int(8))]),
            sensitive_paths: Vec::new(),
            dependencies: Vec::new(),
            create_token: "token-1".into(),
            schema_version: 0,
            create_before_destroy: false,
        }),
    );
    std::fs::write(case.state_path(), state.to_json()).expect("write state");
    case.apply(PlanMode::Normal).await;
    let first = case.state().current(&addr).cloned().expect("created");
    assert_eq!(first.status, ObjectStatus::Ready);
    assert_eq!(first.create_token, "token-1");

    // The same token again gives the same bytes.
    std::fs::write(case.state_path(), state.to_json()).expect("write state");
    case.apply(PlanMode::Normal).await;
    let second = case.state().current(&addr).cloned().expect("created");
    assert_eq!(second.attributes.get("hex"), first.attributes.get("hex"));
}

#[derive(Default)]
struct Recorder(Mutex<Vec<(String, Action)>>);

impl Hook for Recorder {
    fn post_apply(
        &self,
        addr: &InstanceAddr,
        action: Action,
        _id: Option<&str>,
        _e: Duration,
        _err: Option<&str>,
    ) {
        self.0
            .lock()
            .expect("lock")
            .push((addr.to_string(), action));
    }
}

#[tokio::test]
async fn create_before_destroy_creates_first_and_leaves_no_deposed_object() {
    let tf = r#"
resource "null_resource" "n" {
  triggers = { v = "1" }
  lifecycle {
    create_before_destroy = true
  }
}
"#;
    let mut case = Case::new(tf);
    case.apply(PlanMode::Normal).await;
    let recorder = Arc::new(Recorder::default());
    case.engine = case.engine.clone().with_hooks(recorder.clone());
    case.write(&tf.replace("\"1\"", "\"2\""));
    let planned = case.apply(PlanMode::Normal).await;
    assert_eq!(
        actions(&planned),
        vec![("null_resource.n".to_owned(), "replace".to_owned())]
    );
    let events = recorder.0.lock().expect("lock").clone();
    assert_eq!(
        events,
        vec![
            ("null_resource.n".to_owned(), Action::Replace),
            ("null_resource.n".to_owned(), Action::Delete)
        ]
    );
    let state = case.state();
    let inst = state
        .instance(&ResourceAddr::managed("null_resource", "n").instance(InstanceKey::None))
        .expect("instance");
    assert!(inst.deposed.is_empty());
    assert_eq!(
        inst.current
            .as_ref()
            .map(|o| o.attributes.get("triggers").get("v").clone()),
        Some(Value::string("2"))
    );
}

#[tokio::test]
async fn cycles_and_schema_mistakes_are_reported_before_anything_runs() {
    let tf = r#"
locals {
  a = local.b
  b = local.a
}
resource "null_resource" "x" {
  trigers = { v = "1" }
}
resource "null_resource" "y" {
  triggers = { v = null_resource.missing.id, w = var.nope }
}
"#;
    let case = Case::new(tf);
    let (config, diags) = vitrina_engine::config::Config::load_dir(case.path());
    assert!(!diags.has_errors());
    let diags = case.engine.validate(&config);
    let codes: Vec<&str> = diags.iter().map(|d| d.code).collect();
    let cycle = diags.iter().find(|d| d.code == "tf/cycle").expect("cycle");
    assert_eq!(cycle.message, "cycle: local.a → local.b → local.a");
    let typo = diags
        .iter()
        .find(|d| d.code == "tf/unsupported-argument")
        .expect("typo");
    assert_eq!(typo.help.as_deref(), Some("did you mean `triggers`?"));
    assert_eq!(
        codes.iter().filter(|c| **c == "tf/undeclared").count(),
        2,
        "{codes:?}"
    );
    let err = case.plan(PlanMode::Normal).await.expect_err("plan refuses");
    assert!(err.has_errors());
    assert!(!case.state_path().exists(), "nothing ran");
}

#[tokio::test]
async fn variables_locals_dynamic_blocks_data_sources_and_builtins() {
    let tf = r#"
variable "ports" {
  type    = list(number)
  default = [22, 443]
  validation {
    condition     = length(var.ports) > 0
    error_message = "at least one port"
  }
}
variable "secret" {
  type      = string
  default   = "hunter2"
  sensitive = true
}
variable "strict" {
  type     = string
  default  = "x"
  nullable = false
}
locals {
  first = var.ports[0]
}
locals {
  label = "${terraform.workspace}-${local.first}"
}
data "null_data_source" "info" {
  inputs = { label = local.label, module = path.module }
}
resource "flaky_thing" "t" {
  name = data.null_data_source.info.outputs["label"]
  dynamic "rule" {
    for_each = var.ports
    content {
      port = rule.value
    }
  }
}
output "secret" {
  value     = var.secret
  sensitive = true
}
output "label" {
  value      = flaky_thing.t.name
  depends_on = [flaky_thing.t]
}
"#;
    let (case, _) = flaky_case(tf);
    case.apply(PlanMode::Normal).await;
    let s = case.state();
    let t = common::attr(&s, "flaky_thing.t", "rule");
    assert_eq!(
        t,
        Value::List(vec![
            Value::map([("port", Value::int(22))]),
            Value::map([("port", Value::int(443))])
        ])
    );
    assert_eq!(
        common::attr(&s, "flaky_thing.t", "name"),
        Value::string("default-22")
    );
    let module = common::attr(&s, "data.null_data_source.info", "outputs")
        .get("module")
        .clone();
    // `path.module` is "." as when Terraform runs in the folder (probe I7).
    assert_eq!(module, Value::string("."));
    assert!(s.outputs["secret"].sensitive);
    assert_eq!(s.outputs["label"].value, serde_json::json!("default-22"));

    let mut bad = case;
    bad.inputs.set(
        "ports",
        vitrina_hcl::Value::Tuple(Vec::new()),
        "`--var`",
        true,
    );
    bad.inputs
        .set("strict", vitrina_hcl::Value::Null, "`--var`", true);
    bad.inputs
        .set("undeclared", vitrina_hcl::Value::Null, "`--var`", true);
    let err = bad
        .plan(PlanMode::Normal)
        .await
        .expect_err("invalid variables");
    let messages: Vec<&str> = err.iter().map(|d| d.message.as_str()).collect();
    assert!(
        messages.iter().any(|m| m.contains("at least one port")),
        "{messages:?}"
    );
    // `nullable = false` with a default: null takes the default (tests/language.rs).
    assert!(
        !messages.iter().any(|m| m.contains("cannot be null")),
        "{messages:?}"
    );
    assert!(
        messages
            .iter()
            .any(|m| m.contains("undeclared variable `undeclared`")),
        "{messages:?}"
    );
}
