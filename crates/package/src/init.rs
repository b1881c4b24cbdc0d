//! `vitrina package init`: writes a new, complete service package that validates with no
//! diagnostic: fresh UUID4s, a PNG icon, one option of each common kind, a wizard per plan, and a
//! manifest that deploys a web page on one VM (it runs on `localcloud`).
//!
//! The files come from `templates/init/` (compiled in); `{{…}}` placeholders are filled here.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// The generator version written to `version.yaml`. Both versions share one layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Generator {
    /// `0.0.1`
    V0_0_1,
    /// `1.0.0`
    #[default]
    V1_0_0,
}

impl Generator {
    /// The version string as written in `version.yaml`.
    pub fn as_str(self) -> &'static str {
        match self {
            Generator::V0_0_1 => "0.0.1",
            Generator::V1_0_0 => "1.0.0",
        }
    }
}

impl fmt::Display for Generator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Generator {
    type Err = InitError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "0.0.1" => Ok(Generator::V0_0_1),
            "1.0.0" => Ok(Generator::V1_0_0),
            other => Err(InitError::UnsupportedGenerator(other.to_owned())),
        }
    }
}

/// What to create besides the package name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitOptions {
    /// Plan folder names, in order; at least one. Letters, digits and `_`.
    pub plans: Vec<String>,
    /// The generator version for `version.yaml`.
    pub generator: Generator,
}

impl Default for InitOptions {
    fn default() -> Self {
        InitOptions {
            plans: vec![DEFAULT_PLAN.to_owned()],
            generator: Generator::default(),
        }
    }
}

/// The plan `init` creates when none is named.
pub const DEFAULT_PLAN: &str = "basic";

/// Longest package or plan name accepted (service and plan names are limited to 255 chars).
const MAX_NAME: usize = 64;

/// Why a package could not be created. Every variant but [`InitError::Io`] is a usage error.
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    #[error("invalid package name {0:?}: use 1-64 ASCII letters, digits, `_`, `-` or `.`, starting with a letter or digit")]
    BadPackageName(String),
    #[error("invalid plan name {0:?}: use 1-64 ASCII letters, digits or `_`")]
    BadPlanName(String),
    #[error("plan {0:?} is named twice")]
    DuplicatePlan(String),
    #[error("at least one plan is needed")]
    NoPlans,
    #[error("unsupported generator version {0:?}: use 0.0.1 or 1.0.0")]
    UnsupportedGenerator(String),
    #[error("{} already exists; choose another name or remove it first", .0.display())]
    Exists(PathBuf),
    #[error("cannot write {}", .path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl InitError {
    fn io(path: &Path, source: std::io::Error) -> Self {
        InitError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

mod template {
    /// `(name, text of templates/init/parameters/<name>.yaml)`
    macro_rules! option {
        ($name:literal) => {
            (
                $name,
                include_str!(concat!("../templates/init/parameters/", $name, ".yaml")),
            )
        };
    }

    pub const VERSION: &str = include_str!("../templates/init/version.yaml");
    pub const SERVICE: &str = include_str!("../templates/init/service.yaml");
    pub const DESCRIPTION: &str = include_str!("../templates/init/full_description.md");
    pub const ICON: &[u8] = include_bytes!("../templates/init/icon.png");
    pub const PLAN: &str = include_str!("../templates/init/plan.yaml");
    pub const DISPLAY: &str = include_str!("../templates/init/display.yaml");
    pub const DEPLOY: &str = include_str!("../templates/init/deploy.tf");
    pub const SETTINGS: &str = include_str!("../templates/init/settings.yaml");
    /// `(option name, file text)`: one option of each common kind.
    pub const OPTIONS: &[(&str, &str)] = &[
        option!("flavor"),
        option!("az"),
        option!("subnet"),
        option!("disk_type"),
        option!("disk_size"),
        option!("greeting"),
        option!("log_level"),
        option!("workers"),
        option!("show_host"),
    ];
}

/// Whether `name` may name the package folder (a file-name-safe word).
pub fn is_valid_package_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphanumeric())
        && name.len() <= MAX_NAME
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

