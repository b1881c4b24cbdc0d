//! The Terraform language as Terraform documents it, where `vitrina tf` used to differ (issue 15):
//! null root outputs, `nullable = false`, `depends_on`, `ignore_changes`, custom conditions,
//! `check` blocks, `terraform_data`, `moved` blocks, the strict checks of `validate`, and
//! `path.module` with a relative folder. Each test names the documentation page it follows.

mod common;

use common::{actions, attr, Case};
use vitrina_engine::config::Config;
use vitrina_engine::plan::PlanMode;
use vitrina_engine::{Action, Value};

fn messages(d: &vitrina_diagnostics::Diagnostics) -> Vec<String> {
    d.iter()
        .map(|d| format!("{}:{:?}: {}", d.code, d.span.range, d.message))
        .collect()
}

/// The line (1-based) of byte `offset` in `text`.
fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// Null root outputs are removed from the state ("Null root outputs are removed entirely",
/// hashicorp/terraform `internal/terraform/node_output.go`), so `terraform output` omits them.
#[tokio::test]
async fn null_root_outputs_are_left_out_of_the_state() {
    let tf = r#"
variable "x" {
  type    = string
  default = null
}
output "maybe" {
  value = var.x
}
output "always" {
  value = "a"
}
"#;
    let mut case = Case::new(tf);
    let planned = case.apply(PlanMode::Normal).await;
    assert!(!planned.plan.outputs.contains_key("maybe"));
    let s = case.state();
    assert!(!s.outputs.contains_key("maybe"), "{:?}", s.outputs.keys());
    assert!(s.outputs.contains_key("always"));

    case.inputs
        .set("x", vitrina_hcl::Value::from("set"), "`--var`", true);
    case.apply(PlanMode::Normal).await;
    assert_eq!(
        case.state().outputs["maybe"].value,
        serde_json::json!("set")
    );

    // Back to null: the plan removes the stored value, and the state no longer has it.
    case.inputs
        .set("x", vitrina_hcl::Value::Null, "`--var`", true);
    let planned = case.apply(PlanMode::Normal).await;
    assert_eq!(planned.plan.outputs["maybe"].action, Action::Delete);
    assert!(!case.state().outputs.contains_key("maybe"));
}

/// "If nullable is false and the variable has a default value, then Terraform uses the default
/// when a module input argument is null"
/// (<https://developer.hashicorp.com/terraform/language/values/variables#disallowing-null-input-values>).
#[tokio::test]
async fn nullable_false_with_a_default_takes_the_default_for_null() {
    let tf = r#"
variable "with_default" {
  type     = string
  default  = "fallback"
  nullable = false
}
variable "without_default" {
  type     = string
  nullable = false
}
output "v" {
  value = var.with_default
}
"#;
    let mut case = Case::new(tf);
    case.inputs
        .set("with_default", vitrina_hcl::Value::Null, "`--var`", true);
    case.inputs.set(
        "without_default",
        vitrina_hcl::Value::from("x"),
        "`--var`",
        true,
    );
    let planned = case.plan(PlanMode::Normal).await.expect("plan");
    assert_eq!(planned.plan.outputs["v"].value, Value::string("fallback"));

    case.inputs
        .set("without_default", vitrina_hcl::Value::Null, "`--var`", true);
    let err = case
        .plan(PlanMode::Normal)
        .await
        .expect_err("null without default");
    assert!(
        messages(&err)
            .iter()
            .any(|m| m.contains("`without_default` cannot be null")),
        "{:?}",
        messages(&err)
    );
}

/// "References in depends_on must be to a whole object (resource, etc), not to an attribute of
/// an object" (<https://developer.hashicorp.com/terraform/language/meta-arguments/depends_on>).
#[test]
fn depends_on_takes_whole_objects_only() {
    let tf = r#"resource "null_resource" "a" {}
resource "null_resource" "b" {
  depends_on = [null_resource.a.id]
}
resource "null_resource" "c" {
  depends_on = [null_resource.a, data.null_data_source.d]
}
data "null_data_source" "d" {}
output "o" {
  value      = 1
  depends_on = [null_resource.a[0].id]
}
"#;
    let (_, diags) = Config::from_sources(
        std::path::Path::new("."),
        vec![("main.tf".into(), tf.into())],
    );
    let errors: Vec<_> = diags.iter().filter(|d| d.is_error()).collect();
    assert_eq!(errors.len(), 2, "{:?}", messages(&diags));
    assert!(errors[0].message.contains("whole objects"));
    assert_eq!(line_of(tf, errors[0].span.range.start), 3);
    assert_eq!(
        errors[0].help.as_deref(),
        Some("write `null_resource.a` without `.id`")
    );
    assert_eq!(line_of(tf, errors[1].span.range.start), 11);
}

