//! `vm start` and `vm stop`.
//!
//! Start checks everything it can before it creates anything (the flavor, a free name, exactly
//! one `available` disk or one `active` image, no disk already named like the new boot disk,
//! the network, the security group, the external network, the key pair's fingerprint), then
//! creates in order — key pair (when missing), boot disk (from an image), port, floating IP,
//! server — and, when a step fails, removes what it created in reverse order and says what
//! failed and what was removed. The boot disk is never deleted with the VM
//! (`delete_on_termination = false`); a disk the user named with `--disk` is never removed.

use std::time::Instant;

use serde::Serialize;
use vitrina_openstack::wait::Poll;
use vitrina_openstack::wire::compute::{
    BlockDeviceMapping, KeypairCreate, Server, ServerCreate, ServerCreateRequest, ServerNetwork,
    ServerNetworks,
};
use vitrina_openstack::wire::network::{FloatingIpCreate, PortCreate};
use vitrina_openstack::wire::volume::{Volume, VolumeCreate};

use crate::error::{Error, Match, Result};
use crate::keypair::read_public_key;
use crate::list::vm_row;
use crate::ops::{exactly_one, query, Ops};

/// What the port of a VM started here says it is, so `vm stop` removes it with the VM.
pub const PORT_DESCRIPTION: &str = "created by vitrina cloud vm start";

/// Where a VM boots from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartSource {
    /// An existing disk by name (kept as it is, never deleted).
    Disk(String),
    /// An image by name; a new boot disk is made from it. `None`: `BASE_IMAGE_NAME`, else the
    /// person at the terminal picks one.
    Image(Option<String>),
}

/// `vm start`'s arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartRequest {
    pub source: StartSource,
    /// The VM's name; generated (`gpu-vm-YYYYMMDD-HHMMSS`) when `None`.
    pub name: Option<String>,
    /// The setup flavor (no GPU) instead of the GPU flavor.
    pub setup: bool,
    /// The new boot disk's name (from an image); default `setup-disk` or `gpu-disk`.
    pub disk_name: Option<String>,
}

impl Default for StartRequest {
    fn default() -> Self {
        StartRequest {
            source: StartSource::Image(None),
            name: None,
            setup: false,
            disk_name: None,
        }
    }
}

/// Where a step's time went.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepTime {
    pub step: String,
    pub seconds: f64,
}

/// A started VM.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StartedVm {
    pub name: String,
    pub id: String,
    /// The floating address, or the fixed one when floating IPs are off.
    pub address: String,
    pub floating_ip: Option<String>,
    pub fixed_ip: Option<String>,
    pub flavor: String,
    pub disk: String,
    pub disk_id: String,
    /// The boot disk was made by this start (from an image).
    pub disk_created: bool,
    pub disk_size_gb: u64,
    pub image: Option<String>,
    pub keypair: String,
    pub keypair_created: bool,
    pub timings: Vec<StepTime>,
}

/// A stopped (deleted) VM.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoppedVm {
    pub name: String,
    pub id: String,
    pub released_floating_ips: Vec<String>,
    pub deleted_ports: Vec<String>,
    /// Disks that were attached and are kept.
    pub kept_disks: Vec<String>,
}

/// `gpu-vm-YYYYMMDD-HHMMSS` for a time.
pub fn generated_name(at: chrono::DateTime<chrono::Local>) -> String {
    format!("gpu-vm-{}", at.format("%Y%m%d-%H%M%S"))
}

/// What a start created, to undo in reverse order.
enum Undo {
    Keypair(String),
    Volume { id: String, name: String },
    Port { id: String },
    FloatingIp { id: String, address: String },
    Server { id: String, name: String },
}

struct Timer {
    started: Instant,
    steps: Vec<StepTime>,
}

impl Timer {
    fn lap(&mut self, step: &str) {
        let now = Instant::now();
        self.steps.push(StepTime {
            step: step.to_owned(),
            seconds: now.duration_since(self.started).as_secs_f64(),
        });
        self.started = now;
    }
}

