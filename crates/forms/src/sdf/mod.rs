//! VM-SDF applications as form models (seed 004): typed variables with localized labels,
//! `active-if` conditions that cascade through defaults, sections, volatile fields, and the
//! `deployment-info` YAML the form produces.
//!
//! ```text
//! package::sdf (file → App) ─► Form::evaluate(Input) ─► FormState (active, value, error per variable)
//!                                                         ├─► variables_yaml / deployment_info (YAML library)
//!                                                         └─► Form::check_update (is-volatile)
//! ```
//! No files and no HTTP here: the package room reads app files into [`App`], the server and
//! the CLI render and check answers with it.

mod eval;
mod output;
pub mod validators;

use std::collections::{BTreeMap, HashMap};
use std::fmt;

pub use eval::{FieldError, FieldState, FormState, Input, Refusal};
pub use output::{
    deployment_info, flatten, pointer_userdata, to_yaml_text, DeliveredFeature, MASK,
};

/// A text in several languages: `default` always, other locales (`ru_RU`, `en_US`) optional.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Localized {
    pub default: String,
    pub locales: BTreeMap<String, String>,
}

impl Localized {
    pub fn plain(text: impl Into<String>) -> Self {
        Localized {
            default: text.into(),
            locales: BTreeMap::new(),
        }
    }

    /// The text for `locale` (`ru_RU`), its language alone (`ru`), or the default.
    pub fn get(&self, locale: &str) -> &str {
        if let Some(t) = self.locales.get(locale) {
            return t;
        }
        let lang = locale.split(['_', '-']).next().unwrap_or(locale);
        self.locales
            .iter()
            .find(|(k, _)| k.split(['_', '-']).next() == Some(lang))
            .map_or(self.default.as_str(), |(_, v)| v.as_str())
    }
}

/// A value of a variable: what a default, an option key or an answer holds.
#[derive(Debug, Clone, PartialEq)]
pub enum SdfValue {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    String(String),
    List(Vec<SdfValue>),
}

impl SdfValue {
    /// The text two scalars are compared by: option keys, `active-if` values and answers typed
    /// in a web form (`"true"`, `"8443"`) meet here. `None` for null and lists.
    pub fn key(&self) -> Option<String> {
        match self {
            SdfValue::Null | SdfValue::List(_) => None,
            SdfValue::Bool(b) => Some(b.to_string()),
            SdfValue::Int(i) => Some(i.to_string()),
            SdfValue::Float(f) if f.fract() == 0.0 && f.abs() < 9.0e15 =>
            {
                #[allow(clippy::cast_possible_truncation)]
                Some((*f as i64).to_string())
            }
            SdfValue::Float(f) => Some(f.to_string()),
            SdfValue::String(s) => Some(s.clone()),
        }
    }

    /// Whether two values are the same answer (scalars by [`SdfValue::key`], lists item by
    /// item, null only equal to null).
    pub fn same(&self, other: &SdfValue) -> bool {
        match (self, other) {
            (SdfValue::Null, SdfValue::Null) => true,
            (SdfValue::List(a), SdfValue::List(b)) => {
                a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.same(y))
            }
            (a, b) => a.key().is_some() && a.key() == b.key(),
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self, SdfValue::Null)
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            SdfValue::String(s) => Some(s),
            _ => None,
        }
    }
}

impl fmt::Display for SdfValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SdfValue::Null => write!(f, "null"),
            SdfValue::List(items) => {
                write!(f, "[")?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        write!(f, ", ")?;
                    }
                    write!(f, "{item}")?;
                }
                write!(f, "]")
            }
            other => write!(f, "{}", other.key().unwrap_or_default()),
        }
    }
}

/// A regular expression with its source text (compiled once, when the app is read).
#[derive(Debug, Clone)]
pub struct Pattern {
    pub source: String,
    re: Option<regex::Regex>,
}

impl Pattern {
    /// Compiles `source`; a pattern that does not compile matches nothing (the package room
    /// reports it).
    pub fn new(source: impl Into<String>) -> Self {
        let source = source.into();
        let re = compile_cached(&source);
        Pattern { source, re }
    }