const IGNORE: &str = r#"
variable "v" {
  type    = string
  default = "one"
}
variable "w" {
  type    = string
  default = "one"
}
resource "null_resource" "plain" {
  triggers = { a = var.v }
  lifecycle {
    ignore_changes = [triggers]
  }
}
resource "null_resource" "nested" {
  triggers = { a = var.v, b = var.w }
  lifecycle {
    ignore_changes = [triggers["a"]]
  }
}
resource "null_resource" "all" {
  triggers = { a = var.v }
  lifecycle {
    ignore_changes = all
  }
}
resource "null_resource" "quoted" {
  triggers = { a = var.v }
  lifecycle {
    ignore_changes = ["triggers"]
  }
}
"#;

/// `ignore_changes` takes attribute references (`[tags]`, `[tags["Name"]]`), `all`, and
/// (deprecated) quoted names
/// (<https://developer.hashicorp.com/terraform/language/meta-arguments/lifecycle#ignore_changes>).
#[tokio::test]
async fn ignore_changes_takes_references_nested_keys_all_and_quoted_names() {
    let mut case = Case::new(IGNORE);
    let (_, diags) = Config::load_dir(case.path());
    assert!(!diags.has_errors(), "{:?}", messages(&diags));
    let warnings: Vec<_> = diags.iter().filter(|d| !d.is_error()).collect();
    assert_eq!(warnings.len(), 1, "{:?}", messages(&diags));
    assert!(warnings[0].message.contains("deprecated"));
    assert_eq!(line_of(IGNORE, warnings[0].span.range.start), 31);

    case.apply(PlanMode::Normal).await;
    // Every change of `v` is ignored.
    case.inputs
        .set("v", vitrina_hcl::Value::from("two"), "`--var`", true);
    case.assert_no_changes().await;
    // `triggers["b"]` of `nested` is not ignored: it changes, so `nested` is replaced.
    case.inputs
        .set("w", vitrina_hcl::Value::from("two"), "`--var`", true);
    let planned = case.plan(PlanMode::Normal).await.expect("plan");
    assert_eq!(
        actions(&planned),
        vec![("null_resource.nested".to_owned(), "replace".to_owned())]
    );
    // The replacement takes the configuration's values, ignored ones included ("we need a new
    // unmarked config from our original with no ignored values", hashicorp/terraform
    // `internal/terraform/node_resource_abstract_instance.go`).
    let nested = planned.plan.change("null_resource.nested").expect("change");
    assert_eq!(
        nested.after.get("triggers"),
        &Value::map([("a", Value::string("two")), ("b", Value::string("two"))])
    );
}

const CONDITIONS: &str = r#"variable "size" {
  type    = number
  default = 3
}
resource "null_resource" "pre" {
  triggers = { size = var.size }
  lifecycle {
    precondition {
      condition     = var.size < 10
      error_message = "size must be below 10, got ${var.size}"
    }
  }
}
data "null_data_source" "d" {
  inputs = { size = var.size }
  lifecycle {
    postcondition {
      condition     = self.outputs["size"] != "7"
      error_message = "seven is not allowed"
    }
  }
}
output "o" {
  value = var.size
  precondition {
    condition     = var.size != 5
    error_message = "five is not allowed"
  }
}
check "small" {
  assert {
    condition     = var.size < 4
    error_message = "size is large"
  }
}
"#;

