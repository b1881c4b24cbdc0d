//! `vitrina tf …`: run a manifest folder like Terraform would (validate, plan, apply, destroy,
//! output). Arguments are parsed here, resolved into engine inputs, and the engine does the work;
//! progress goes to stderr as plain lines, data to stdout.

use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use clap::{Args, Subcommand};
use vitrina_diagnostics::{Diagnostics, SourceMap};
use vitrina_engine::config::Config;
use vitrina_engine::context::{Engine, PlannedRun, VarInputs};
use vitrina_engine::hooks::Hook;
use vitrina_engine::plan::PlanMode;
use vitrina_engine::state::file::{read_state, StateFile, StateFileError};
use vitrina_engine::state::sync::SyncState;
use vitrina_engine::{Action, InstanceAddr, ProviderRegistry};

use crate::exit::print_error;
use crate::ExitStatus;

#[derive(Debug, Subcommand)]
pub enum TfCommand {
    /// Check a manifest folder: syntax, references, cycles, arguments against provider schemas
    Validate(ValidateArgs),
    /// Show what apply would do
    Plan(PlanArgs),
    /// Create, update and replace resources to match the manifest
    Apply(ApplyArgs),
    /// Destroy every resource in the state
    Destroy(DestroyArgs),
    /// Print the outputs recorded in the state
    Output(OutputArgs),
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// The folder holding `*.tf` files
    pub dir: PathBuf,
    /// Output format of the diagnostics
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Same as `--format json`
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The folder holding `*.tf` files (and optionally `*.tfvars` / `*.tfvars.json`)
    pub dir: PathBuf,
    /// Set a variable: NAME=VALUE (VALUE is an HCL expression when it parses, else a string)
    #[arg(long = "var", value_name = "NAME=VALUE")]
    pub vars: Vec<String>,
    /// Read variables from a `.tfvars` or `.tfvars.json` file
    #[arg(long = "var-file", value_name = "FILE")]
    pub var_files: Vec<PathBuf>,
    /// The state file (default: DIR/vitrina.tfstate)
    #[arg(long, value_name = "FILE")]
    pub state: Option<PathBuf>,
    /// Print the plan as JSON on stdout
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub run: RunArgs,
}

#[derive(Debug, Args)]
pub struct ApplyArgs {
    #[command(flatten)]
    pub run: RunArgs,
    /// Apply without asking for confirmation
    #[arg(long)]
    pub auto_approve: bool,
    /// How many resource operations run at once
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u16).range(1..))]
    pub parallelism: u16,
}

#[derive(Debug, Args)]
pub struct DestroyArgs {
    #[command(flatten)]
    pub run: RunArgs,
    /// Destroy without asking for confirmation
    #[arg(long)]
    pub auto_approve: bool,
    /// How many resource operations run at once
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u16).range(1..))]
    pub parallelism: u16,
}

#[derive(Debug, Args)]
pub struct OutputArgs {
    /// The folder holding `*.tf` files
    pub dir: PathBuf,
    /// The state file (default: DIR/vitrina.tfstate)
    #[arg(long, value_name = "FILE")]
    pub state: Option<PathBuf>,
    /// Print as JSON: `{"NAME":{"value":…,"sensitive":bool,"type":…}}`
    #[arg(long)]
    pub json: bool,
    /// Print only this output's value
    pub name: Option<String>,
}

pub fn run(cmd: TfCommand) -> ExitStatus {
    match cmd {
        TfCommand::Validate(a) => validate(&a),
        TfCommand::Plan(a) => plan_cmd(&a.run),
        TfCommand::Apply(a) => apply_cmd(&a.run, PlanMode::Normal, a.auto_approve, a.parallelism),
        TfCommand::Destroy(a) => {
            apply_cmd(&a.run, PlanMode::Destroy, a.auto_approve, a.parallelism)
        }
        TfCommand::Output(a) => output(&a),
    }
}

/// The providers `vitrina tf` offers: the engine's built-ins and `vkcs`. Cloud providers
/// register here as their rooms land.
fn registry() -> ProviderRegistry {
    let mut registry = ProviderRegistry::with_builtins();
    vitrina_providers::register(&mut registry);
    registry
}

fn runtime() -> Result<tokio::runtime::Runtime, std::io::Error> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
}

