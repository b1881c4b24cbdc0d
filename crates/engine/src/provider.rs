//! The provider interface. A provider describes its resource types with a [`Schema`] and does
//! the work: plan customisation, create, read, update, delete, and reading data sources. The
//! engine knows no provider by name: the caller fills a [`ProviderRegistry`] (the built-in
//! `null`, `random` and `time` are in [`crate::builtin`]), and other rooms add theirs the same way.
//!
//! Values cross this boundary as [`Value`]s: the configuration arrives converted to the schema's
//! types, with every attribute present (null when unset) and nested blocks as lists (or a single
//! object / null for [`Nesting::Single`]).

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use crate::value::{PathStep, Value};

/// A boxed future, so the traits below can be used as `dyn` objects.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The type of an attribute.
#[derive(Clone, Debug, PartialEq)]
pub enum AttrType {
    String,
    Number,
    Bool,
    List(Box<AttrType>),
    Set(Box<AttrType>),
    Map(Box<AttrType>),
    Object(BTreeMap<String, AttrType>),
    /// Anything (kept as given).
    Dynamic,
}

impl AttrType {
    pub fn list(t: AttrType) -> Self {
        AttrType::List(Box::new(t))
    }
    pub fn set(t: AttrType) -> Self {
        AttrType::Set(Box::new(t))
    }
    pub fn map(t: AttrType) -> Self {
        AttrType::Map(Box::new(t))
    }
}

/// One attribute of a resource or block schema.
#[derive(Clone, Debug, PartialEq)]
pub struct Attribute {
    pub ty: AttrType,
    /// Must be set in configuration.
    pub required: bool,
    /// May be set in configuration.
    pub optional: bool,
    /// The provider sets it (when `optional` too: only if the configuration does not).
    pub computed: bool,
    /// A change replaces the resource.
    pub force_new: bool,
    /// Shown as `(sensitive)` and marked in the state.
    pub sensitive: bool,
    /// Used when the configuration leaves an optional attribute unset.
    pub default: Option<Value>,
    pub description: String,
}

impl Attribute {
    fn new(ty: AttrType, required: bool, optional: bool, computed: bool) -> Self {
        Attribute {
            ty,
            required,
            optional,
            computed,
            force_new: false,
            sensitive: false,
            default: None,
            description: String::new(),
        }
    }
    pub fn required(ty: AttrType) -> Self {
        Attribute::new(ty, true, false, false)
    }
    pub fn optional(ty: AttrType) -> Self {
        Attribute::new(ty, false, true, false)
    }
    /// Set by the provider only.
    pub fn computed(ty: AttrType) -> Self {
        Attribute::new(ty, false, false, true)
    }
    /// Optional; the provider fills it in when the configuration does not.
    pub fn optional_computed(ty: AttrType) -> Self {
        Attribute::new(ty, false, true, true)
    }
    #[must_use]
    pub fn force_new(mut self) -> Self {
        self.force_new = true;
        self
    }
    #[must_use]
    pub fn sensitive(mut self) -> Self {
        self.sensitive = true;
        self
    }
    #[must_use]
    pub fn default(mut self, v: impl Into<Value>) -> Self {
        self.default = Some(v.into());
        self
    }
    #[must_use]
    pub fn describe(mut self, d: impl Into<String>) -> Self {
        self.description = d.into();
        self
    }
}

/// How a nested block appears.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Nesting {
    /// At most one; the value is an object or null.
    Single,
    /// Any number, ordered; the value is a list of objects.
    List,
    /// Any number, unordered; the value is a list of objects kept in a canonical order.
    Set,
}

/// A nested block type (`block_device { … }`, `timeouts` is handled by the engine).
#[derive(Clone, Debug, PartialEq)]
pub struct NestedBlock {
    pub nesting: Nesting,
    pub schema: Schema,
    pub min_items: usize,
    pub max_items: Option<usize>,
    /// A change to the block replaces the resource.
    pub force_new: bool,
}