/// Preconditions and postconditions fail the plan with their `error_message` at their
/// `condition`; `check` assertions are warnings
/// (<https://developer.hashicorp.com/terraform/language/expressions/custom-conditions>,
/// <https://developer.hashicorp.com/terraform/language/checks>).
#[tokio::test]
async fn conditions_fail_the_plan_at_their_line_and_checks_warn() {
    let mut case = Case::new(CONDITIONS);
    let ok = case.plan(PlanMode::Normal).await.expect("plan");
    assert!(ok.warnings.is_empty(), "{:?}", messages(&ok.warnings));

    let base = case.inputs.clone();
    let run = |n: f64| {
        let mut inputs = base.clone();
        inputs.set("size", vitrina_hcl::Value::from(n), "`--var`", true);
        inputs
    };
    for (n, line, text) in [
        (
            12.0,
            9,
            "resource precondition failed for `null_resource.pre`: size must be below 10, got 12",
        ),
        (
            7.0,
            18,
            "resource postcondition failed for `data.null_data_source.d`: seven is not allowed",
        ),
        (
            5.0,
            26,
            "output precondition failed for `output.o`: five is not allowed",
        ),
    ] {
        case.inputs = run(n);
        let err = case
            .plan(PlanMode::Normal)
            .await
            .expect_err("condition fails");
        let d = err
            .iter()
            .find(|d| d.code == "tf/condition")
            .unwrap_or_else(|| panic!("{:?}", messages(&err)));
        assert_eq!(d.message, text);
        assert_eq!(line_of(CONDITIONS, d.span.range.start), line, "{text}");
    }

    case.inputs = run(6.0);
    let planned = case
        .plan(PlanMode::Normal)
        .await
        .expect("a check only warns");
    let w: Vec<_> = planned.warnings.iter().collect();
    assert_eq!(w.len(), 1, "{:?}", messages(&planned.warnings));
    assert_eq!(w[0].code, "tf/check");
    assert!(w[0].message.contains("size is large"));
    assert_eq!(line_of(CONDITIONS, w[0].span.range.start), 32);
    let report = case.apply_planned(&planned).await;
    assert!(report.is_success(), "{:?}", report.diagnostics);
    assert!(report
        .diagnostics
        .iter()
        .any(|d| d.code == "tf/check" && !d.is_error()));
}

/// A postcondition on a value known only after apply is checked after the apply and fails it,
/// skipping the resources that depend on it.
#[tokio::test]
async fn postcondition_on_an_unknown_value_fails_the_apply() {
    let tf = r#"
resource "random_string" "s" {
  length  = 8
  special = false
  lifecycle {
    postcondition {
      condition     = length(self.result) == 3
      error_message = "the result has ${length(self.result)} characters"
    }
  }
}
resource "null_resource" "after" {
  triggers = { s = random_string.s.result }
}
"#;
    let case = Case::new(tf);
    let planned = case
        .plan(PlanMode::Normal)
        .await
        .expect("unknown during plan");
    let report = case.apply_planned(&planned).await;
    assert!(!report.is_success());
    let d = report
        .diagnostics
        .iter()
        .find(|d| d.code == "tf/condition")
        .expect("postcondition failure");
    assert!(
        d.message.contains("the result has 8 characters"),
        "{}",
        d.message
    );
    let s = case.state();
    assert!(
        !s.resources.keys().any(|a| a.name == "after"),
        "the dependent must not be created"
    );
}

/// `terraform_data`: `input` is returned as `output` and updates in place; `triggers_replace`
/// replaces (<https://developer.hashicorp.com/terraform/language/resources/terraform-data>).
#[tokio::test]
async fn terraform_data_stores_input_and_replaces_on_triggers() {
    let tf = r#"
variable "v" {
  type    = string
  default = "one"
}
variable "t" {
  type    = string
  default = "a"
}
resource "terraform_data" "d" {
  input            = { v = var.v }
  triggers_replace = [var.t]
}
output "out" {
  value = terraform_data.d.output.v
}
"#;
    let mut case = Case::new(tf);
    case.apply(PlanMode::Normal).await;
    let s = case.state();
    assert_eq!(s.outputs["out"].value, serde_json::json!("one"));
    let id = attr(&s, "terraform_data.d", "id");
    case.assert_no_changes().await;

    case.inputs
        .set("v", vitrina_hcl::Value::from("two"), "`--var`", true);
    let planned = case.apply(PlanMode::Normal).await;
    assert_eq!(
        actions(&planned),
        vec![("terraform_data.d".to_owned(), "update".to_owned())]
    );
    let s = case.state();
    assert_eq!(s.outputs["out"].value, serde_json::json!("two"));
    assert_eq!(attr(&s, "terraform_data.d", "id"), id);

    case.inputs
        .set("t", vitrina_hcl::Value::from("b"), "`--var`", true);
    let planned = case.apply(PlanMode::Normal).await;
    assert_eq!(
        actions(&planned),
        vec![("terraform_data.d".to_owned(), "replace".to_owned())]
    );
    assert_ne!(attr(&case.state(), "terraform_data.d", "id"), id);
}