impl Ops {
    /// Starts a VM; see the module docs.
    pub async fn vm_start(&self, request: &StartRequest) -> Result<StartedVm> {
        let s = &self.settings;
        let mut timer = Timer {
            started: Instant::now(),
            steps: Vec::new(),
        };
        let compute = self.client.compute();
        let net = self.client.network();

        // --- checks: nothing is created before all pass ------------------------------------
        let flavor_id = s.flavor(request.setup)?;
        let flavor = compute
            .get_flavor(flavor_id)
            .await
            .map_err(Error::cloud(format!("finding flavor `{flavor_id}`")))?;
        let servers = self.servers().await?;
        let name = match &request.name {
            Some(n) => {
                if let Some(other) = servers.iter().find(|x| x.name == *n) {
                    return Err(Error::VmExists {
                        name: n.clone(),
                        id: other.id.clone(),
                    });
                }
                n.clone()
            }
            None => {
                let mut at = chrono::Local::now();
                let mut n = generated_name(at);
                while servers.iter().any(|x| x.name == n) {
                    at += chrono::Duration::seconds(1);
                    n = generated_name(at);
                }
                n
            }
        };
        let boot = match &request.source {
            StartSource::Disk(disk) => {
                let v = self.find_disk(disk).await?;
                if v.status != "available" {
                    return Err(Error::DiskNotAvailable {
                        name: disk.clone(),
                        id: v.id,
                        status: v.status,
                    });
                }
                Boot::Disk(v)
            }
            StartSource::Image(image) => {
                let image_name = match image.clone().or_else(|| s.base_image_name.clone()) {
                    Some(n) => n,
                    None => self.pick_image().await?,
                };
                let image = self.find_image(&image_name).await?;
                if image.status != "active" {
                    return Err(Error::ImageNotActive {
                        name: image_name,
                        id: image.id,
                        status: image.status,
                    });
                }
                let disk_name = request.disk_name.clone().unwrap_or_else(|| {
                    if request.setup {
                        "setup-disk".into()
                    } else {
                        "gpu-disk".into()
                    }
                });
                let same = self.disks_named(&disk_name).await?;
                if let Some(v) = same.into_iter().next() {
                    return Err(Error::DiskExists {
                        name: disk_name,
                        id: v.id,
                        status: v.status,
                    });
                }
                let image_gb = image.size.map(|b| b.div_ceil(1 << 30)).unwrap_or(0);
                let size = s.disk_size_gb.max(image.min_disk).max(image_gb);
                Boot::Image {
                    image,
                    disk_name,
                    size,
                }
            }
        };
        let networks: Vec<_> = net
            .list_networks(&query(&[("name", &s.network_name)]))
            .await
            .map_err(Error::cloud("listing networks"))?
            .into_iter()
            .filter(|n| n.name == s.network_name && !n.router_external)
            .collect();
        let network = exactly_one(
            "network",
            &s.network_name,
            networks,
            |n| Match {
                id: n.id.clone(),
                status: n.status.clone(),
            },
            Some("run `vitrina cloud network setup` first".into()),
        )?;
        let group = net
            .find_security_group(&s.security_group)
            .await
            .map_err(Error::cloud(format!(
                "finding security group `{}`",
                s.security_group
            )))?;
        let external = if s.allocate_floating_ip {
            Some(self.external_network().await?)
        } else {
            None
        };
        let key = read_public_key(&s.ssh_key_file)?;
        let keypair_exists = match compute.get_keypair(&s.ssh_key_name).await {
            Ok(k) => {
                if !k.fingerprint.eq_ignore_ascii_case(&key.fingerprint) {
                    return Err(Error::KeypairMismatch {
                        name: s.ssh_key_name.clone(),
                        path: s.ssh_key_file.clone(),
                        cloud: k.fingerprint,
                        local: key.fingerprint,
                    });
                }
                true
            }
            Err(e) if e.is_not_found() => false,
            Err(e) => {
                return Err(Error::Cloud {
                    what: format!("reading key pair `{}`", s.ssh_key_name),
                    source: Box::new(e),
                })
            }
        };
        timer.lap("checks");

        // --- creation, undone on failure -------------------------------------------------
        let mut undo: Vec<Undo> = Vec::new();
        let result = self
            .start_steps(
                &name,
                (&flavor.id, if request.setup { "setup" } else { "gpu" }),
                &boot_parts(&boot),
                &network.id,
                &group.id,
                external.as_deref(),
                (!keypair_exists).then_some(key.line.as_str()),
                &mut undo,
                &mut timer,
            )
            .await;
        match result {
            Ok((server_id, disk_id, floating, fixed)) => {
                let (disk, disk_created, disk_size_gb, image) = match &boot {
                    Boot::Disk(v) => (v.name.clone().unwrap_or_default(), false, v.size, None),
                    Boot::Image {
                        image,
                        disk_name,
                        size,
                    } => (disk_name.clone(), true, *size, image.name.clone()),
                };
                let address = floating
                    .clone()
                    .or_else(|| fixed.clone())
                    .unwrap_or_default();
                self.reporter
                    .step(&format!("VM `{name}` is running at {address}"));
                Ok(StartedVm {
                    name,
                    id: server_id,
                    address,
                    floating_ip: floating,
                    fixed_ip: fixed,
                    flavor: flavor.name,
                    disk,
                    disk_id,
                    disk_created,
                    disk_size_gb,
                    image,
                    keypair: s.ssh_key_name.clone(),
                    keypair_created: !keypair_exists,
                    timings: timer.steps,
                })
            }
            Err((step, error)) => Err(self.roll_back(step, error, undo).await),
        }
    }