    pub fn compiles(&self) -> bool {
        self.re.is_some()
    }

    pub fn is_match(&self, text: &str) -> bool {
        self.re.as_ref().is_some_and(|re| re.is_match(text))
    }
}

/// Catalogs repeat the same few patterns across hundreds of apps: each thread keeps the ones it
/// compiled (a `Regex` clone shares the compiled program). Bounded: past 1,024 patterns the
/// cache is cleared.
fn compile_cached(source: &str) -> Option<regex::Regex> {
    use std::cell::RefCell;
    thread_local! {
        static CACHE: RefCell<HashMap<String, Option<regex::Regex>>> = RefCell::new(HashMap::new());
    }
    CACHE.with(|c| {
        let mut cache = c.borrow_mut();
        if let Some(re) = cache.get(source) {
            return re.clone();
        }
        let re = regex::Regex::new(source).ok();
        if cache.len() >= 1024 {
            cache.clear();
        }
        cache.insert(source.to_owned(), re.clone());
        re
    })
}

impl PartialEq for Pattern {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

/// How `active-if` combines its sources.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Predicate {
    /// Every source has one of its values (the default when `predicate` is not given).
    #[default]
    And,
    /// At least one source has one of its values.
    Or,
}

/// `active-if`: the variable is active when the predicate over its sources holds.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    pub predicate: Predicate,
    /// Each source variable with the values that activate (one value or a list).
    pub sources: Vec<(String, Vec<SdfValue>)>,
}

/// An option of `OneOf` or `Some`.
#[derive(Debug, Clone, PartialEq)]
pub struct Choice {
    /// The option's key as written (`true`, `install`, `8443`): the value the output holds.
    pub value: SdfValue,
    pub label: Localized,
    /// `Some` only: always selected, the user cannot clear it.
    pub mandatory: bool,
}

/// How a `OneOf` is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum VisualMode {
    Dropdown,
    #[default]
    VerticalRadio,
    HorizontalRadio,
}

impl VisualMode {
    pub const NAMES: [&'static str; 3] =
        ["dropdown", "vertical-radio-group", "horizontal-radio-group"];

    pub fn parse(s: &str) -> Option<VisualMode> {
        match s {
            "dropdown" => Some(VisualMode::Dropdown),
            // `verical-radio-group` is how the spec's text spells it once.
            "vertical-radio-group" | "verical-radio-group" | "radio" => {
                Some(VisualMode::VerticalRadio)
            }
            "horizontal-radio-group" => Some(VisualMode::HorizontalRadio),
            _ => None,
        }
    }
}

/// Minimal resources a service offering (flavor) must have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Resources {
    pub minimal_ram_mb: Option<i64>,
    pub minimal_cores: Option<i64>,
    pub minimal_frequency_mhz: Option<i64>,
}

/// One filter of a `ServiceOffering`: every criterion given must hold (AND); filters of a list
/// are alternatives (OR).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct OfferingFilter {
    pub name: String,
    pub uuids: Vec<String>,
    pub resources: Option<Resources>,
    pub name_regex: Option<Pattern>,
}

/// A flavor of the cloud as the filters see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flavor {
    pub id: String,
    pub name: String,
    pub ram_mb: i64,
    pub vcpus: i64,
    /// CPU frequency when the cloud tells it; a frequency filter refuses flavors without one.
    pub frequency_mhz: Option<i64>,
}

impl OfferingFilter {
    pub fn matches(&self, f: &Flavor) -> bool {
        if !self.uuids.is_empty() && !self.uuids.iter().any(|u| u.eq_ignore_ascii_case(&f.id)) {
            return false;
        }
        if let Some(r) = &self.resources {
            if r.minimal_ram_mb.is_some_and(|m| f.ram_mb < m)
                || r.minimal_cores.is_some_and(|m| f.vcpus < m)
                || r.minimal_frequency_mhz
                    .is_some_and(|m| f.frequency_mhz.is_none_or(|have| have < m))
            {
                return false;
            }
        }
        self.name_regex.as_ref().is_none_or(|p| p.is_match(&f.name))
    }
}