/// `moved` blocks: renaming a resource, and moving instances between `count` and `for_each`
/// keys, plan no change (<https://developer.hashicorp.com/terraform/language/modules/develop/refactoring>).
#[tokio::test]
async fn moved_blocks_rename_without_changes() {
    let before = r#"
resource "null_resource" "old" {
  triggers = { a = "1" }
}
resource "null_resource" "counted" {
  count    = 2
  triggers = { i = tostring(count.index) }
}
resource "null_resource" "user" {
  triggers = { id = null_resource.old.id }
}
"#;
    let case = Case::new(before);
    case.apply(PlanMode::Normal).await;
    let s = case.state();
    let old_id = attr(&s, "null_resource.old", "id");
    let c0 = attr(&s, "null_resource.counted[0]", "id");
    let c1 = attr(&s, "null_resource.counted[1]", "id");

    let after = r#"
resource "null_resource" "new" {
  triggers = { a = "1" }
}
moved {
  from = null_resource.old
  to   = null_resource.new
}
resource "null_resource" "keyed" {
  for_each = { "0" = "0", "1" = "1" }
  triggers = { i = each.value }
}
moved {
  from = null_resource.counted[0]
  to   = null_resource.keyed["0"]
}
moved {
  from = null_resource.counted[1]
  to   = null_resource.keyed["1"]
}
resource "null_resource" "user" {
  triggers = { id = null_resource.new.id }
}
"#;
    case.write(after);
    let planned = case.plan(PlanMode::Normal).await.expect("plan");
    assert_eq!(actions(&planned), Vec::<(String, String)>::new());
    assert_eq!(planned.plan.moved.len(), 3, "{:?}", planned.plan.moved);
    let text = planned.plan.render_text();
    assert!(
        text.contains("# null_resource.old has moved to null_resource.new"),
        "{text}"
    );
    assert!(
        text.contains("Plan: 0 to add, 0 to change, 0 to destroy."),
        "{text}"
    );
    let report = case.apply_planned(&planned).await;
    assert!(report.is_success(), "{:?}", report.diagnostics);
    let s = case.state();
    assert_eq!(attr(&s, "null_resource.new", "id"), old_id);
    assert_eq!(attr(&s, "null_resource.keyed[\"0\"]", "id"), c0);
    assert_eq!(attr(&s, "null_resource.keyed[\"1\"]", "id"), c1);
    case.assert_no_changes().await;
}

const STRICT: &str = r#"variable "n" {
  type    = number
  default = "many"
}
resource "null_resource" "a" {
  triggers = { i = tostring(count.index) }
}
resource "null_resource" "b" {
  triggers = { k = each.key }
}
resource "null_resource" "c" {
  triggers = { s = self.id }
  lifecycle {
    postcondition {
      condition     = self.id != ""
      error_message = "no id"
    }
  }
}
output "o" {
  value = count.index
}
"#;

/// `terraform validate` rejects `count.index` without `count`, `each` without `for_each`, `self`
/// outside postconditions, provisioners and connections, and a default that does not match the
/// variable's type (<https://developer.hashicorp.com/terraform/language/meta-arguments/count>,
/// <https://developer.hashicorp.com/terraform/language/meta-arguments/for_each>,
/// <https://developer.hashicorp.com/terraform/language/expressions/custom-conditions#self-object>,
/// <https://developer.hashicorp.com/terraform/language/values/variables#type-constraints>);
/// each is an error at its line, and the plan refuses to start.
#[tokio::test]
async fn validate_is_strict_about_count_each_self_and_defaults() {
    let case = Case::new(STRICT);
    let (config, load) = Config::load_dir(case.path());
    assert!(!load.has_errors(), "{:?}", messages(&load));
    let diags = case.engine.validate(&config);
    let mut got: Vec<(usize, String)> = diags
        .iter()
        .filter(|d| d.is_error())
        .map(|d| (line_of(STRICT, d.span.range.start), d.message.clone()))
        .collect();
    got.sort();
    assert_eq!(
        got,
        vec![
            (3, "invalid default value for variable `n`: a number is required, got the string \"many\"".to_owned()),
            (6, "reference to `count` in a block without `count`".to_owned()),
            (9, "reference to `each` in a block without `for_each`".to_owned()),
            (12, "`self` is not available here".to_owned()),
            (21, "reference to `count` in a block without `count`".to_owned()),
        ],
        "{:?}",
        messages(&diags)
    );
    let err = case.plan(PlanMode::Normal).await.expect_err("no plan");
    assert!(err.has_errors());
    assert!(case.state().is_empty(), "nothing was planned or applied");
}