    /// The creating steps of `vm_start`; each thing created goes on `undo` first.
    #[allow(clippy::too_many_arguments)]
    async fn start_steps(
        &self,
        name: &str,
        (flavor_id, role): (&str, &str),
        boot: &BootParts<'_>,
        network_id: &str,
        group_id: &str,
        external: Option<&str>,
        new_key: Option<&str>,
        undo: &mut Vec<Undo>,
        timer: &mut Timer,
    ) -> std::result::Result<(String, String, Option<String>, Option<String>), (String, Error)>
    {
        let s = &self.settings;
        let compute = self.client.compute();
        let net = self.client.network();
        let storage = self.client.block_storage();

        if let Some(line) = new_key {
            let step = format!("creating key pair `{}`", s.ssh_key_name);
            compute
                .create_keypair(&KeypairCreate {
                    name: s.ssh_key_name.clone(),
                    public_key: Some(line.to_owned()),
                    key_type: None,
                })
                .await
                .map_err(|e| (step.clone(), Error::cloud(step.clone())(e)))?;
            undo.push(Undo::Keypair(s.ssh_key_name.clone()));
            self.reporter
                .step(&format!("created key pair `{}`", s.ssh_key_name));
        }

        let disk_id = match boot {
            BootParts::Disk { id } => (*id).to_owned(),
            BootParts::Image {
                image_id,
                image_name,
                disk_name,
                size,
            } => {
                let step =
                    format!("creating disk `{disk_name}` ({size} GB) from image `{image_name}`");
                let v = storage
                    .create_volume(&VolumeCreate {
                        size: Some(*size),
                        name: Some((*disk_name).to_owned()),
                        volume_type: s.disk_type.clone(),
                        availability_zone: s.availability_zone.clone(),
                        image_ref: Some((*image_id).to_owned()),
                        ..Default::default()
                    })
                    .await
                    .map_err(|e| (step.clone(), Error::cloud(step.clone())(e)))?;
                undo.push(Undo::Volume {
                    id: v.id.clone(),
                    name: (*disk_name).to_owned(),
                });
                let id = v.id.clone();
                self.wait_reporting(&format!("disk `{disk_name}`"), || {
                    let storage = storage.clone();
                    let id = id.clone();
                    async move {
                        let v = storage.get_volume(&id).await?;
                        match v.status.as_str() {
                            "available" => Ok(Poll::Done(())),
                            st if st.starts_with("error") => {
                                Err(vitrina_openstack::Error::ResourceFailed {
                                    what: format!("volume `{id}`"),
                                    status: v.status,
                                    fault: None,
                                })
                            }
                            _ => Ok(Poll::Pending(v.status)),
                        }
                    }
                })
                .await
                .map_err(|e| (step.clone(), e))?;
                self.reporter.step(&format!(
                    "created disk `{disk_name}` ({size} GB) from image `{image_name}`"
                ));
                timer.lap("boot disk from image");
                v.id
            }
        };

        let step = format!("creating the port of `{name}`");
        let port = net
            .create_port(&PortCreate {
                network_id: Some(network_id.to_owned()),
                name: Some(format!("{name}-port")),
                description: Some(PORT_DESCRIPTION.into()),
                security_groups: Some(vec![group_id.to_owned()]),
                ..Default::default()
            })
            .await
            .map_err(|e| (step.clone(), Error::cloud(step.clone())(e)))?;
        undo.push(Undo::Port {
            id: port.id.clone(),
        });
        let fixed = port.fixed_ips.iter().find_map(|f| f.ip_address.clone());
        timer.lap("port");

        let mut floating = None;
        if let Some(external) = external {
            let step = format!(
                "allocating a floating IP from `{}`",
                self.settings.external_network
            );
            let f = net
                .create_floating_ip(&FloatingIpCreate {
                    floating_network_id: external.to_owned(),
                    port_id: Some(port.id.clone()),
                    description: Some(format!("{PORT_DESCRIPTION} for {name}")),
                    ..Default::default()
                })
                .await
                .map_err(|e| (step.clone(), Error::cloud(step.clone())(e)))?;
            undo.push(Undo::FloatingIp {
                id: f.id.clone(),
                address: f.floating_ip_address.clone(),
            });
            self.reporter
                .step(&format!("allocated floating IP {}", f.floating_ip_address));
            floating = Some(f.floating_ip_address);
            timer.lap("floating IP");
        }

        let step = format!("creating VM `{name}`");
        let mut metadata = std::collections::BTreeMap::new();
        metadata.insert("vitrina:role".to_owned(), role.to_owned());
        let created = compute
            .create_server(&ServerCreateRequest {
                server: ServerCreate {
                    name: name.to_owned(),
                    flavor_ref: flavor_id.to_owned(),
                    image_ref: Some(String::new()),
                    key_name: Some(s.ssh_key_name.clone()),
                    networks: Some(ServerNetworks::List(vec![ServerNetwork {
                        port: Some(port.id.clone()),
                        ..Default::default()
                    }])),
                    availability_zone: s.availability_zone.clone(),
                    metadata: Some(metadata),
                    block_device_mapping_v2: Some(vec![BlockDeviceMapping {
                        boot_index: Some(0),
                        uuid: Some(disk_id.clone()),
                        source_type: "volume".into(),
                        destination_type: Some("volume".into()),
                        // The disk outlives the VM: the seed's `terminate_volume: false`.
                        delete_on_termination: Some(false),
                        ..Default::default()
                    }]),
                    ..Default::default()
                },
                scheduler_hints: None,
            })
            .await
            .map_err(|e| (step.clone(), Error::cloud(step.clone())(e)))?;
        undo.push(Undo::Server {
            id: created.id.clone(),
            name: name.to_owned(),
        });
        timer.lap("server create request");
        let step = format!("starting VM `{name}`");
        let id = created.id.clone();
        self.wait_reporting(&format!("VM `{name}`"), || {
            let compute = compute.clone();
            let id = id.clone();
            async move {
                let server = compute.get_server(&id).await?;
                match server.status.as_str() {
                    "ACTIVE" => Ok(Poll::Done(())),
                    "ERROR" => Err(vitrina_openstack::Error::ResourceFailed {
                        what: format!("server `{id}`"),
                        status: server.status,
                        fault: server.fault.map(|f| f.message),
                    }),
                    _ => Ok(Poll::Pending(server.status)),
                }
            }
        })
        .await
        .map_err(|e| (step.clone(), e))?;
        timer.lap("server to ACTIVE");
        Ok((created.id, disk_id, floating, fixed))
    }

