//! Helpers shared by the engine's integration tests: a manifest folder in a temp dir, and
//! plan/apply against a state file in it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use vitrina_engine::config::Config;
use vitrina_engine::context::{Engine, PlannedRun, VarInputs};
use vitrina_engine::plan::PlanMode;
use vitrina_engine::state::file::{read_state, StateFile};
use vitrina_engine::state::sync::SyncState;
use vitrina_engine::{ProviderRegistry, State};

pub struct Case {
    pub dir: tempfile::TempDir,
    pub engine: Engine,
    pub inputs: VarInputs,
}

impl Case {
    pub fn new(main_tf: &str) -> Case {
        Case::with_registry(main_tf, ProviderRegistry::with_builtins())
    }

    pub fn with_registry(main_tf: &str, registry: ProviderRegistry) -> Case {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("main.tf"), main_tf).expect("write main.tf");
        Case {
            dir,
            engine: Engine::new(registry),
            inputs: VarInputs::default(),
        }
    }

    pub fn write(&self, main_tf: &str) {
        std::fs::write(self.dir.path().join("main.tf"), main_tf).expect("write main.tf");
    }

    pub fn state_path(&self) -> PathBuf {
        self.dir.path().join("vitrina.tfstate")
    }

    pub fn config(&self) -> Config {
        let (config, diags) = Config::load_dir(self.dir.path());
        assert!(!diags.has_errors(), "configuration errors: {diags:?}");
        config
    }

    pub fn state(&self) -> State {
        read_state(&self.state_path()).expect("read state")
    }

    pub async fn plan(
        &self,
        mode: PlanMode,
    ) -> Result<PlannedRun, vitrina_diagnostics::Diagnostics> {
        let config = self.config();
        self.engine
            .plan(&config, &self.inputs, self.state(), mode)
            .await
    }

    /// Plans and applies; panics with the diagnostics on failure.
    pub async fn apply(&self, mode: PlanMode) -> PlannedRun {
        let planned = self
            .plan(mode)
            .await
            .unwrap_or_else(|d| panic!("plan failed: {d:?}"));
        let report = self.apply_planned(&planned).await;
        assert!(
            report.is_success(),
            "apply failed: {:?}",
            report.diagnostics
        );
        planned
    }

    pub async fn apply_planned(
        &self,
        planned: &PlannedRun,
    ) -> vitrina_engine::context::ApplyReport {
        let config = self.config();
        let file = StateFile::lock(self.state_path()).expect("lock");
        let sync = Arc::new(SyncState::new(planned.prior.clone(), Some(file)));
        self.engine.apply(&config, planned, sync).await
    }

    /// A normal plan proposes nothing; the failure lists what it proposes.
    pub async fn assert_no_changes(&self) {
        let planned = self
            .plan(PlanMode::Normal)
            .await
            .unwrap_or_else(|d| panic!("plan failed: {d:?}"));
        assert!(!planned.plan.has_changes(), "{:?}", actions(&planned));
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

/// `address → action` for every change that is not a no-op.
pub fn actions(planned: &PlannedRun) -> Vec<(String, String)> {
    planned
        .plan
        .changes
        .iter()
        .filter(|c| c.action != vitrina_engine::Action::NoOp)
        .map(|c| (c.addr.to_string(), c.action.as_str().to_owned()))
        .collect()
}

/// An attribute of an instance in the state.
pub fn attr(state: &State, addr: &str, name: &str) -> vitrina_engine::Value {
    state
        .resources
        .iter()
        .flat_map(|(r, rs)| {
            rs.instances
                .iter()
                .map(move |(k, i)| (r.instance(k.clone()).to_string(), i))
        })
        .find(|(a, _)| a == addr)
        .and_then(|(_, i)| i.current.as_ref())
        .map(|o| o.attributes.get(name).clone())
        .unwrap_or_else(|| panic!("`{addr}` not in the state"))
}
