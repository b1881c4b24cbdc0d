//! The broker's backend in a running server: broker accounts from [`Tenants`], catalogs and
//! packages from [`Products`], deployments as hoe objects of the consumer project.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{json, Map, Value};

use super::backend::{Account, DeploySpec, DeployState, OsbBackend, RevisionPackage};
use super::catalog::ServiceRevision;
use super::wire::OsbError;
use crate::hoe::{CreateObject, Hoe, HoeError, UpdateObject};
use crate::products::Products;
use crate::tenants::Tenants;
use crate::ServerError;

/// The project used when a request's `context` names none: the demo's consumer project.
pub const DEFAULT_PROJECT_NAME: &str = "demo";

/// Why the hoe refused, as OSB tells it.
fn hoe_error(e: HoeError) -> OsbError {
    match e {
        HoeError::Server(e) => OsbError::from(e),
        HoeError::Diagnostics(d) => {
            let text: Vec<String> = d
                .iter()
                .map(|d| {
                    format!(
                        "{}:{}:{}: {}",
                        d["file"].as_str().unwrap_or(""),
                        d["line"],
                        d["column"],
                        d["message"].as_str().unwrap_or("")
                    )
                })
                .collect();
            OsbError::bad_request(format!("the deployment was refused: {}", text.join("; ")))
        }
    }
}

pub struct ServerBackend {
    pub tenants: Arc<Tenants>,
    pub products: Arc<Products>,
    pub hoe: Arc<Hoe>,
}

impl ServerBackend {
    async fn project_ctx(&self, project: &str) -> Result<crate::tenants::ProjectCtx, OsbError> {
        Ok(self.tenants.project_ctx_for_job(project).await?)
    }

    /// The manifest folder as hoe takes it: plain file names, and `settings.yaml` for `retry`.
    pub(crate) fn files(spec: &DeploySpec) -> BTreeMap<String, String> {
        let mut files: BTreeMap<String, String> = spec
            .manifest
            .iter()
            .map(|(path, text)| {
                let name = path.rsplit('/').next().unwrap_or(path).to_owned();
                (name, text.clone())
            })
            .collect();
        files.insert(
            "settings.yaml".into(),
            if spec.retry {
                "retry: yes\n"
            } else {
                "retry: no\n"
            }
            .into(),
        );
        files
    }
}

impl OsbBackend for ServerBackend {
    async fn authenticate(
        &self,
        username: &str,
        password: &str,
    ) -> Result<Option<Account>, OsbError> {
        match self.tenants.broker_login(username, password).await {
            Ok(ctx) => Ok(Some(ctx)),
            Err(ServerError::Unauthenticated) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    async fn catalog_stamp(&self, _account: &Account) -> Result<String, OsbError> {
        Ok(self.tenants.store().osb_catalog_stamp().await?)
    }

    async fn namespace(&self, account: &Account) -> Result<Vec<ServiceRevision>, OsbError> {
        // Upload order; a service's newest revision of the namespace is the one offered.
        let revisions = self.products.catalog_for(account).await?;
        let mut newest: BTreeMap<String, usize> = BTreeMap::new();
        for (i, r) in revisions.iter().enumerate() {
            let keep = newest
                .get(&r.service_id)
                .is_none_or(|&j| revisions.get(j).is_none_or(|o| o.seq < r.seq));
            if keep {
                newest.insert(r.service_id.clone(), i);
            }
        }
        let mut chosen: Vec<usize> = newest.into_values().collect();
        chosen.sort_unstable();
        Ok(chosen
            .into_iter()
            .filter_map(|i| revisions.get(i))
            .map(|r| ServiceRevision {
                service_id: r.service_id.clone(),
                revision: r.revision.clone(),
                catalog: json!({ "services": [r.service.clone()] }),
            })
            .collect())
    }

    async fn package(
        &self,
        service_id: &str,
        revision: &str,
    ) -> Result<Option<RevisionPackage>, OsbError> {
        let Some(r) = self.products.revision(service_id, revision).await? else {
            return Ok(None);
        };
        let Some(files) = self.products.package_files(service_id, revision).await? else {
            return Ok(None);
        };
        Ok(Some(RevisionPackage {
            revision: ServiceRevision {
                service_id: r.service_id,
                revision: r.revision,
                catalog: json!({ "services": [r.service] }),
            },
            files,
        }))
    }

    async fn project(&self, requested: Option<&str>) -> Result<String, OsbError> {
        match requested {
            Some(id) => match self.tenants.project(id).await? {
                Some(p) => Ok(p.id),
                None => Err(OsbError::bad_request(format!(
                    "`context.project_id` names no consumer project: `{id}`"
                ))),
            },
            None => self
                .tenants
                .store()
                .osb_project_named(DEFAULT_PROJECT_NAME)
                .await?
                .ok_or_else(|| {
                    OsbError::bad_request(
                        "`context.project_id` is required: this server has no default consumer project",
                    )
                }),
        }
    }

    async fn deploy(&self, spec: &DeploySpec) -> Result<(), OsbError> {
        let ctx = self.project_ctx(&spec.project).await?;
        self.hoe
            .create_object(
                &ctx,
                CreateObject {
                    uuid: spec.deployment.clone(),
                    config: None,
                    files: Some(Self::files(spec)),
                    vars: spec.vars.clone(),
                },
            )
            .await
            .map_err(hoe_error)?;
        Ok(())
    }

    async fn redeploy(&self, spec: &DeploySpec) -> Result<(), OsbError> {
        let ctx = self.project_ctx(&spec.project).await?;
        self.hoe
            .update_object(
                &ctx,
                &spec.deployment,
                UpdateObject {
                    vars: Some(spec.vars.clone()),
                    config: None,
                    files: Some(Self::files(spec)),
                },
            )
            .await
            .map_err(hoe_error)?;
        Ok(())
    }

    async fn undeploy(&self, project: &str, deployment: &str) -> Result<(), OsbError> {
        let ctx = self.project_ctx(project).await?;
        match self.hoe.delete_object(&ctx, deployment).await {
            Ok(_) | Err(HoeError::Server(ServerError::NotFound(_))) => Ok(()),
            Err(e) => Err(hoe_error(e)),
        }
    }

    async fn state(&self, project: &str, deployment: &str) -> Result<DeployState, OsbError> {
        let ctx = match self.tenants.project_ctx_for_job(project).await {
            Ok(c) => c,
            Err(ServerError::NotFound(_)) => return Ok(DeployState::Missing),
            Err(e) => return Err(e.into()),
        };
        let view = match self.hoe.object(&ctx, deployment, false).await {
            Ok(v) => v,
            Err(HoeError::Server(ServerError::NotFound(_))) => return Ok(DeployState::Missing),
            Err(e) => return Err(hoe_error(e)),
        };
        Ok(match (view.status.as_str(), view.target_status.as_str()) {
            ("deleted", _) => DeployState::Deleted,
            ("failed", _) => DeployState::Failed(
                view.last_error
                    .unwrap_or_else(|| "the deployment failed".to_owned()),
            ),
            ("running", "running") => DeployState::Running,
            _ => DeployState::Working,
        })
    }

    async fn outputs(
        &self,
        project: &str,
        deployment: &str,
    ) -> Result<Map<String, Value>, OsbError> {
        let ctx = self.project_ctx(project).await?;
        self.hoe
            .revealed_outputs(&ctx, deployment, "osb-binding")
            .await
            .map_err(hoe_error)
    }
}