/// The schema of a resource type, data source, provider configuration or nested block.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Schema {
    pub attributes: BTreeMap<String, Attribute>,
    pub blocks: BTreeMap<String, NestedBlock>,
    /// Bumped when the stored shape changes (recorded in the state).
    pub version: u64,
    pub description: String,
}

impl Schema {
    pub fn new() -> Self {
        Schema::default()
    }

    #[must_use]
    pub fn attr(mut self, name: &str, attribute: Attribute) -> Self {
        self.attributes.insert(name.to_owned(), attribute);
        self
    }

    #[must_use]
    pub fn block(mut self, name: &str, nesting: Nesting, schema: Schema) -> Self {
        self.blocks.insert(
            name.to_owned(),
            NestedBlock {
                nesting,
                schema,
                min_items: 0,
                max_items: None,
                force_new: false,
            },
        );
        self
    }

    /// Like [`Schema::block`], with a change to the block forcing replacement.
    #[must_use]
    pub fn block_force_new(mut self, name: &str, nesting: Nesting, schema: Schema) -> Self {
        self = self.block(name, nesting, schema);
        if let Some(b) = self.blocks.get_mut(name) {
            b.force_new = true;
        }
        self
    }

    /// Every path to a sensitive attribute that is present in `value` (for the state's marks
    /// and for display).
    pub fn sensitive_paths(&self, value: &Value) -> Vec<Vec<PathStep>> {
        let mut out = Vec::new();
        self.collect_sensitive(value, &mut Vec::new(), &mut out);
        out
    }

    fn collect_sensitive(
        &self,
        value: &Value,
        path: &mut Vec<PathStep>,
        out: &mut Vec<Vec<PathStep>>,
    ) {
        for (name, attr) in &self.attributes {
            if attr.sensitive && !value.get(name).is_null() {
                path.push(PathStep::Attr(name.clone()));
                out.push(path.clone());
                path.pop();
            }
        }
        for (name, block) in &self.blocks {
            path.push(PathStep::Attr(name.clone()));
            match value.get(name) {
                Value::List(items) => {
                    for (i, item) in items.iter().enumerate() {
                        path.push(PathStep::Index(i));
                        block.schema.collect_sensitive(item, path, out);
                        path.pop();
                    }
                }
                v @ Value::Map(_) => block.schema.collect_sensitive(v, path, out),
                _ => {}
            }
            path.pop();
        }
    }
}

/// What a provider offers.
#[derive(Clone, Debug, Default)]
pub struct ProviderSchema {
    /// The `provider "name" { … }` block.
    pub provider: Schema,
    pub resources: BTreeMap<String, Schema>,
    pub data_sources: BTreeMap<String, Schema>,
}

impl ProviderSchema {
    /// The schema of a managed resource or a data source of this provider.
    pub fn of(&self, addr: &crate::ResourceAddr) -> Option<&Schema> {
        match addr.mode {
            crate::addr::ResourceMode::Managed => self.resources.get(&addr.type_name),
            crate::addr::ResourceMode::Data => self.data_sources.get(&addr.type_name),
        }
    }
}

/// What kind of failure a provider met, so a caller can decide to retry on kinds instead of on
/// message text.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The object or something it refers to does not exist (HTTP 404, no such name).
    NotFound,
    /// The request conflicts with the object's current state (HTTP 409); often passes.
    Conflict,
    /// A quota or limit of the project is exhausted (HTTP 413, 403 "quota").
    Quota,
    /// The request is invalid (HTTP 400/422, a bad argument): the same request fails again.
    Invalid,
    /// The credentials are refused (HTTP 401/403).
    Unauthorized,
    /// The service failed or was unreachable (HTTP 5xx, 429, connection errors).
    Transient,
    /// An operation or a wait ran out of time.
    Timeout,
    /// Not classified by the provider.
    #[default]
    Unknown,
}