/// `file("${path.module}/x")` reads the folder's file whatever relative folder is given
/// (probe I7): `path.module` is `"."` as when Terraform runs in the folder.
#[tokio::test]
async fn path_module_works_with_a_relative_folder() {
    let tf = r#"
data "null_data_source" "f" {
  inputs = {
    text   = file("${path.module}/x.txt")
    module = path.module
    same   = file("./x.txt") == file("${path.cwd}/x.txt") ? "yes" : "no"
  }
}
output "text" {
  value = data.null_data_source.f.outputs["text"]
}
"#;
    let case = Case::new(tf);
    std::fs::write(case.path().join("x.txt"), "hello").expect("write");
    let cwd = std::env::current_dir().expect("cwd");
    let relative = relative_to(case.path(), &cwd);
    assert!(relative.is_relative());
    let (config, diags) = Config::load_dir(&relative);
    assert!(!diags.has_errors(), "{:?}", messages(&diags));
    let planned = case
        .engine
        .plan(
            &config,
            &case.inputs,
            vitrina_engine::State::new(),
            PlanMode::Normal,
        )
        .await
        .expect("plan");
    assert_eq!(planned.plan.outputs["text"].value, Value::string("hello"));
    let change = planned
        .plan
        .change("data.null_data_source.f")
        .expect("read");
    let outputs = change.after.get("outputs");
    assert_eq!(outputs.get("module"), &Value::string("."));
    assert_eq!(outputs.get("same"), &Value::string("yes"));
}

/// `to` as a path relative to `from` (`..` steps), both absolute.
fn relative_to(to: &std::path::Path, from: &std::path::Path) -> std::path::PathBuf {
    let to: Vec<_> = to.components().collect();
    let from: Vec<_> = from.components().collect();
    let common = to.iter().zip(&from).take_while(|(a, b)| a == b).count();
    let mut out = std::path::PathBuf::new();
    for _ in common..from.len() {
        out.push("..");
    }
    for c in &to[common..] {
        out.push(c.as_os_str());
    }
    out
}

/// What the engine does not support yet is an error at the block, never ignored: remote
/// `module` sources (refused with a message that says no download happens), `import` and
/// `removed` blocks, data sources scoped in `check` blocks; provisioners are skipped with a
/// warning. (Listed in the engine's README.)
#[test]
fn unsupported_blocks_are_reported_not_ignored() {
    let tf = r#"module "local" {
  source = "./modules/x"
}
module "remote" {
  source = "hashicorp/consul/aws"
}
import {
  to = null_resource.a
  id = "x"
}
removed {
  from = null_resource.b
}
check "c" {
  data "null_data_source" "d" {}
  assert {
    condition     = true
    error_message = "x"
  }
}
resource "null_resource" "p" {
  provisioner "local-exec" {
    command = "echo"
  }
}
"#;
    let (_, diags) = Config::from_sources(
        std::path::Path::new("."),
        vec![("main.tf".into(), tf.into())],
    );
    let got: Vec<(usize, &str, &str)> = diags
        .iter()
        .map(|d| (line_of(tf, d.span.range.start), d.code, d.message.as_str()))
        .collect();
    // The local module is accepted (it is read by `Config::load_dir`; see
    // `two_levels_of_local_modules_with_for_each`).
    assert_eq!(got.len(), 5, "{got:?}");
    // Provisioners are skipped with a warning.
    let warning = diags.iter().find(|d| !d.is_error()).expect("warning");
    assert_eq!(line_of(tf, warning.span.range.start), 22);
    assert!(warning.message.contains("provisioners are not run"));
    assert!(
        got.iter().all(|(_, code, _)| *code == "tf/unsupported"),
        "{got:?}"
    );
    let lines: Vec<usize> = got.iter().map(|(l, _, _)| *l).collect();
    assert!(
        !lines.contains(&1) && lines.contains(&5) && lines.contains(&7),
        "{got:?}"
    );
    assert!(lines.contains(&11) && lines.contains(&15), "{got:?}");
    assert!(got
        .iter()
        .any(|(l, _, m)| *l == 5 && m.contains("does not download")));
}

