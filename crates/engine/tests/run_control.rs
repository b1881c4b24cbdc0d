//! The engine as a library a server runs many times at once: the state behind a store
//! interface (a store that loses ownership stops the run), cancellation at safe points, and
//! provider errors with kinds that decide whether a run is worth retrying.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use common::Case;
use vitrina_engine::plan::PlanMode;
use vitrina_engine::provider::{
    ApplyError, AttrType, Attribute, BoxFuture, ConfiguredProvider, CreateRequest, DeleteRequest,
    ErrorKind, Provider, ProviderError, ProviderRegistry, ProviderSchema, Schema,
};
use vitrina_engine::state::store::{MemoryStore, StateStore, StateStoreError};
use vitrina_engine::state::sync::SyncState;
use vitrina_engine::{Cancel, State, Value};

/// `kind_thing` fails with the kind given by its `fail` argument (`""` succeeds).
#[derive(Clone, Default)]
struct Kinds {
    created: Arc<AtomicUsize>,
}

impl Provider for Kinds {
    fn schema(&self) -> ProviderSchema {
        let s = Schema::new()
            .attr("fail", Attribute::required(AttrType::String))
            .attr("id", Attribute::computed(AttrType::String));
        let mut p = ProviderSchema::default();
        p.resources.insert("kind_thing".into(), s);
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

impl ConfiguredProvider for Kinds {
    fn create(&self, req: CreateRequest) -> BoxFuture<'_, Result<Value, ApplyError>> {
        Box::pin(async move {
            let kind = match req.config.get("fail").as_str().unwrap_or_default() {
                "" => None,
                "transient" => Some(ErrorKind::Transient),
                "quota" => Some(ErrorKind::Quota),
                other => panic!("test manifest names an unknown kind `{other}`"),
            };
            if let Some(kind) = kind {
                return Err(ProviderError::new(format!("failed as {kind}"))
                    .with_kind(kind)
                    .into());
            }
            self.created.fetch_add(1, Ordering::SeqCst);
            let mut out = req.planned.clone();
            out.set("id", Value::string(req.token.clone()));
            Ok(out)
        })
    }

    fn delete(&self, _req: DeleteRequest) -> BoxFuture<'_, Result<(), ApplyError>> {
        Box::pin(async { Ok(()) })
    }
}

fn kinds_case(tf: &str) -> (Case, Kinds) {
    let kinds = Kinds::default();
    let mut registry = ProviderRegistry::with_builtins();
    registry.register("kind", Arc::new(kinds.clone()));
    (Case::with_registry(tf, registry), kinds)
}

async fn apply_with(case: &Case, sync: Arc<SyncState>) -> vitrina_engine::context::ApplyReport {
    let planned = case
        .plan(PlanMode::Normal)
        .await
        .unwrap_or_else(|d| panic!("plan failed: {d:?}"));
    case.engine.apply(&case.config(), &planned, sync).await
}

#[tokio::test]
async fn provider_error_kinds_decide_whether_a_run_is_retryable() {
    let (case, _) = kinds_case(
        r#"
resource "kind_thing" "a" { fail = "transient" }
resource "kind_thing" "b" { fail = "" }
"#,
    );
    let report = apply_with(&case, Arc::new(SyncState::new(State::new(), None))).await;
    assert!(!report.is_success());
    assert_eq!(report.error_kinds, vec![ErrorKind::Transient]);
    assert!(report.retryable(), "a transient failure is worth retrying");

    case.write(r#"resource "kind_thing" "a" { fail = "quota" }"#);
    let report = apply_with(&case, Arc::new(SyncState::new(State::new(), None))).await;
    assert_eq!(report.error_kinds, vec![ErrorKind::Quota]);
    assert!(
        !report.retryable(),
        "an exhausted quota fails the same way again"
    );

    assert!(ErrorKind::from_http_status(503, None).retryable());
    assert_eq!(
        ErrorKind::from_http_status(403, Some("Quota exceeded for cores")),
        ErrorKind::Quota
    );
    assert_eq!(ErrorKind::from_http_status(404, None), ErrorKind::NotFound);
}

#[tokio::test]
async fn a_cancelled_run_starts_nothing_and_says_so() {
    let (mut case, kinds) = kinds_case(
        r#"
resource "kind_thing" "a" { fail = "" }
resource "kind_thing" "b" { fail = "" }
"#,
    );
    let cancel = Cancel::new();
    case.engine = case.engine.clone().with_cancel(cancel.clone());
    cancel.cancel();
    let store = MemoryStore::new(State::new());
    let report = apply_with(
        &case,
        Arc::new(SyncState::with_store(State::new(), store.clone())),
    )
    .await;
    assert!(report.cancelled);
    assert!(report.retryable());
    assert_eq!(kinds.created.load(Ordering::SeqCst), 0);
    assert!(report
        .diagnostics
        .iter()
        .any(|d| d.code == vitrina_engine::context::run_codes::CANCELLED));
}

/// A store like the server's database row: it accepts `allowed` saves, then finds its row
/// taken by another run and cancels this one.
struct LosingStore {
    allowed: usize,
    saves: Mutex<Vec<u64>>,
    cancel: Cancel,
}

impl StateStore for LosingStore {
    fn load(&self) -> BoxFuture<'_, Result<State, StateStoreError>> {
        Box::pin(async { Ok(State::new()) })
    }

    fn save<'a>(
        &'a self,
        state: &'a State,
        _bytes: Vec<u8>,
    ) -> BoxFuture<'a, Result<(), StateStoreError>> {
        Box::pin(async move {
            let mut saves = self.saves.lock().expect("lock");
            if saves.len() >= self.allowed {
                self.cancel.cancel();
                return Err(StateStoreError::Conflict {
                    what: "deployment".into(),
                });
            }
            saves.push(state.serial);
            Ok(())
        })
    }
}

#[tokio::test]
async fn a_store_that_loses_the_state_stops_the_run() {
    // A chain: each resource starts only after the previous one's state was saved.
    let (mut case, kinds) = kinds_case(
        r#"
resource "kind_thing" "a" { fail = "" }
resource "kind_thing" "b" {
  fail       = ""
  depends_on = [kind_thing.a]
}
resource "kind_thing" "c" {
  fail       = ""
  depends_on = [kind_thing.b]
}
resource "kind_thing" "d" {
  fail       = ""
  depends_on = [kind_thing.c]
}
"#,
    );
    let cancel = Cancel::new();
    case.engine = case.engine.clone().with_cancel(cancel.clone());
    let store = Arc::new(LosingStore {
        allowed: 3,
        saves: Mutex::new(Vec::new()),
        cancel,
    });
    let report = apply_with(
        &case,
        Arc::new(SyncState::with_store(State::new(), store.clone())),
    )
    .await;
    assert!(!report.is_success());
    assert!(report.cancelled);
    let saves = store.saves.lock().expect("lock").clone();
    assert_eq!(saves.len(), 3, "{saves:?}");
    assert!(
        saves.windows(2).all(|w| w[0] < w[1]),
        "serials grow: {saves:?}"
    );
    // Nothing after the lost save reached the provider: `c` and `d` never started.
    assert!(kinds.created.load(Ordering::SeqCst) < 4);
    assert!(report
        .diagnostics
        .iter()
        .any(|d| d.message.contains("belongs to another run")));
}
