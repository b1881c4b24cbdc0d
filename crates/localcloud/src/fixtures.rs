//! Fixtures a localcloud starts with besides its bootstrap identities: `devstack` makes what a
//! devstack installation has, so tools and test suites written against devstack run unchanged.

use std::collections::BTreeMap;

use crate::model::{Project, User};
use crate::util::new_hex_id;
use crate::Cloud;

/// What `LocalCloud::open` creates on top of the bootstrap (`--fixtures`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Fixtures {
    /// Only the bootstrap: `admin`, `demo`, `ext-net`, `internet`, `vitrina-process-base`.
    #[default]
    None,
    /// Devstack's: the external network is `public`; `private` and `router1` in `demo`;
    /// projects `alt_demo`, `service`, `invisible_to_admin` and user `alt_demo`; flavors
    /// `m1.nano`…`m1.xlarge`, `cirros256`, `ds512M`…`ds4G`; the image
    /// `cirros-0.6.3-x86_64-disk`; zone `nova`; volume type `lvmdriver-1` (the default); the
    /// clouds `devstack`, `devstack-alt`, `devstack-admin`, `devstack-admin-demo` and
    /// `devstack-system-admin` in clouds.yaml.
    Devstack,
}

/// Devstack's flavors: id, name, vCPUs, RAM (MiB), disk (GiB) — Nova's classic `m1.*`,
/// tempest's `m1.nano`/`m1.micro`, and the `cirros256` and `ds*` ones devstack adds.
const DEVSTACK_FLAVORS: &[(&str, &str, u32, u64, u64)] = &[
    ("1", "m1.tiny", 1, 512, 1),
    ("2", "m1.small", 1, 2048, 20),
    ("3", "m1.medium", 2, 4096, 40),
    ("4", "m1.large", 4, 8192, 80),
    ("5", "m1.xlarge", 8, 16384, 160),
    ("42", "m1.nano", 1, 128, 1),
    ("84", "m1.micro", 1, 192, 1),
    ("c1", "cirros256", 1, 256, 1),
    ("d1", "ds512M", 1, 512, 5),
    ("d2", "ds1G", 1, 1024, 10),
    ("d3", "ds2G", 2, 2048, 10),
    ("d4", "ds4G", 4, 4096, 20),
];

/// The name devstack gives its CirrOS image.
pub const DEVSTACK_IMAGE: &str = "cirros-0.6.3-x86_64-disk";

/// Applies the configured fixtures once (a restart finds them in the state and keeps what
/// admins changed since).
pub(crate) fn apply(cloud: &Cloud) -> std::io::Result<()> {
    if cloud.cfg.fixtures != Fixtures::Devstack {
        return Ok(());
    }
    let fresh = cloud.store.write(|db| {
        if db.fixtures.iter().any(|f| f == "devstack") {
            return false;
        }
        db.fixtures.push("devstack".into());
        db.zones = vec!["nova".into()];
        for (id, name, vcpus, ram, disk) in DEVSTACK_FLAVORS {
            if !db.flavors.values().any(|f| f.name == *name) {
                db.flavors.insert(
                    (*id).to_owned(),
                    crate::nova::new_flavor(id, name, *vcpus, *ram, *disk),
                );
            }
        }
        let lvm = crate::cinder_types::new_type("lvmdriver-1", None);
        db.volume_types.entry(lvm.id.clone()).or_insert(lvm);
        db.default_volume_type = Some("lvmdriver-1".into());
        let Some(b) = db.bootstrap.clone() else {
            return true;
        };
        let mut project = |name: &str, description: &str| -> String {
            if let Some(p) = db.projects.values().find(|p| p.name == name) {
                return p.id.clone();
            }
            let p = Project {
                id: new_hex_id(),
                name: name.into(),
                description: description.into(),
                domain_id: "default".into(),
                enabled: true,
            };
            let id = p.id.clone();
            db.projects.insert(id.clone(), p);
            id
        };
        let alt = project("alt_demo", "devstack's second tenant");
        project("service", "Projects of the services");
        project(
            "invisible_to_admin",
            "A project the admin user has no role on",
        );
        if !db.users.values().any(|u| u.name == "alt_demo") {
            let u = User {
                id: new_hex_id(),
                name: "alt_demo".into(),
                domain_id: "default".into(),
                password: crate::keystone::random_secret(24),
                default_project_id: alt.clone(),
                roles: BTreeMap::from([(alt.clone(), vec!["member".into(), "reader".into()])]),
                enabled: true,
                email: Some("alt_demo@example.com".into()),
                description: None,
            };
            db.users.insert(u.id.clone(), u);
        }
        if let Some(admin) = db.users.get_mut(&b.admin_user_id) {
            admin
                .roles
                .entry(alt)
                .or_insert_with(|| vec!["admin".into(), "member".into(), "reader".into()]);
        }
        if let Err(e) = crate::neutron::devstack_networks(db, &b.demo_project_id, &b.ext_net_id) {
            tracing::warn!("localcloud: devstack networks not made: {}", e.message);
        }
        true
    });
    if fresh {
        crate::glance::process_image(cloud, DEVSTACK_IMAGE, false, &[])?;
    }
    Ok(())
}
