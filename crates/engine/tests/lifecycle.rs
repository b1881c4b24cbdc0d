//! Integration tests with the built-in providers: apply, no-change replan, trigger-driven
//! replacement of exactly the dependents, `for_each` adds/removes single keys, destroy,
//! `prevent_destroy`, tainted replacement, create_before_destroy, timeouts.

mod common;

use common::{actions, attr, Case};
use vitrina_engine::plan::PlanMode;

const CHAIN: &str = r#"
variable "v" {
  type    = string
  default = "one"
}

resource "null_resource" "root" {
  triggers = { v = var.v }
}

resource "random_id" "mid" {
  byte_length = 4
  keepers = { root = null_resource.root.id }
}

resource "null_resource" "leaf" {
  triggers = { mid = random_id.mid.hex }
}

resource "random_pet" "independent" {
  length = 2
}

output "leaf_id" {
  value = null_resource.leaf.id
}
"#;

#[tokio::test]
async fn apply_then_second_plan_has_no_changes() {
    let case = Case::new(CHAIN);
    let first = case.apply(PlanMode::Normal).await;
    assert_eq!(actions(&first).len(), 4, "{:?}", actions(&first));
    let state = case.state();
    assert_eq!(state.managed_count(), 4);
    assert!(state.outputs.contains_key("leaf_id"));
    let again = case.plan(PlanMode::Normal).await.expect("plan");
    assert!(!again.plan.has_changes(), "{:?}", actions(&again));
    assert!(again.plan.render_text().contains("No changes."));
}

#[tokio::test]
async fn changing_a_trigger_replaces_exactly_the_dependents() {
    let case = Case::new(CHAIN);
    case.apply(PlanMode::Normal).await;
    let before = case.state();
    let pet = attr(&before, "random_pet.independent", "id");
    case.write(&CHAIN.replace("\"one\"", "\"two\""));
    let planned = case.plan(PlanMode::Normal).await.expect("plan");
    let mut got = actions(&planned);
    got.sort();
    assert_eq!(
        got,
        vec![
            ("null_resource.leaf".to_owned(), "replace".to_owned()),
            ("null_resource.root".to_owned(), "replace".to_owned()),
            ("random_id.mid".to_owned(), "replace".to_owned()),
        ]
    );
    let root = planned
        .plan
        .change("null_resource.root")
        .expect("root change");
    assert_eq!(
        root.reasons,
        vec!["`triggers` forces replacement".to_owned()]
    );
    let report = case.apply_planned(&planned).await;
    assert!(report.is_success(), "{:?}", report.diagnostics);
    assert_eq!((report.added, report.destroyed), (3, 3));
    let after = case.state();
    assert_eq!(attr(&after, "random_pet.independent", "id"), pet);
    assert_ne!(
        attr(&after, "random_id.mid", "hex"),
        attr(&before, "random_id.mid", "hex")
    );
    case.assert_no_changes().await;
}

const EACH: &str = r#"
variable "names" {
  type = map(string)
  default = { a = "x", b = "y" }
}

resource "random_string" "s" {
  for_each = var.names
  length   = 8
  special  = false
  keepers  = { v = each.value }
}

resource "null_resource" "n" {
  count    = length(var.names)
  triggers = { k = keys(var.names)[count.index] }
}
"#;

#[tokio::test]
async fn for_each_adds_and_removes_single_keys() {
    let case = Case::new(EACH);
    case.apply(PlanMode::Normal).await;
    let first = case.state();
    let a = attr(&first, "random_string.s[\"a\"]", "result");
    assert_eq!(a.as_str().map(str::len), Some(8));
    case.write(&EACH.replace("{ a = \"x\", b = \"y\" }", "{ a = \"x\", c = \"z\" }"));
    let planned = case.plan(PlanMode::Normal).await.expect("plan");
    let mut got = actions(&planned);
    got.sort();
    assert_eq!(
        got,
        vec![
            ("null_resource.n[1]".to_owned(), "replace".to_owned()),
            ("random_string.s[\"b\"]".to_owned(), "delete".to_owned()),
            ("random_string.s[\"c\"]".to_owned(), "create".to_owned()),
        ]
    );
    let gone = planned.plan.change("random_string.s[\"b\"]").expect("b");
    assert_eq!(
        gone.reasons,
        vec!["`for_each` no longer has the key \"b\"".to_owned()]
    );
    let report = case.apply_planned(&planned).await;
    assert!(report.is_success(), "{:?}", report.diagnostics);
    let second = case.state();
    assert_eq!(attr(&second, "random_string.s[\"a\"]", "result"), a);
    case.assert_no_changes().await;
}

#[tokio::test]
async fn destroy_leaves_an_empty_state() {
    let case = Case::new(CHAIN);
    case.apply(PlanMode::Normal).await;
    let planned = case.apply(PlanMode::Destroy).await;
    assert_eq!(planned.plan.summary().destroy, 4);
    let state = case.state();
    assert!(state.is_empty(), "{state:?}");
    assert!(state.outputs.is_empty());
    assert!(state.resources.is_empty());
}

#[tokio::test]
async fn prevent_destroy_refuses() {
    let tf = r#"
resource "null_resource" "keep" {
  triggers = { v = "1" }
  lifecycle {
    prevent_destroy = true
  }
}
"#;
    let case = Case::new(tf);
    case.apply(PlanMode::Normal).await;
    let err = case
        .plan(PlanMode::Destroy)
        .await
        .expect_err("destroy must be refused");
    assert!(
        err.iter().any(|d| d.code == "tf/prevent-destroy"),
        "{err:?}"
    );
    case.write(&tf.replace("v = \"1\"", "v = \"2\""));
    let err = case
        .plan(PlanMode::Normal)
        .await
        .expect_err("replace must be refused");
    let d = err
        .iter()
        .find(|d| d.code == "tf/prevent-destroy")
        .expect("prevent-destroy diagnostic");
    assert!(
        d.message.contains("`triggers` forces replacement"),
        "{}",
        d.message
    );
    assert_eq!(case.state().managed_count(), 1);
}