    /// Removes what a failed start created, newest first; the error says what failed and what
    /// was removed (and what could not be).
    async fn roll_back(&self, step: String, error: Error, undo: Vec<Undo>) -> Error {
        let compute = self.client.compute();
        let net = self.client.network();
        let storage = self.client.block_storage();
        let mut cleaned = Vec::new();
        let mut left = Vec::new();
        for item in undo.into_iter().rev() {
            match item {
                Undo::Server { id, name } => {
                    let r = async {
                        compute.delete_server(&id).await?;
                        compute.wait_server_deleted(&id, self.wait).await
                    }
                    .await;
                    match r {
                        Ok(()) => cleaned.push(format!("VM `{name}`")),
                        Err(e) => left.push(format!("VM `{name}` ({id}): {e}")),
                    }
                }
                Undo::FloatingIp { id, address } => match net.delete_floating_ip(&id).await {
                    Ok(_) => cleaned.push(format!("floating IP {address}")),
                    Err(e) => left.push(format!("floating IP {address}: {e}")),
                },
                Undo::Port { id } => match net.delete_port(&id).await {
                    Ok(_) => cleaned.push(format!("port {id}")),
                    Err(e) => left.push(format!("port {id}: {e}")),
                },
                Undo::Volume { id, name } => {
                    let r = async {
                        // A disk still detaching from the deleted VM cannot be deleted yet.
                        storage
                            .wait_volume(&id, &["available", "error"], self.wait)
                            .await?;
                        storage.delete_volume(&id).await?;
                        storage.wait_volume_deleted(&id, self.wait).await
                    }
                    .await;
                    match r {
                        Ok(()) => cleaned.push(format!("disk `{name}`")),
                        Err(e) => left.push(format!("disk `{name}` ({id}): {e}")),
                    }
                }
                Undo::Keypair(name) => match compute.delete_keypair(&name).await {
                    Ok(_) => cleaned.push(format!("key pair `{name}`")),
                    Err(e) => left.push(format!("key pair `{name}`: {e}")),
                },
            }
        }
        Error::RolledBack {
            step,
            source: Box::new(error),
            cleaned,
            left,
        }
    }