/// The text shown before file names in diagnostics: the folder as the user typed it.
fn prefix(dir: &Path) -> String {
    let s = dir.to_string_lossy();
    if s.ends_with('/') {
        s.into_owned()
    } else {
        format!("{s}/")
    }
}

fn print_diags(sources: &SourceMap, diags: &Diagnostics, dir: &Path) {
    if !diags.is_empty() {
        eprint!("{}", sources.render_text(diags, &prefix(dir)));
    }
}

fn load(dir: &Path) -> Result<(Config, Diagnostics), ExitStatus> {
    if !dir.is_dir() {
        eprintln!("error: `{}` is not a folder", dir.display());
        return Err(ExitStatus::Usage);
    }
    Ok(Config::load_dir(dir))
}

fn validate(a: &ValidateArgs) -> ExitStatus {
    let (config, mut diags) = match load(&a.dir) {
        Ok(x) => x,
        Err(s) => return s,
    };
    if !diags.has_errors() {
        // Against every schema vitrina knows, `ivkcs` (declared as data) included.
        let engine = Engine::new(registry());
        diags.extend(
            engine
                .validate_against(&config, &vitrina_providers::schemas())
                .into_vec(),
        );
    }
    diags.sort();
    if a.json || a.format == Format::Json {
        let out = serde_json::json!({
            "ok": !diags.has_errors(),
            "diagnostics": config.sources.to_json(&diags),
        });
        println!("{out}");
    } else {
        print_diags(&config.sources, &diags, &a.dir);
        if !diags.has_errors() {
            eprintln!("The configuration is valid.");
        }
    }
    if diags.has_errors() {
        ExitStatus::Failure
    } else {
        ExitStatus::Success
    }
}

fn inputs(run: &RunArgs) -> Result<VarInputs, (Option<Diagnostics>, String)> {
    let mut inputs = VarInputs::default();
    inputs.add_env(std::env::vars());
    inputs
        .add_dir_files(&run.dir)
        .map_err(|d| (Some(d), "cannot read the variable files".to_owned()))?;
    for f in &run.var_files {
        if !f.is_file() {
            return Err((
                None,
                format!("the variable file `{}` does not exist", f.display()),
            ));
        }
        inputs
            .add_file(f)
            .map_err(|d| (Some(d), format!("cannot read `{}`", f.display())))?;
    }
    for v in &run.vars {
        inputs.add_cli(v).map_err(|m| (None, m))?;
    }
    // Marketplace conventions: a deployment's `instance_uuid` is made once and kept in the
    // state; `email` comes from the environment.
    inputs.generated_uuids.insert("instance_uuid".to_owned());
    if let Ok(email) = std::env::var("VITRINA_EMAIL") {
        inputs.fallbacks.insert(
            "email".to_owned(),
            vitrina_engine::context::vars::parse_cli_value(&format!(
                "\"{}\"",
                email.replace('"', "\\\"")
            )),
        );
    }
    Ok(inputs)
}

fn state_path(run_dir: &Path, state: Option<&PathBuf>) -> PathBuf {
    state
        .cloned()
        .unwrap_or_else(|| run_dir.join("vitrina.tfstate"))
}

fn plan_cmd(run: &RunArgs) -> ExitStatus {
    let (config, diags) = match load(&run.dir) {
        Ok(x) => x,
        Err(s) => return s,
    };
    // Warnings (deprecated forms) are shown too; errors stop here.
    print_diags(&config.sources, &diags, &run.dir);
    if diags.has_errors() {
        return ExitStatus::Failure;
    }
    let inputs = match inputs(run) {
        Ok(i) => i,
        Err((d, m)) => return input_error(&config, d, &m, &run.dir),
    };
    let path = state_path(&run.dir, run.state.as_ref());
    let state = match read_state(&path) {
        Ok(s) => s,
        Err(e) => {
            print_error(&e);
            return state_exit(&e);
        }
    };
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(e) => {
            print_error(&e);
            return ExitStatus::Usage;
        }
    };
    let engine = Engine::new(registry()).with_hooks(Arc::new(Progress::new(false)));
    let planned = match rt.block_on(engine.plan(&config, &inputs, state, PlanMode::Normal)) {
        Ok(p) => p,
        Err(d) => {
            print_diags(&config.sources, &d, &run.dir);
            return ExitStatus::Failure;
        }
    };
    print_diags(&config.sources, &planned.warnings, &run.dir);
    print_plan(&planned, run.json);
    ExitStatus::Success
}

