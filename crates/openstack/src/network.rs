//! Neutron: networks, subnets, routers and interfaces, ports, security groups and rules,
//! floating IPs, and VK's `available-sdn` with the `X-SDN` header.

use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::Method;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::client::{Client, ServiceType};
use crate::compute::{exactly_one, gone_ok, seg};
use crate::error::{Error, Result};
use crate::wait::{wait_for, Poll, WaitOptions};
use crate::wire::network::{
    AvailableSdn, FloatingIp, FloatingIpCreate, FloatingIpUpdate, Network as NetworkRecord,
    NetworkCreate, Port, PortCreate, Router, RouterCreate, RouterInterface, RouterInterfaceRequest,
    SecurityGroup, SecurityGroupCreate, SecurityGroupRule, SecurityGroupRuleCreate, Subnet,
    SubnetCreate, SDN_HEADER,
};
use crate::Query;

const S: ServiceType = ServiceType::Network;

/// The networking service of a [`Client`].
#[derive(Debug, Clone)]
pub struct Network {
    client: Client,
    headers: HeaderMap,
}

impl Client {
    /// Neutron.
    pub fn network(&self) -> Network {
        Network {
            client: self.clone(),
            headers: HeaderMap::new(),
        }
    }
}

macro_rules! crud {
    ($(#[$doc:meta])* $record:ty, $create:ty, $path:literal, $one:literal, $many:literal,
     $list:ident, $get:ident, $create_fn:ident, $update:ident, $delete:ident) => {
        $(#[$doc])*
        #[doc = concat!("`GET /v2.0/", $path, "` with filters, every page.")]
        pub async fn $list(&self, query: &Query) -> Result<Vec<$record>> {
            self.client.list_all(S, $path, query, $many, &self.headers).await
        }

        #[doc = concat!("`GET /v2.0/", $path, "/{id}`.")]
        pub async fn $get(&self, id: &str) -> Result<$record> {
            self.get_one(&format!(concat!($path, "/{}"), seg(id)), $one).await
        }

        #[doc = concat!("`POST /v2.0/", $path, "`.")]
        pub async fn $create_fn(&self, body: &$create) -> Result<$record> {
            self.send_one(Method::POST, $path, $one, body).await
        }

        #[doc = concat!("`PUT /v2.0/", $path, "/{id}`.")]
        pub async fn $update(&self, id: &str, body: &$create) -> Result<$record> {
            self.send_one(Method::PUT, &format!(concat!($path, "/{}"), seg(id)), $one, body).await
        }

        #[doc = concat!("`DELETE /v2.0/", $path, "/{id}`; `Ok(false)` when already gone.")]
        pub async fn $delete(&self, id: &str) -> Result<bool> {
            self.delete_path(&format!(concat!($path, "/{}"), seg(id))).await
        }
    };
}

impl Network {
    /// The same service with `X-SDN: <sdn>` on every request (VK: `neutron` or `sprut`).
    pub fn with_sdn(&self, sdn: &str) -> Result<Network> {
        let mut headers = self.headers.clone();
        let value = HeaderValue::from_str(sdn).map_err(|_| Error::Config {
            message: format!("`{sdn}` is not a valid SDN name"),
        })?;
        headers.insert(SDN_HEADER, value);
        Ok(Network {
            client: self.client.clone(),
            headers,
        })
    }

    /// `GET /v2.0/available-sdn` (VK): the SDNs of the project, lower-cased.
    pub async fn available_sdn(&self) -> Result<Vec<String>> {
        let sdn: AvailableSdn = self
            .client
            .get_json(S, "available-sdn", &[], &self.headers)
            .await?;
        Ok(sdn.into_iter().map(|s| s.to_ascii_lowercase()).collect())
    }

    crud!(
        NetworkRecord,
        NetworkCreate,
        "networks",
        "network",
        "networks",
        list_networks,
        get_network,
        create_network,
        update_network,
        delete_network
    );
    crud!(
        Subnet,
        SubnetCreate,
        "subnets",
        "subnet",
        "subnets",
        list_subnets,
        get_subnet,
        create_subnet,
        update_subnet,
        delete_subnet
    );
    crud!(
        Router,
        RouterCreate,
        "routers",
        "router",
        "routers",
        list_routers,
        get_router,
        create_router,
        update_router,
        delete_router
    );
    crud!(
        Port,
        PortCreate,
        "ports",
        "port",
        "ports",
        list_ports,
        get_port,
        create_port,
        update_port,
        delete_port
    );
    crud!(
        SecurityGroup,
        SecurityGroupCreate,
        "security-groups",
        "security_group",
        "security_groups",
        list_security_groups,
        get_security_group,
        create_security_group,
        update_security_group,
        delete_security_group
    );

    /// The one network named `name` (or with that id).
    pub async fn find_network(&self, name: &str) -> Result<NetworkRecord> {
        let by_name = self
            .list_networks(&vec![("name".to_owned(), name.to_owned())])
            .await?;
        if by_name.is_empty() {
            return match self.get_network(name).await {
                Err(e) if e.is_not_found() => Err(Error::NameNotFound {
                    kind: "network",
                    name: name.to_owned(),
                }),
                other => other,
            };
        }
        exactly_one("network", name, by_name.into_iter())
    }

    /// The one security group named `name` in the current project (or with that id).
    pub async fn find_security_group(&self, name: &str) -> Result<SecurityGroup> {
        let mut query = vec![("name".to_owned(), name.to_owned())];
        if let Some(project) = self.client.token().await?.project_id() {
            query.push(("project_id".to_owned(), project.to_owned()));
        }
        let by_name = self.list_security_groups(&query).await?;
        if by_name.is_empty() {
            return match self.get_security_group(name).await {
                Err(e) if e.is_not_found() => Err(Error::NameNotFound {
                    kind: "security group",
                    name: name.to_owned(),
                }),
                other => other,
            };
        }
        exactly_one("security group", name, by_name.into_iter())
    }

    // --- router interfaces --------------------------------------------------------------------

    /// `PUT /v2.0/routers/{id}/add_router_interface`.
    pub async fn add_router_interface(
        &self,
        router_id: &str,
        request: &RouterInterfaceRequest,
    ) -> Result<RouterInterface> {
        self.client
            .send_json(
                S,
                Method::PUT,
                &format!("routers/{}/add_router_interface", seg(router_id)),
                request,
                &self.headers,
            )
            .await
    }

    /// `PUT /v2.0/routers/{id}/remove_router_interface`; `Ok(false)` when it was not there.
    pub async fn remove_router_interface(
        &self,
        router_id: &str,
        request: &RouterInterfaceRequest,
    ) -> Result<bool> {
        gone_ok(
            self.client
                .send_no_content(
                    S,
                    Method::PUT,
                    &format!("routers/{}/remove_router_interface", seg(router_id)),
                    Some(request),
                    &self.headers,
                )
                .await,
        )
    }

    // --- security group rules (never updated) -------------------------------------------------

    /// `GET /v2.0/security-group-rules` with filters, every page.
    pub async fn list_security_group_rules(&self, query: &Query) -> Result<Vec<SecurityGroupRule>> {
        self.client
            .list_all(
                S,
                "security-group-rules",
                query,
                "security_group_rules",
                &self.headers,
            )
            .await
    }

    /// `GET /v2.0/security-group-rules/{id}`.
    pub async fn get_security_group_rule(&self, id: &str) -> Result<SecurityGroupRule> {
        self.get_one(
            &format!("security-group-rules/{}", seg(id)),
            "security_group_rule",
        )
        .await
    }

    /// `POST /v2.0/security-group-rules`.
    pub async fn create_security_group_rule(
        &self,
        rule: &SecurityGroupRuleCreate,
    ) -> Result<SecurityGroupRule> {
        self.send_one(
            Method::POST,
            "security-group-rules",
            "security_group_rule",
            rule,
        )
        .await
    }

    /// `DELETE /v2.0/security-group-rules/{id}`; `Ok(false)` when already gone.
    pub async fn delete_security_group_rule(&self, id: &str) -> Result<bool> {
        self.delete_path(&format!("security-group-rules/{}", seg(id)))
            .await
    }

    // --- floating IPs -------------------------------------------------------------------------

    /// `GET /v2.0/floatingips` with filters, every page.
    pub async fn list_floating_ips(&self, query: &Query) -> Result<Vec<FloatingIp>> {
        self.client
            .list_all(S, "floatingips", query, "floatingips", &self.headers)
            .await
    }

    /// `GET /v2.0/floatingips/{id}`.
    pub async fn get_floating_ip(&self, id: &str) -> Result<FloatingIp> {
        self.get_one(&format!("floatingips/{}", seg(id)), "floatingip")
            .await
    }

    /// The floating IP with this address.
    pub async fn find_floating_ip(&self, address: &str) -> Result<FloatingIp> {
        let found = self
            .list_floating_ips(&vec![(
                "floating_ip_address".to_owned(),
                address.to_owned(),
            )])
            .await?;
        exactly_one("floating IP", address, found.into_iter())
    }

    /// `POST /v2.0/floatingips`.
    pub async fn create_floating_ip(&self, body: &FloatingIpCreate) -> Result<FloatingIp> {
        self.send_one(Method::POST, "floatingips", "floatingip", body)
            .await
    }

    /// `PUT /v2.0/floatingips/{id}`.
    pub async fn update_floating_ip(
        &self,
        id: &str,
        body: &FloatingIpUpdate,
    ) -> Result<FloatingIp> {
        self.send_one(
            Method::PUT,
            &format!("floatingips/{}", seg(id)),
            "floatingip",
            body,
        )
        .await
    }

    /// Associates the floating IP with a port (and optionally one of its fixed addresses).
    pub async fn associate_floating_ip(
        &self,
        id: &str,
        port_id: &str,
        fixed_ip: Option<&str>,
    ) -> Result<FloatingIp> {
        self.update_floating_ip(
            id,
            &FloatingIpUpdate {
                port_id: Some(Some(port_id.to_owned())),
                fixed_ip_address: fixed_ip.map(|f| Some(f.to_owned())),
                description: None,
            },
        )
        .await
    }

    /// Sends `port_id: null`.
    pub async fn disassociate_floating_ip(&self, id: &str) -> Result<FloatingIp> {
        self.update_floating_ip(
            id,
            &FloatingIpUpdate {
                port_id: Some(None),
                ..Default::default()
            },
        )
        .await
    }

    /// `DELETE /v2.0/floatingips/{id}`; `Ok(false)` when already gone.
    pub async fn delete_floating_ip(&self, id: &str) -> Result<bool> {
        self.delete_path(&format!("floatingips/{}", seg(id))).await
    }

    // --- waits --------------------------------------------------------------------------------

    /// Polls a port until its status is one of `targets`.
    pub async fn wait_port(
        &self,
        id: &str,
        targets: &[&str],
        options: WaitOptions,
    ) -> Result<Port> {
        let what = format!("port `{id}` to become {}", targets.join(" or "));
        wait_for(&what, options, || async {
            let port = self.get_port(id).await?;
            if targets.contains(&port.status.as_str()) {
                Ok(Poll::Done(port))
            } else {
                Ok(Poll::Pending(port.status))
            }
        })
        .await
    }

    /// Polls a floating IP until its status is one of `targets` (`ACTIVE`, `DOWN`); `ERROR`
    /// fails.
    pub async fn wait_floating_ip(
        &self,
        id: &str,
        targets: &[&str],
        options: WaitOptions,
    ) -> Result<FloatingIp> {
        let what = format!("floating IP `{id}` to become {}", targets.join(" or "));
        wait_for(&what, options, || async {
            let fip = self.get_floating_ip(id).await?;
            if targets.contains(&fip.status.as_str()) {
                Ok(Poll::Done(fip))
            } else if fip.status == "ERROR" {
                Err(Error::ResourceFailed {
                    what: format!("floating IP `{id}`"),
                    status: fip.status,
                    fault: None,
                })
            } else {
                Ok(Poll::Pending(fip.status))
            }
        })
        .await
    }

    // --- generic helpers ----------------------------------------------------------------------

    async fn get_one<T: DeserializeOwned>(&self, path: &str, key: &str) -> Result<T> {
        let value: serde_json::Value = self.client.get_json(S, path, &[], &self.headers).await?;
        unwrap_key(value, key, path)
    }

    async fn send_one<B: Serialize, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        key: &str,
        body: &B,
    ) -> Result<T> {
        let mut wrapped = serde_json::Map::new();
        wrapped.insert(
            key.to_owned(),
            serde_json::to_value(body).map_err(|e| Error::Protocol(format!("{key}: {e}")))?,
        );
        let value: serde_json::Value = self
            .client
            .send_json(S, method, path, &wrapped, &self.headers)
            .await?;
        unwrap_key(value, key, path)
    }

    async fn delete_path(&self, path: &str) -> Result<bool> {
        gone_ok(
            self.client
                .send_no_content::<()>(S, Method::DELETE, path, None, &self.headers)
                .await,
        )
    }
}

/// `{"<key>": T}` → `T`.
pub(crate) fn unwrap_key<T: DeserializeOwned>(
    value: serde_json::Value,
    key: &str,
    path: &str,
) -> Result<T> {
    let serde_json::Value::Object(mut map) = value else {
        return Err(Error::Decode {
            method: "GET".into(),
            url: path.to_owned(),
            detail: "the answer is not a JSON object".into(),
        });
    };
    let inner = map.remove(key).ok_or_else(|| Error::Decode {
        method: "GET".into(),
        url: path.to_owned(),
        detail: format!("the answer has no `{key}`"),
    })?;
    serde_json::from_value(inner).map_err(|e| Error::Decode {
        method: "GET".into(),
        url: path.to_owned(),
        detail: format!("`{key}`: {e}"),
    })
}