    /// Deletes a VM and its floating IPs (and the port `vm start` made); keeps its disks.
    pub async fn vm_stop(&self, name: Option<&str>) -> Result<StoppedVm> {
        let compute = self.client.compute();
        let net = self.client.network();
        let servers = self.servers().await?;
        let server: Server = match name {
            Some(n) => {
                let found: Vec<Server> = servers.into_iter().filter(|x| x.name == n).collect();
                exactly_one(
                    "VM",
                    n,
                    found,
                    |x| Match {
                        id: x.id.clone(),
                        status: x.status.clone(),
                    },
                    None,
                )?
            }
            None => {
                if servers.is_empty() {
                    return Err(Error::Nothing("there are no VMs in the project".into()));
                }
                let mut servers = servers;
                servers.sort_by(|a, b| a.name.cmp(&b.name));
                let options: Vec<String> = servers
                    .iter()
                    .map(|x| {
                        let row = vm_row(x);
                        format!(
                            "{} ({}, {})",
                            x.name,
                            x.status,
                            row.address().unwrap_or("no address")
                        )
                    })
                    .collect();
                let i = self.choose("which VM to stop", "`--name NAME`", &options)?;
                servers.swap_remove(i)
            }
        };
        let ports = net
            .list_ports(&query(&[("device_id", &server.id)]))
            .await
            .map_err(Error::cloud("listing the VM's ports"))?;
        let mut fips = Vec::new();
        for p in &ports {
            fips.extend(
                net.list_floating_ips(&query(&[("port_id", &p.id)]))
                    .await
                    .map_err(Error::cloud("listing the VM's floating IPs"))?,
            );
        }
        compute
            .delete_server(&server.id)
            .await
            .map_err(Error::cloud(format!("deleting VM `{}`", server.name)))?;
        let id = server.id.clone();
        self.wait_reporting(&format!("VM `{}` to be deleted", server.name), || {
            let compute = compute.clone();
            let id = id.clone();
            async move {
                match compute.get_server(&id).await {
                    Err(e) if e.is_not_found() => Ok(Poll::Done(())),
                    Err(e) => Err(e),
                    Ok(s) if s.status == "DELETED" => Ok(Poll::Done(())),
                    Ok(s) => Ok(Poll::Pending(s.status)),
                }
            }
        })
        .await?;
        self.reporter.step(&format!("deleted VM `{}`", server.name));
        let mut released = Vec::new();
        for f in fips {
            net.delete_floating_ip(&f.id)
                .await
                .map_err(Error::cloud(format!(
                    "releasing floating IP {}",
                    f.floating_ip_address
                )))?;
            self.reporter
                .step(&format!("released floating IP {}", f.floating_ip_address));
            released.push(f.floating_ip_address);
        }
        let mut deleted_ports = Vec::new();
        for p in ports.iter().filter(|p| p.description == PORT_DESCRIPTION) {
            if net
                .delete_port(&p.id)
                .await
                .map_err(Error::cloud(format!("deleting port {}", p.id)))?
            {
                deleted_ports.push(p.id.clone());
            }
        }
        let storage = self.client.block_storage();
        let mut kept = Vec::new();
        for v in &server.volumes_attached {
            let name = match storage.get_volume(&v.id).await {
                Ok(vol) => vol.name.filter(|n| !n.is_empty()).unwrap_or(v.id.clone()),
                Err(_) => v.id.clone(),
            };
            self.reporter.step(&format!("kept disk `{name}`"));
            kept.push(name);
        }
        Ok(StoppedVm {
            name: server.name,
            id: server.id,
            released_floating_ips: released,
            deleted_ports,
            kept_disks: kept,
        })
    }