fn print_plan(planned: &PlannedRun, json: bool) {
    let mut out = std::io::stdout().lock();
    let _ = if json {
        writeln!(out, "{}", planned.plan.to_json())
    } else {
        write!(out, "{}", planned.plan.render_text())
    };
}

fn input_error(config: &Config, d: Option<Diagnostics>, message: &str, dir: &Path) -> ExitStatus {
    match d {
        Some(d) => {
            print_diags(&config.sources, &d, dir);
            eprintln!("error: {message}");
            ExitStatus::Failure
        }
        None => {
            eprintln!("error: {message}");
            ExitStatus::Usage
        }
    }
}

fn state_exit(e: &StateFileError) -> ExitStatus {
    match e {
        StateFileError::Format { .. } => ExitStatus::Failure,
        _ => ExitStatus::Usage,
    }
}

fn apply_cmd(run: &RunArgs, mode: PlanMode, auto_approve: bool, parallelism: u16) -> ExitStatus {
    let (config, diags) = match load(&run.dir) {
        Ok(x) => x,
        Err(s) => return s,
    };
    // Warnings (deprecated forms) are shown too; errors stop here.
    print_diags(&config.sources, &diags, &run.dir);
    if diags.has_errors() {
        return ExitStatus::Failure;
    }
    let inputs = match inputs(run) {
        Ok(i) => i,
        Err((d, m)) => return input_error(&config, d, &m, &run.dir),
    };
    let path = state_path(&run.dir, run.state.as_ref());
    let file = match StateFile::lock(&path) {
        Ok(f) => f,
        Err(e) => {
            print_error(&e);
            return state_exit(&e);
        }
    };
    let state = match file.load() {
        Ok(s) => s,
        Err(e) => {
            print_error(&e);
            return state_exit(&e);
        }
    };
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(e) => {
            print_error(&e);
            return ExitStatus::Usage;
        }
    };
    let progress = Arc::new(Progress::new(true));
    let engine = Engine::new(registry())
        .with_hooks(progress.clone())
        .with_parallelism(usize::from(parallelism));
    let planned = match rt.block_on(engine.plan(&config, &inputs, state, mode)) {
        Ok(p) => p,
        Err(d) => {
            print_diags(&config.sources, &d, &run.dir);
            return ExitStatus::Failure;
        }
    };
    print_diags(&config.sources, &planned.warnings, &run.dir);
    if run.json {
        print_plan(&planned, true);
    } else {
        // The plan is information for the person at the terminal: stderr, like progress.
        eprint!("{}", planned.plan.render_text());
    }
    if !planned.plan.has_changes() && planned.prior.generated.is_empty() {
        eprintln!("\nApply complete! Resources: 0 added, 0 changed, 0 destroyed.");
        return ExitStatus::Success;
    }
    if !auto_approve && planned.plan.has_changes() && !confirm(mode) {
        eprintln!("Apply cancelled.");
        return ExitStatus::Failure;
    }
    let sync = Arc::new(SyncState::new(planned.prior.clone(), Some(file)));
    let report = rt.block_on(engine.apply(&config, &planned, sync));
    print_diags(&config.sources, &report.diagnostics, &run.dir);
    let what = if mode == PlanMode::Destroy {
        "Destroy"
    } else {
        "Apply"
    };
    if report.is_success() {
        eprintln!(
            "\n{what} complete! Resources: {} added, {} changed, {} destroyed.",
            report.added, report.changed, report.destroyed
        );
        ExitStatus::Success
    } else {
        eprintln!(
            "\n{what} failed: {} error(s). Resources: {} added, {} changed, {} destroyed; the state holds what was done.",
            report.diagnostics.error_count(),
            report.added,
            report.changed,
            report.destroyed
        );
        ExitStatus::Failure
    }
}

/// Asks on the terminal; anything but `yes` (or no terminal answer) declines.
fn confirm(mode: PlanMode) -> bool {
    let what = if mode == PlanMode::Destroy {
        "destroy all resources"
    } else {
        "perform these actions"
    };
    eprint!("\nDo you want to {what}? Only 'yes' will be accepted (or pass --auto-approve): ");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    match std::io::stdin().lock().read_line(&mut line) {
        Ok(n) if n > 0 => line.trim() == "yes",
        _ => false,
    }
}