/// Adding `count` to a resource moves its object to `[0]`, and removing it moves `[0]` back,
/// without a `moved` block ("Enabling count or for_each for a resource",
/// <https://developer.hashicorp.com/terraform/language/modules/develop/refactoring>).
#[tokio::test]
async fn adding_or_removing_count_moves_the_object_implicitly() {
    let single = "resource \"null_resource\" \"a\" {\n  triggers = { k = \"v\" }\n}\n";
    let counted =
        "resource \"null_resource\" \"a\" {\n  count    = 1\n  triggers = { k = \"v\" }\n}\n";
    let case = Case::new(single);
    case.apply(PlanMode::Normal).await;
    let id = attr(&case.state(), "null_resource.a", "id");

    case.write(counted);
    let planned = case.plan(PlanMode::Normal).await.expect("plan");
    assert_eq!(actions(&planned), Vec::<(String, String)>::new());
    assert_eq!(
        planned.plan.moved,
        vec![(
            "null_resource.a".to_owned(),
            "null_resource.a[0]".to_owned()
        )]
    );
    assert!(case.apply_planned(&planned).await.is_success());
    assert_eq!(attr(&case.state(), "null_resource.a[0]", "id"), id);

    case.write(single);
    let planned = case.apply(PlanMode::Normal).await;
    assert_eq!(actions(&planned), Vec::<(String, String)>::new());
    assert_eq!(attr(&case.state(), "null_resource.a", "id"), id);
    case.assert_no_changes().await;
}

const MODULES_ROOT: &str = r#"
variable "envs" {
  type    = map(string)
  default = { a = "1", b = "2" }
}
module "env" {
  source   = "./modules/env"
  for_each = var.envs
  name     = each.key
  value    = each.value
}
output "ids" {
  value = { for k, m in module.env : k => m.ids }
}
"#;

const MODULE_ENV: &str = r#"
variable "name" {
  type = string
}
variable "value" {
  type = string
}
resource "null_resource" "this" {
  triggers = { name = var.name }
}
module "svc" {
  source   = "../svc"
  for_each = toset(["x", "y"])
  parent   = null_resource.this.id
  label    = "${var.name}-${each.key}"
  value    = var.value
}
output "ids" {
  value = { for k, s in module.svc : k => s.id }
}
"#;

const MODULE_SVC: &str = r#"
variable "parent" {
  type = string
}
variable "label" {
  type = string
}
variable "value" {
  type = string
}
resource "terraform_data" "d" {
  input = { label = var.label, value = var.value, parent = var.parent }
}
output "id" {
  value = "${var.label}:${terraform_data.d.output.value}"
}
"#;

