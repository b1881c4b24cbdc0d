//! What the broker needs from the rest of the server: broker accounts, the namespace's
//! catalog and packages (products), and deployments (the deployment system, hoe). One
//! implementation serves it: [`super::server_backend`] over the real store, products and hoe.

use std::future::Future;

use serde_json::{Map, Value};

use super::catalog::ServiceRevision;
use super::wire::OsbError;

/// A broker account, authenticated: it sees one namespace, and its instances only.
pub type Account = crate::tenants::BrokerCtx;

/// A deployment to create or change: one hoe object.
#[derive(Debug, Clone)]
pub struct DeploySpec {
    /// The hoe object's uuid.
    pub deployment: String,
    /// The manifest's config name (`<service>_<plan>_<revision>`).
    pub config: String,
    /// The plan's `deployment/*.tf` files: (relative path, text).
    pub manifest: Vec<(String, String)>,
    /// `deployment/settings.yaml` `retry`.
    pub retry: bool,
    /// The plan's option answers (values as the manifest's variables receive them).
    pub vars: Map<String, Value>,
    /// The consumer project the deployment belongs to (resolved by [`OsbBackend::project`]).
    pub project: String,
}

/// A deployment as the broker sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeployState {
    /// Being created, updated or deleted.
    Working,
    /// Running as last asked.
    Running,
    /// Deleted as asked.
    Deleted,
    /// Gave up (attempts spent, or `retry: no`), with why.
    Failed(String),
    /// No such deployment.
    Missing,
}

/// The package of one service revision, read for the broker.
#[derive(Debug, Clone)]
pub struct RevisionPackage {
    pub revision: ServiceRevision,
    pub files: vitrina_package::PackageFiles,
}

pub trait OsbBackend: Send + Sync + 'static {
    /// The account whose credentials these are.
    fn authenticate(
        &self,
        username: &str,
        password: &str,
    ) -> impl Future<Output = Result<Option<Account>, OsbError>> + Send;

    /// A value that changes whenever the namespace's catalog may have changed (cheap: the
    /// catalog is cached on it).
    fn catalog_stamp(
        &self,
        account: &Account,
    ) -> impl Future<Output = Result<String, OsbError>> + Send;

    /// The services the account's namespace offers, one revision each, in a stable order.
    fn namespace(
        &self,
        account: &Account,
    ) -> impl Future<Output = Result<Vec<ServiceRevision>, OsbError>> + Send;

    /// A revision's package, visible or not (instances keep the revision they run).
    fn package(
        &self,
        service_id: &str,
        revision: &str,
    ) -> impl Future<Output = Result<Option<RevisionPackage>, OsbError>> + Send;

    /// The consumer project of `context.project_id` (checked to exist), or the default one
    /// when absent.
    fn project(
        &self,
        requested: Option<&str>,
    ) -> impl Future<Output = Result<String, OsbError>> + Send;

    /// Starts creating a deployment (returns once it is accepted).
    fn deploy(&self, spec: &DeploySpec) -> impl Future<Output = Result<(), OsbError>> + Send;

    /// Starts moving a deployment to a new manifest and variables (only changed resources
    /// change).
    fn redeploy(&self, spec: &DeploySpec) -> impl Future<Output = Result<(), OsbError>> + Send;

    /// Starts deleting a deployment (also stops a creation in progress). Deleting a missing
    /// deployment succeeds.
    fn undeploy(
        &self,
        project: &str,
        deployment: &str,
    ) -> impl Future<Output = Result<(), OsbError>> + Send;

    fn state(
        &self,
        project: &str,
        deployment: &str,
    ) -> impl Future<Output = Result<DeployState, OsbError>> + Send;

    /// The deployment's outputs, sensitive ones included.
    fn outputs(
        &self,
        project: &str,
        deployment: &str,
    ) -> impl Future<Output = Result<Map<String, Value>, OsbError>> + Send;
}