impl ErrorKind {
    /// Whether trying the same operation again later may succeed.
    pub fn retryable(self) -> bool {
        matches!(
            self,
            ErrorKind::Conflict | ErrorKind::Transient | ErrorKind::Timeout | ErrorKind::Unknown
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::NotFound => "not_found",
            ErrorKind::Conflict => "conflict",
            ErrorKind::Quota => "quota",
            ErrorKind::Invalid => "invalid",
            ErrorKind::Unauthorized => "unauthorized",
            ErrorKind::Transient => "transient",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Unknown => "unknown",
        }
    }

    /// The kind an HTTP error status stands for; `message` (the API's own) tells quota
    /// refusals from other 403s.
    pub fn from_http_status(status: u16, message: Option<&str>) -> ErrorKind {
        let quota = message.is_some_and(|m| {
            let m = m.to_ascii_lowercase();
            m.contains("quota") || m.contains("limit exceeded")
        });
        match status {
            404 => ErrorKind::NotFound,
            409 if quota => ErrorKind::Quota,
            409 => ErrorKind::Conflict,
            413 => ErrorKind::Quota,
            403 if quota => ErrorKind::Quota,
            401 | 403 => ErrorKind::Unauthorized,
            400 | 422 if quota => ErrorKind::Quota,
            400 | 405 | 406 | 415 | 422 => ErrorKind::Invalid,
            408 | 429 | 500..=599 => ErrorKind::Transient,
            _ => ErrorKind::Unknown,
        }
    }
}

impl std::fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error from a provider, with a message for the user (no credentials in it) and its
/// [`ErrorKind`].
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct ProviderError {
    pub message: String,
    pub kind: ErrorKind,
    #[source]
    pub source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl ProviderError {
    pub fn new(message: impl Into<String>) -> Self {
        ProviderError {
            message: message.into(),
            kind: ErrorKind::Unknown,
            source: None,
        }
    }

    pub fn with_source(
        message: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        ProviderError {
            message: message.into(),
            kind: ErrorKind::Unknown,
            source: Some(Box::new(source)),
        }
    }

    /// Sets the kind.
    #[must_use]
    pub fn with_kind(mut self, kind: ErrorKind) -> Self {
        self.kind = kind;
        self
    }

    /// Whether trying again later may succeed (see [`ErrorKind::retryable`]).
    pub fn retryable(&self) -> bool {
        self.kind.retryable()
    }
}

/// A failed create or update. `partial` is the last known object, if anything was created: the
/// engine stores it as tainted, and the next plan replaces it.
#[derive(Debug)]
pub struct ApplyError {
    pub error: ProviderError,
    pub partial: Option<Value>,
}

// Displays as the provider's error and continues with that error's own cause, so a cause chain
// never prints the provider's message twice.
impl std::fmt::Display for ApplyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.error.fmt(f)
    }
}

impl std::error::Error for ApplyError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        std::error::Error::source(&self.error)
    }
}

impl From<ProviderError> for ApplyError {
    fn from(error: ProviderError) -> Self {
        ApplyError {
            error,
            partial: None,
        }
    }
}

/// Asks a provider to customise a planned change.
#[derive(Clone, Debug)]
pub struct PlanRequest {
    pub type_name: String,
    /// The prior object (`Null` when creating).
    pub prior: Value,
    /// The configuration, converted to the schema.
    pub config: Value,
    /// The engine's proposal: configuration values where set, prior values for computed
    /// attributes left unset, `Unknown` for computed attributes on create.
    pub proposed: Value,
}

/// The provider's plan for one instance.
#[derive(Clone, Debug)]
pub struct PlanResponse {
    pub planned: Value,
    /// Attributes whose change forces replacement, beyond the schema's `force_new` ones.
    pub requires_replace: Vec<Vec<PathStep>>,
}

/// Creates an object.
#[derive(Clone, Debug)]
pub struct CreateRequest {
    pub type_name: String,
    pub config: Value,
    pub planned: Value,
    /// Stable across retries of the same create (also after a crash): stamp it on what is
    /// created, or derive generated values from it, so a retried create finds its object or
    /// produces the same result instead of a second one.
    pub token: String,
    /// From the resource's `timeouts` block, if set.
    pub timeout: Option<Duration>,
}