/// Two levels of local modules with `for_each`: plan, apply, an in-place change of one module
/// instance, and destroy, with Terraform's addresses
/// (<https://developer.hashicorp.com/terraform/language/modules/syntax>,
/// <https://developer.hashicorp.com/terraform/cli/state/resource-addressing>).
#[tokio::test]
async fn two_levels_of_local_modules_with_for_each() {
    let mut case = Case::new(MODULES_ROOT);
    for (dir, text) in [("modules/env", MODULE_ENV), ("modules/svc", MODULE_SVC)] {
        std::fs::create_dir_all(case.path().join(dir)).expect("dir");
        std::fs::write(case.path().join(dir).join("main.tf"), text).expect("write");
    }
    // `validate` checks the modules too, even when the keys are not known yet.
    case.write(&MODULES_ROOT.replace("  default = { a = \"1\", b = \"2\" }\n", ""));
    let diags = case.engine.validate(&case.config());
    assert!(diags.is_empty(), "{:?}", messages(&diags));
    std::fs::write(
        case.path().join("modules/svc/main.tf"),
        MODULE_SVC.replace("input =", "inputs ="),
    )
    .expect("write");
    let diags = case.engine.validate(&case.config());
    assert_eq!(
        messages(&diags)
            .iter()
            .filter(|m| m.contains("unsupported argument `inputs`"))
            .count(),
        1,
        "{:?}",
        messages(&diags)
    );
    std::fs::write(case.path().join("modules/svc/main.tf"), MODULE_SVC).expect("write");
    case.write(MODULES_ROOT);

    let planned = case.apply(PlanMode::Normal).await;
    let mut created: Vec<String> = actions(&planned).into_iter().map(|(a, _)| a).collect();
    created.sort();
    assert_eq!(
        created,
        vec![
            "module.env[\"a\"].module.svc[\"x\"].terraform_data.d",
            "module.env[\"a\"].module.svc[\"y\"].terraform_data.d",
            "module.env[\"a\"].null_resource.this",
            "module.env[\"b\"].module.svc[\"x\"].terraform_data.d",
            "module.env[\"b\"].module.svc[\"y\"].terraform_data.d",
            "module.env[\"b\"].null_resource.this",
        ]
    );
    let s = case.state();
    assert_eq!(
        s.outputs["ids"].value,
        serde_json::json!({
            "a": {"x": "a-x:1", "y": "a-y:1"},
            "b": {"x": "b-x:2", "y": "b-y:2"}
        })
    );
    let text = String::from_utf8(s.to_json()).expect("utf-8");
    assert!(
        text.contains(r#""module": "module.env[\"b\"].module.svc[\"y\"]""#),
        "{text}"
    );
    case.assert_no_changes().await;

    // One module instance changes in place.
    case.inputs.set(
        "envs",
        vitrina_hcl::Value::object([
            ("a", vitrina_hcl::Value::from("1")),
            ("b", vitrina_hcl::Value::from("3")),
        ]),
        "`--var`",
        true,
    );
    let planned = case.apply(PlanMode::Normal).await;
    assert_eq!(
        actions(&planned),
        vec![
            (
                "module.env[\"b\"].module.svc[\"x\"].terraform_data.d".to_owned(),
                "update".to_owned()
            ),
            (
                "module.env[\"b\"].module.svc[\"y\"].terraform_data.d".to_owned(),
                "update".to_owned()
            ),
        ]
    );
    assert_eq!(
        case.state().outputs["ids"].value["b"],
        serde_json::json!({"x": "b-x:3", "y": "b-y:3"})
    );
    case.assert_no_changes().await;

    let planned = case.apply(PlanMode::Destroy).await;
    assert_eq!(actions(&planned).len(), 6);
    assert!(actions(&planned).iter().all(|(_, a)| a == "delete"));
    assert_eq!(case.state().managed_count(), 0);
}

/// Providers passed with `providers = {…}`, a module's `depends_on`, and `moved` into a module
/// and across module renames
/// (<https://developer.hashicorp.com/terraform/language/modules/develop/providers>,
/// <https://developer.hashicorp.com/terraform/language/modules/develop/refactoring>).
#[tokio::test]
async fn module_providers_depends_on_and_moves_across_modules() {
    let before = r#"
resource "null_resource" "first" {}
resource "null_resource" "a" {
  triggers = { k = "v" }
}
"#;
    let case = Case::new(before);
    std::fs::create_dir_all(case.path().join("m")).expect("dir");
    std::fs::write(
        case.path().join("m/main.tf"),
        "resource \"null_resource\" \"a\" {\n  triggers = { k = \"v\" }\n}\noutput \"id\" {\n  value = null_resource.a.id\n}\n",
    )
    .expect("write");
    case.apply(PlanMode::Normal).await;
    let id = attr(&case.state(), "null_resource.a", "id");

    let into_module = r#"
provider "null" {
  alias = "other"
}
resource "null_resource" "first" {}
module "m" {
  source     = "./m"
  providers  = { null = null.other }
  depends_on = [null_resource.first]
}
moved {
  from = null_resource.a
  to   = module.m.null_resource.a
}
output "id" {
  value = module.m.id
}
"#;
    case.write(into_module);
    let planned = case.plan(PlanMode::Normal).await.expect("plan");
    assert_eq!(
        planned.plan.moved,
        vec![(
            "null_resource.a".to_owned(),
            "module.m.null_resource.a".to_owned()
        )]
    );
    // The provider configuration changes (`null.other`): no change is planned for that alone.
    assert_eq!(actions(&planned), Vec::<(String, String)>::new());
    assert!(case.apply_planned(&planned).await.is_success());
    let s = case.state();
    assert_eq!(attr(&s, "module.m.null_resource.a", "id"), id);
    assert_eq!(
        s.outputs["id"].value,
        serde_json::json!(id.as_str().unwrap_or_default())
    );

    // A fresh module resource uses the passed provider and depends on `null_resource.first`.
    std::fs::write(
        case.path().join("m/main.tf"),
        "resource \"null_resource\" \"a\" {\n  triggers = { k = \"v\" }\n}\nresource \"null_resource\" \"b\" {}\noutput \"id\" {\n  value = null_resource.a.id\n}\n",
    )
    .expect("write");
    case.apply(PlanMode::Normal).await;
    let s = case.state();
    let b = s
        .resources
        .iter()
        .find(|(a, _)| a.to_string() == "module.m.null_resource.b")
        .map(|(_, r)| r)
        .expect("module.m.null_resource.b");
    assert_eq!(b.provider, "null.other");
    let deps: Vec<String> = b
        .instances
        .values()
        .filter_map(|i| i.current.as_ref())
        .flat_map(|o| o.dependencies.iter().map(ToString::to_string))
        .collect();
    assert_eq!(deps, vec!["null_resource.first"]);

    // Renaming the module call moves everything in it.
    case.write(
        &into_module
            .replace("module \"m\"", "module \"n\"")
            .replace(
                "moved {\n  from = null_resource.a\n  to   = module.m.null_resource.a\n}",
                "moved {\n  from = module.m\n  to   = module.n\n}",
            )
            .replace("module.m.id", "module.n.id"),
    );
    let planned = case.plan(PlanMode::Normal).await.expect("plan");
    assert_eq!(actions(&planned), Vec::<(String, String)>::new());
    assert_eq!(planned.plan.moved.len(), 2, "{:?}", planned.plan.moved);
    assert!(case.apply_planned(&planned).await.is_success());
    assert_eq!(attr(&case.state(), "module.n.null_resource.a", "id"), id);
    case.assert_no_changes().await;
}

/// A module's `variable` blocks apply to its inputs: type conversion, `nullable = false` with
/// a default, `validation`, and `sensitive`
/// (<https://developer.hashicorp.com/terraform/language/values/variables>).
#[tokio::test]
async fn module_inputs_follow_the_childs_variable_blocks() {
    let child = r#"
variable "port" {
  type = number
  validation {
    condition     = var.port > 1024
    error_message = "port must be above 1024"
  }
}
variable "name" {
  type     = string
  default  = "fallback"
  nullable = false
}
variable "secret" {
  type      = string
  default   = "s"
  sensitive = true
}
output "summary" {
  value = "${var.name}:${var.port + 1}"
}
output "secret" {
  value     = var.secret
  sensitive = true
}
output "marked" {
  value     = "not secret in itself"
  sensitive = true
}
"#;
    let root = |port: &str| {
        format!(
            "module \"c\" {{\n  source = \"./c\"\n  port   = \"{port}\"\n  name   = null\n}}\noutput \"s\" {{\n  value = module.c.summary\n}}\noutput \"leak\" {{\n  value = module.c.secret\n}}\n"
        )
    };
    let case = Case::new(&root("8080"));
    std::fs::create_dir_all(case.path().join("c")).expect("dir");
    std::fs::write(case.path().join("c/main.tf"), child).expect("write");
    let err = case
        .plan(PlanMode::Normal)
        .await
        .expect_err("sensitive output");
    assert!(
        messages(&err)
            .iter()
            .any(|m| m.contains("output `leak` holds sensitive values")),
        "{:?}",
        messages(&err)
    );
    // A child output with `sensitive = true` is sensitive in the caller.
    case.write(&root("8080").replace("module.c.secret", "module.c.marked"));
    let err = case
        .plan(PlanMode::Normal)
        .await
        .expect_err("sensitive output");
    assert!(messages(&err)
        .iter()
        .any(|m| m.contains("output `leak` holds sensitive values")));
    case.write(&root("8080").replace("module.c.secret", "\"public\""));
    let planned = case.plan(PlanMode::Normal).await.expect("plan");
    assert_eq!(
        planned.plan.outputs["s"].value,
        Value::string("fallback:8081")
    );
    case.write(&root("80").replace("module.c.secret", "\"public\""));
    let err = case.plan(PlanMode::Normal).await.expect_err("validation");
    assert!(
        messages(&err)
            .iter()
            .any(|m| m.contains("invalid value for module input `port`: port must be above 1024")),
        "{:?}",
        messages(&err)
    );
}

/// Differences of local modules that remain (engine README): a module's `for_each` must be known
/// from variables and locals before the run, and `provider` blocks inside a module are errors.
#[tokio::test]
async fn module_for_each_from_resources_and_provider_blocks_in_modules_are_refused() {
    let case = Case::new(
        "resource \"null_resource\" \"k\" {}\nmodule \"m\" {\n  source   = \"./m\"\n  for_each = toset([null_resource.k.id])\n}\n",
    );
    std::fs::create_dir_all(case.path().join("m")).expect("dir");
    std::fs::write(
        case.path().join("m/main.tf"),
        "provider \"null\" {}\nresource \"null_resource\" \"x\" {}\n",
    )
    .expect("write");
    let err = case.plan(PlanMode::Normal).await.expect_err("refused");
    let got = messages(&err);
    assert!(
        got.iter()
            .any(|m| m.contains("`for_each` must be known before apply")),
        "{got:?}"
    );
    case.write("module \"m\" {\n  source = \"./m\"\n}\n");
    let err = case.plan(PlanMode::Normal).await.expect_err("refused");
    let got = messages(&err);
    assert!(
        got.iter()
            .any(|m| m.contains("`provider` blocks inside modules are not supported")),
        "{got:?}"
    );
}