/// Whether `name` may name a plan (the spec allows ASCII letters, digits and `_`).
pub fn is_valid_plan_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Every file of a new package as `(path relative to the package folder, bytes)`, in writing
/// order. Checks the names first; touches no file.
pub fn package_files(name: &str, opts: &InitOptions) -> Result<Vec<(String, Vec<u8>)>, InitError> {
    if !is_valid_package_name(name) {
        return Err(InitError::BadPackageName(name.to_owned()));
    }
    if opts.plans.is_empty() {
        return Err(InitError::NoPlans);
    }
    for (i, plan) in opts.plans.iter().enumerate() {
        if !is_valid_plan_name(plan) {
            return Err(InitError::BadPlanName(plan.clone()));
        }
        if opts.plans[..i].contains(plan) {
            return Err(InitError::DuplicatePlan(plan.clone()));
        }
    }

    let service_id = uuid::Uuid::new_v4().to_string();
    let plan_list: String = opts
        .plans
        .iter()
        .map(|p| format!("  - name: {p}\n"))
        .collect();
    let text = |t: &str, vars: &[(&str, &str)]| fill(t, vars).into_bytes();

    let mut files = vec![
        (
            "version.yaml".to_owned(),
            text(template::VERSION, &[("generator", opts.generator.as_str())]),
        ),
        (
            "service.yaml".to_owned(),
            text(
                template::SERVICE,
                &[
                    ("service_id", &service_id),
                    ("name", name),
                    ("plan_list", &plan_list),
                ],
            ),
        ),
        (
            "full_description.md".to_owned(),
            text(template::DESCRIPTION, &[("name", name)]),
        ),
        ("images/icon.png".to_owned(), template::ICON.to_vec()),
    ];
    for (option, body) in template::OPTIONS {
        files.push((
            format!("parameters/{option}.yaml"),
            body.as_bytes().to_vec(),
        ));
    }
    for plan in &opts.plans {
        let plan_id = uuid::Uuid::new_v4().to_string();
        let description = plan_description(plan);
        files.push((
            format!("plans/{plan}/plan.yaml"),
            text(
                template::PLAN,
                &[
                    ("plan_id", &plan_id),
                    ("plan", plan),
                    ("plan_description", &description),
                ],
            ),
        ));
        files.push((
            format!("plans/{plan}/display.yaml"),
            template::DISPLAY.as_bytes().to_vec(),
        ));
        files.push((
            format!("plans/{plan}/deployment/deploy.tf"),
            template::DEPLOY.as_bytes().to_vec(),
        ));
        files.push((
            format!("plans/{plan}/deployment/settings.yaml"),
            template::SETTINGS.as_bytes().to_vec(),
        ));
    }
    Ok(files)
}

/// Creates `parent/name/` with a complete package and returns its path. `parent` is created when
/// missing; an existing `parent/name` is never touched ([`InitError::Exists`]). If writing fails
/// half-way, the new folder is removed again.
pub fn init_package(parent: &Path, name: &str, opts: &InitOptions) -> Result<PathBuf, InitError> {
    let files = package_files(name, opts)?;
    let root = parent.join(name);
    if root.symlink_metadata().is_ok() {
        return Err(InitError::Exists(root));
    }
    std::fs::create_dir_all(parent).map_err(|e| InitError::io(parent, e))?;
    // `create_dir` (not `_all`) claims the folder: it fails if someone created it meanwhile.
    if let Err(e) = std::fs::create_dir(&root) {
        return Err(if e.kind() == std::io::ErrorKind::AlreadyExists {
            InitError::Exists(root)
        } else {
            InitError::io(&root, e)
        });
    }
    match write_all(&root, &files) {
        Ok(()) => Ok(root),
        Err(e) => {
            // Best effort: the folder is ours and incomplete.
            let _ = std::fs::remove_dir_all(&root);
            Err(e)
        }
    }
}

fn write_all(root: &Path, files: &[(String, Vec<u8>)]) -> Result<(), InitError> {
    for (rel, bytes) in files {
        let path = root.join(rel);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| InitError::io(dir, e))?;
        }
        std::fs::write(&path, bytes).map_err(|e| InitError::io(&path, e))?;
    }
    Ok(())
}

/// `pro_plus` → `Pro plus`: the plan name users see, made from the folder name.
fn plan_description(plan: &str) -> String {
    let words = plan.replace('_', " ");
    let mut chars = words.trim().chars();
    match chars.next() {
        Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
        None => plan.to_owned(),
    }
}