    /// The one disk named `name`.
    pub(crate) async fn find_disk(&self, name: &str) -> Result<Volume> {
        let found = self.disks_named(name).await?;
        exactly_one(
            "disk",
            name,
            found,
            |v| Match {
                id: v.id.clone(),
                status: v.status.clone(),
            },
            None,
        )
    }

    /// Every disk named exactly `name`.
    pub(crate) async fn disks_named(&self, name: &str) -> Result<Vec<Volume>> {
        Ok(self
            .client
            .block_storage()
            .list_volumes(&query(&[("name", name)]))
            .await
            .map_err(Error::cloud("listing disks"))?
            .into_iter()
            .filter(|v| v.name.as_deref() == Some(name))
            .collect())
    }

    /// Lets the person at the terminal pick an image.
    async fn pick_image(&self) -> Result<String> {
        let images: Vec<String> = self
            .images()
            .await?
            .into_iter()
            .filter(|i| i.status == "active" && !i.name.is_empty())
            .map(|i| i.name)
            .collect();
        if images.is_empty() {
            return Err(Error::Nothing(
                "there are no active images to start from".into(),
            ));
        }
        let i = self.choose(
            "which image to start from",
            "`--image NAME` or set `BASE_IMAGE_NAME`",
            &images,
        )?;
        images.get(i).cloned().ok_or(Error::NotChosen)
    }
}

/// The borrowed parts of the boot source that the creating steps need.
enum BootParts<'a> {
    Disk {
        id: &'a str,
    },
    Image {
        image_id: &'a str,
        image_name: &'a str,
        disk_name: &'a str,
        size: u64,
    },
}

fn boot_parts(boot: &Boot) -> BootParts<'_> {
    match boot {
        Boot::Disk(v) => BootParts::Disk { id: &v.id },
        Boot::Image {
            image,
            disk_name,
            size,
        } => BootParts::Image {
            image_id: &image.id,
            image_name: image.name.as_deref().unwrap_or(&image.id),
            disk_name,
            size: *size,
        },
    }
}

/// The boot source of a start, once checked.
enum Boot {
    Disk(Volume),
    Image {
        image: vitrina_openstack::wire::image::Image,
        disk_name: String,
        size: u64,
    },
}