/// The flavors any of `filters` accepts (all flavors when there is no filter), in the given order.
pub fn matching_flavors<'f>(filters: &[OfferingFilter], flavors: &'f [Flavor]) -> Vec<&'f Flavor> {
    flavors
        .iter()
        .filter(|f| filters.is_empty() || filters.iter().any(|flt| flt.matches(f)))
        .collect()
}

/// A variable's type with its type-specific settings.
#[derive(Debug, Clone, PartialEq)]
pub enum VarType {
    Number {
        minimum: Option<f64>,
        maximum: Option<f64>,
        integer: bool,
    },
    String {
        min_length: u64,
        max_length: u64,
        multiline: bool,
        base64: bool,
        regex: Option<Pattern>,
    },
    DomainName,
    IpAddress {
        /// 4, 6 or both.
        versions: Vec<u8>,
        /// CIDR `ip/prefix` instead of a host address.
        network: bool,
    },
    Uri {
        schemes: Vec<String>,
        max_length: u64,
    },
    Email,
    Password {
        min_length: u64,
        max_length: u64,
        regex: Option<Pattern>,
    },
    OneOf {
        options: Vec<Choice>,
        visual: VisualMode,
    },
    Some {
        options: Vec<Choice>,
    },
    ServiceOffering {
        filters: Vec<OfferingFilter>,
    },
    Section,
}

impl VarType {
    /// The type names of the seed (`URL` is the spec's later name for `URI`).
    pub const NAMES: [&'static str; 12] = [
        "Number",
        "String",
        "DomainName",
        "IpAddress",
        "URI",
        "URL",
        "Email",
        "Password",
        "OneOf",
        "Some",
        "ServiceOffering",
        "Section",
    ];

    pub fn name(&self) -> &'static str {
        match self {
            VarType::Number { .. } => "Number",
            VarType::String { .. } => "String",
            VarType::DomainName => "DomainName",
            VarType::IpAddress { .. } => "IpAddress",
            VarType::Uri { .. } => "URI",
            VarType::Email => "Email",
            VarType::Password { .. } => "Password",
            VarType::OneOf { .. } => "OneOf",
            VarType::Some { .. } => "Some",
            VarType::ServiceOffering { .. } => "ServiceOffering",
            VarType::Section => "Section",
        }
    }

    pub fn is_secret(&self) -> bool {
        matches!(self, VarType::Password { .. })
    }

    pub fn options(&self) -> Option<&[Choice]> {
        match self {
            VarType::OneOf { options, .. } | VarType::Some { options } => Some(options),
            _ => None,
        }
    }
}

/// Defaults of the spec: URL schemes, String and Password lengths.
pub const DEFAULT_SCHEMES: [&str; 3] = ["http", "https", "ftp"];
pub const DEFAULT_URI_MAX: u64 = 1024;
pub const DEFAULT_STRING_MAX: u64 = 255;
pub const DEFAULT_PASSWORD_MIN: u64 = 5;
/// The spec's two texts disagree (16 in seed 004, 10 in the later README); 16 lets both
/// documents' examples through.
pub const DEFAULT_PASSWORD_MAX: u64 = 16;

/// One variable of an application's form.
#[derive(Debug, Clone, PartialEq)]
pub struct Variable {
    pub name: String,
    pub label: Option<Localized>,
    pub description: Option<Localized>,
    pub ty: VarType,
    pub active_if: Option<Condition>,
    /// `default` (for `Some`: `defaults`, or a list given as `default`).
    pub default: Option<SdfValue>,
    /// May change after deployment (default false: set once).
    pub volatile: bool,
}

impl Variable {
    /// What the form shows as the field's name: the label, else the description, else the name.
    pub fn title(&self, locale: &str) -> &str {
        self.label
            .as_ref()
            .or(self.description.as_ref())
            .map_or(self.name.as_str(), |l| l.get(locale))
    }
}