/// Replaces each `{{key}}` by its value; unknown placeholders are left as they are.
fn fill(template: &str, vars: &[(&str, &str)]) -> String {
    let mut out = template.to_owned();
    for (key, value) in vars {
        out = out.replace(&format!("{{{{{key}}}}}"), value);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file<'a>(files: &'a [(String, Vec<u8>)], path: &str) -> &'a str {
        let (_, bytes) = files
            .iter()
            .find(|(p, _)| p == path)
            .unwrap_or_else(|| panic!("{path} is not written"));
        std::str::from_utf8(bytes).expect("templates are UTF-8")
    }

    #[test]
    fn fills_every_placeholder() {
        let opts = InitOptions {
            plans: vec!["a".into(), "pro_plus".into()],
            generator: Generator::V0_0_1,
        };
        let files = package_files("my_app", &opts).expect("valid names");
        for (path, bytes) in &files {
            if let Ok(text) = std::str::from_utf8(bytes) {
                assert!(!text.contains("{{"), "{path} keeps a placeholder");
            }
        }
        assert_eq!(file(&files, "version.yaml"), "version: 0.0.1\n");
        let service = file(&files, "service.yaml");
        assert!(service.contains("name: my_app\n"));
        assert!(service.contains("plans:\n  - name: a\n  - name: pro_plus\n"));
        assert!(file(&files, "plans/pro_plus/plan.yaml").contains("description: Pro plus\n"));
        assert!(files
            .iter()
            .any(|(p, _)| p == "plans/a/deployment/deploy.tf"));
    }

    #[test]
    fn ids_are_fresh_uuid4s() {
        let files = package_files("x", &InitOptions::default()).expect("valid names");
        let id_of = |text: &str| -> uuid::Uuid {
            let line = text
                .lines()
                .find_map(|l| l.strip_prefix("id: "))
                .expect("an id line");
            uuid::Uuid::parse_str(line).expect("a UUID")
        };
        let service = id_of(file(&files, "service.yaml"));
        let plan = id_of(file(&files, "plans/basic/plan.yaml"));
        assert_eq!(service.get_version_num(), 4);
        assert_eq!(plan.get_version_num(), 4);
        assert_ne!(service, plan);
        let again = package_files("x", &InitOptions::default()).expect("valid names");
        assert_ne!(id_of(file(&again, "service.yaml")), service);
    }

    #[test]
    fn icon_is_a_large_enough_png() {
        let icon = template::ICON;
        assert!(icon.starts_with(b"\x89PNG\r\n\x1a\n"));
        let width = u32::from_be_bytes([icon[16], icon[17], icon[18], icon[19]]);
        let height = u32::from_be_bytes([icon[20], icon[21], icon[22], icon[23]]);
        assert!(width >= 62 && height >= 62, "{width}x{height}");
    }

    #[test]
    fn rejects_bad_names() {
        let opts = InitOptions::default();
        assert!(matches!(
            package_files("my app", &opts),
            Err(InitError::BadPackageName(_))
        ));
        assert!(matches!(
            package_files("../x", &opts),
            Err(InitError::BadPackageName(_))
        ));
        assert!(matches!(
            package_files("", &opts),
            Err(InitError::BadPackageName(_))
        ));
        let bad_plan = InitOptions {
            plans: vec!["a-b".into()],
            ..InitOptions::default()
        };
        assert!(matches!(
            package_files("x", &bad_plan),
            Err(InitError::BadPlanName(_))
        ));
        let twice = InitOptions {
            plans: vec!["a".into(), "a".into()],
            ..InitOptions::default()
        };
        assert!(matches!(
            package_files("x", &twice),
            Err(InitError::DuplicatePlan(_))
        ));
        let none = InitOptions {
            plans: vec![],
            ..InitOptions::default()
        };
        assert!(matches!(package_files("x", &none), Err(InitError::NoPlans)));
        assert!(matches!(
            "2.0".parse::<Generator>(),
            Err(InitError::UnsupportedGenerator(_))
        ));
    }

    #[test]
    fn writes_the_package_and_refuses_to_overwrite() {
        let dir = tempfile::tempdir().expect("temp dir");
        let parent = dir.path().join("nested");
        let root = init_package(&parent, "my_app", &InitOptions::default()).expect("created");
        assert_eq!(root, parent.join("my_app"));
        for rel in [
            "version.yaml",
            "service.yaml",
            "full_description.md",
            "images/icon.png",
            "parameters/greeting.yaml",
            "plans/basic/plan.yaml",
            "plans/basic/display.yaml",
            "plans/basic/deployment/deploy.tf",
        ] {
            assert!(root.join(rel).is_file(), "{rel} missing");
        }
        let before = std::fs::read(root.join("service.yaml")).expect("service.yaml");
        let again = init_package(&parent, "my_app", &InitOptions::default());
        assert!(matches!(again, Err(InitError::Exists(_))));
        let after = std::fs::read(root.join("service.yaml")).expect("service.yaml");
        assert_eq!(before, after, "an existing package must not be touched");
    }
}