fn output(a: &OutputArgs) -> ExitStatus {
    let path = state_path(&a.dir, a.state.as_ref());
    if a.state.is_none() && !a.dir.is_dir() {
        eprintln!("error: `{}` is not a folder", a.dir.display());
        return ExitStatus::Usage;
    }
    let state = match read_state(&path) {
        Ok(s) => s,
        Err(e) => {
            print_error(&e);
            return state_exit(&e);
        }
    };
    let mut out = std::io::stdout().lock();
    if let Some(name) = &a.name {
        let Some(o) = state.outputs.get(name) else {
            eprintln!(
                "error: no output `{name}` in the state `{}`",
                path.display()
            );
            return ExitStatus::Failure;
        };
        let _ = match (&o.value, a.json) {
            (v, true) => writeln!(out, "{v}"),
            (serde_json::Value::String(s), false) => writeln!(out, "{s}"),
            (v, false) => writeln!(
                out,
                "{}",
                serde_json::to_string_pretty(v).unwrap_or_default()
            ),
        };
        return ExitStatus::Success;
    }
    if a.json {
        let m: serde_json::Map<String, serde_json::Value> = state
            .outputs
            .iter()
            .map(|(k, o)| (k.clone(), serde_json::json!({"value": o.value, "sensitive": o.sensitive, "type": o.type_})))
            .collect();
        let _ = writeln!(out, "{}", serde_json::Value::Object(m));
    } else {
        for (k, o) in &state.outputs {
            let shown = if o.sensitive {
                "<sensitive>".to_owned()
            } else {
                o.value.to_string()
            };
            let _ = writeln!(out, "{k} = {shown}");
        }
    }
    ExitStatus::Success
}

/// Progress lines on stderr ("null_resource.a: Creating...", "Still creating... [10s
/// elapsed]"), and, when `VITRINA_TF_EVENT_LOG` names a file, one JSON line per completed
/// operation appended to it (used by crash tests and by tooling that follows an apply).
struct Progress {
    apply: bool,
    event_log: Option<Mutex<std::fs::File>>,
    terminal: bool,
}

impl Progress {
    fn new(apply: bool) -> Self {
        let event_log = std::env::var_os("VITRINA_TF_EVENT_LOG").and_then(|p| {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)
                .ok()
                .map(Mutex::new)
        });
        Progress {
            apply,
            event_log,
            terminal: std::io::stderr().is_terminal(),
        }
    }

    fn line(&self, text: &str) {
        let mut err = std::io::stderr().lock();
        let _ = if self.terminal {
            writeln!(err, "\x1b[1m{text}\x1b[0m")
        } else {
            writeln!(err, "{text}")
        };
    }
}

fn past(action: Action) -> &'static str {
    match action {
        Action::Create | Action::Replace => "Creation complete",
        Action::Update => "Modifications complete",
        Action::Delete => "Destruction complete",
        Action::Read => "Read complete",
        Action::NoOp => "Done",
    }
}

impl Hook for Progress {
    fn pre_apply(&self, addr: &InstanceAddr, action: Action) {
        if self.apply {
            self.line(&format!("{addr}: {}...", action.verb()));
        }
    }

    fn still_applying(&self, addr: &InstanceAddr, action: Action, elapsed: Duration) {
        self.line(&format!(
            "{addr}: Still {}... [{}s elapsed]",
            action.verb().to_lowercase(),
            elapsed.as_secs()
        ));
    }

    fn post_apply(
        &self,
        addr: &InstanceAddr,
        action: Action,
        id: Option<&str>,
        elapsed: Duration,
        error: Option<&str>,
    ) {
        if let Some(log) = &self.event_log {
            let line = serde_json::json!({
                "event": "apply",
                "address": addr.to_string(),
                "action": action.as_str(),
                "id": id,
                "error": error,
            });
            if let Ok(mut f) = log.lock() {
                let _ = writeln!(f, "{line}");
            }
        }
        match error {
            None => {
                let id = id.map(|i| format!(" [id={i}]")).unwrap_or_default();
                self.line(&format!(
                    "{addr}: {} after {}s{id}",
                    past(action),
                    elapsed.as_secs()
                ));
            }
            Some(e) => self.line(&format!(
                "{addr}: {} failed after {}s: {e}",
                action.verb(),
                elapsed.as_secs()
            )),
        }
    }
}