/// A form whose activation order is known: sources before the variables they activate.
#[derive(Debug, Clone)]
pub struct Form {
    pub variables: Vec<Variable>,
    /// Indices of `variables` in evaluation order.
    order: Vec<usize>,
    index: HashMap<String, usize>,
    /// Per variable (by index): the sources it reads, resolved to indices (unknown dropped).
    sources: Vec<Vec<(usize, Vec<SdfValue>)>>,
}

impl PartialEq for Form {
    fn eq(&self, other: &Self) -> bool {
        self.variables == other.variables
    }
}

/// Why variables cannot form a form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormError {
    /// Activation goes round: each variable's `active-if` reads the next.
    #[error("activation cycle: {}", .0.join(" → "))]
    Cycle(Vec<String>),
}

impl Form {
    /// Orders the variables so that every source comes before what it activates. Sources that
    /// name no variable are dropped (never true; the package room reports them).
    ///
    /// # Errors
    /// [`FormError::Cycle`] with the variables of one cycle.
    pub fn new(variables: Vec<Variable>) -> Result<Form, FormError> {
        let index: HashMap<String, usize> = variables
            .iter()
            .enumerate()
            .map(|(i, v)| (v.name.clone(), i))
            .collect();
        let sources: Vec<Vec<(usize, Vec<SdfValue>)>> = variables
            .iter()
            .map(|v| {
                v.active_if.as_ref().map_or_else(Vec::new, |c| {
                    c.sources
                        .iter()
                        .filter_map(|(name, values)| index.get(name).map(|i| (*i, values.clone())))
                        .collect()
                })
            })
            .collect();
        let order = topological(&sources).map_err(|cycle| {
            FormError::Cycle(
                cycle
                    .into_iter()
                    .filter_map(|i| variables.get(i).map(|v| v.name.clone()))
                    .collect(),
            )
        })?;
        Ok(Form {
            variables,
            order,
            index,
            sources,
        })
    }

    pub fn get(&self, name: &str) -> Option<&Variable> {
        self.index.get(name).and_then(|i| self.variables.get(*i))
    }

    pub fn position(&self, name: &str) -> Option<usize> {
        self.index.get(name).copied()
    }
}

/// Kahn's algorithm, taking the lowest ready index first so that the order is the declaration
/// order wherever the conditions allow. `Err` holds one cycle.
fn topological(sources: &[Vec<(usize, Vec<SdfValue>)>]) -> Result<Vec<usize>, Vec<usize>> {
    let n = sources.len();
    let mut waiting: Vec<usize> = sources.iter().map(Vec::len).collect();
    let mut readers: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (v, srcs) in sources.iter().enumerate() {
        for (s, _) in srcs {
            if let Some(r) = readers.get_mut(*s) {
                r.push(v);
            }
        }
    }
    let mut ready: std::collections::BTreeSet<usize> =
        (0..n).filter(|i| waiting[*i] == 0).collect();
    let mut order = Vec::with_capacity(n);
    while let Some(i) = ready.pop_first() {
        order.push(i);
        for r in &readers[i] {
            waiting[*r] -= 1;
            if waiting[*r] == 0 {
                ready.insert(*r);
            }
        }
    }
    if order.len() == n {
        return Ok(order);
    }
    // Walk back through unfinished sources from an unfinished variable until one repeats.
    let start = (0..n).find(|i| waiting[*i] > 0).unwrap_or(0);
    let mut path = vec![start];
    let mut at = start;
    loop {
        let next = sources[at]
            .iter()
            .map(|(s, _)| *s)
            .find(|s| waiting[*s] > 0);
        let Some(next) = next else { return Err(path) };
        if let Some(pos) = path.iter().position(|p| *p == next) {
            let mut cycle = path.split_off(pos);
            // As read: each variable is activated by the next one.
            cycle.push(next);
            return Err(cycle);
        }
        path.push(next);
        at = next;
    }
}

/// How the configuration reaches the VM.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// The YAML itself in USERDATA.
    #[default]
    Raw,
    /// USERDATA holds the VM's KV store credentials; the configuration is in the store.
    Kvs,
    /// USERDATA holds a one-time token that is redeemed for the KV credentials.
    OtaKvs,
}