/// Updates an object in place.
#[derive(Clone, Debug)]
pub struct UpdateRequest {
    pub type_name: String,
    pub prior: Value,
    pub config: Value,
    pub planned: Value,
    pub timeout: Option<Duration>,
}

/// Reads the current object (refresh).
#[derive(Clone, Debug)]
pub struct ReadRequest {
    pub type_name: String,
    pub prior: Value,
}

/// Deletes an object. "Already gone" is success.
#[derive(Clone, Debug)]
pub struct DeleteRequest {
    pub type_name: String,
    pub prior: Value,
    pub timeout: Option<Duration>,
}

/// Reads a data source.
#[derive(Clone, Debug)]
pub struct ReadDataRequest {
    pub type_name: String,
    pub config: Value,
}

/// A registered provider: its schema and how to configure it.
pub trait Provider: Send + Sync {
    fn schema(&self) -> ProviderSchema;

    /// Returns a configured instance from the `provider` block (converted to
    /// `schema().provider`; `Map` with nulls when there is no block).
    fn configure(
        &self,
        config: Value,
    ) -> BoxFuture<'_, Result<Arc<dyn ConfiguredProvider>, ProviderError>>;
}

/// A configured provider doing the work for its resource types.
pub trait ConfiguredProvider: Send + Sync {
    /// Customises a plan. The default accepts the engine's proposal.
    fn plan(&self, req: PlanRequest) -> BoxFuture<'_, Result<PlanResponse, ProviderError>> {
        Box::pin(async move {
            Ok(PlanResponse {
                planned: req.proposed,
                requires_replace: Vec::new(),
            })
        })
    }

    /// Creates the object and returns it with every computed attribute known.
    fn create(&self, req: CreateRequest) -> BoxFuture<'_, Result<Value, ApplyError>>;

    /// Returns the current object, or `None` if it no longer exists. The default returns the
    /// prior object unchanged.
    fn read(&self, req: ReadRequest) -> BoxFuture<'_, Result<Option<Value>, ProviderError>> {
        Box::pin(async move { Ok(Some(req.prior)) })
    }

    /// Updates in place. The default refuses: resources with updatable attributes override it.
    fn update(&self, req: UpdateRequest) -> BoxFuture<'_, Result<Value, ApplyError>> {
        Box::pin(async move {
            Err(ApplyError::from(ProviderError::new(format!(
                "`{}` cannot be updated in place",
                req.type_name
            ))))
        })
    }

    fn delete(&self, req: DeleteRequest) -> BoxFuture<'_, Result<(), ApplyError>>;

    /// Reads a data source. The default says there is none.
    fn read_data(&self, req: ReadDataRequest) -> BoxFuture<'_, Result<Value, ProviderError>> {
        Box::pin(async move {
            Err(ProviderError::new(format!(
                "data source `{}` is not supported",
                req.type_name
            )))
        })
    }
}

/// The providers an engine run may use, by local name (`null`, `vkcs`, …).
#[derive(Clone, Default)]
pub struct ProviderRegistry {
    providers: BTreeMap<String, Arc<dyn Provider>>,
}

impl ProviderRegistry {
    pub fn new() -> Self {
        ProviderRegistry::default()
    }

    /// The built-in `null`, `random` and `time` providers.
    pub fn with_builtins() -> Self {
        let mut r = ProviderRegistry::new();
        crate::builtin::register(&mut r);
        r
    }

    /// Adds (or replaces) a provider under its local name.
    pub fn register(&mut self, name: impl Into<String>, provider: Arc<dyn Provider>) {
        self.providers.insert(name.into(), provider);
    }

    pub fn get(&self, name: &str) -> Option<&Arc<dyn Provider>> {
        self.providers.get(name)
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.providers.keys().map(String::as_str)
    }
}

impl std::fmt::Debug for ProviderRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.providers.keys()).finish()
    }
}