impl Mode {
    pub const NAMES: [&'static str; 3] = ["raw", "kvs", "ota+kvs"];

    pub fn parse(s: &str) -> Option<Mode> {
        match s {
            "raw" => Some(Mode::Raw),
            "kvs" => Some(Mode::Kvs),
            "ota+kvs" => Some(Mode::OtaKvs),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Raw => "raw",
            Mode::Kvs => "kvs",
            Mode::OtaKvs => "ota+kvs",
        }
    }
}

/// The program that deploys the app inside the VM.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Ansible,
    Shell,
}

impl Engine {
    pub const NAMES: [&'static str; 2] = ["ansible", "shell"];

    pub fn parse(s: &str) -> Option<Engine> {
        match s {
            "ansible" => Some(Engine::Ansible),
            "shell" => Some(Engine::Shell),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Engine::Ansible => "ansible",
            Engine::Shell => "shell",
        }
    }
}

/// The system features an application asks for (the user consents to each).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Feature {
    /// The VM's private KV store (`vm-key-value-storage`, `vm-db`).
    VmKv,
    /// Per-VM log storage (`log-storage`, `logs`).
    Logs,
    /// One-time token for the KV credentials (`use-ota`).
    Ota,
    /// A KV store shared by the application's VMs (`application-db`).
    ApplicationKv,
    /// A temporary KV store (`temporary-db`).
    TemporaryKv,
    /// Cloud API credentials for a seed VM (`cloudstack-api`).
    CloudApi,
}

impl Feature {
    /// Every spelling of the seed and of the later spec, with the feature it names.
    pub const NAMES: [(&'static str, Feature); 9] = [
        ("vm-key-value-storage", Feature::VmKv),
        ("vm-db", Feature::VmKv),
        ("log-storage", Feature::Logs),
        ("logs", Feature::Logs),
        ("use-ota", Feature::Ota),
        ("application-db", Feature::ApplicationKv),
        ("temporary-db", Feature::TemporaryKv),
        ("cloudstack-api", Feature::CloudApi),
        ("cloud-api", Feature::CloudApi),
    ];

    pub fn parse(s: &str) -> Option<Feature> {
        Feature::NAMES
            .iter()
            .find(|(n, _)| *n == s)
            .map(|(_, f)| *f)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Feature::VmKv => "vm-key-value-storage",
            Feature::Logs => "log-storage",
            Feature::Ota => "use-ota",
            Feature::ApplicationKv => "application-db",
            Feature::TemporaryKv => "temporary-db",
            Feature::CloudApi => "cloudstack-api",
        }
    }
}

/// `license`: a name, or a name with a description and a link.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct License {
    pub name: String,
    pub description: Option<Localized>,
    pub url: Option<String>,
}

/// One VM-SDF application: its manifest attributes and its form.
#[derive(Debug, Clone, PartialEq)]
pub struct App {
    /// The top-level key (`lnmp-10`).
    pub id: String,
    pub mode: Mode,
    /// `schema` / `manifest-schema`.
    pub manifest_schema: Option<String>,
    pub userdata_schema: Option<String>,
    pub name: Localized,
    pub version: String,
    pub description: Option<Localized>,
    pub icon: Option<String>,
    pub icon_32: Option<String>,
    pub icon_256: Option<String>,
    pub tags: Vec<String>,
    pub license: Option<License>,
    pub engine: Option<Engine>,
    pub source: String,
    /// `templates`: compatible template (image) names.
    pub templates: Vec<String>,
    /// `template.match-tags`: compatible templates by tag.
    pub template_tags: BTreeMap<String, String>,
    /// GB.
    pub minimal_root_disk_size: Option<i64>,
    pub service_offering: Vec<OfferingFilter>,
    pub features: Vec<Feature>,
    /// `deployment-progress` as written (`log`, `vm-key`, `application-key`, …).
    pub deployment_progress: BTreeMap<String, String>,
    pub application_state: BTreeMap<String, Localized>,
    pub form: Form,
}

impl App {
    pub fn wants(&self, f: Feature) -> bool {
        self.features.contains(&f)
    }
}
