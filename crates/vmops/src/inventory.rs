//! An Ansible dynamic inventory of the project's VMs (`--list` JSON), so playbooks such as the
//! seed's `site.yml` run against what `vm start` made: every VM with an address is a host named
//! like the VM, reached at its floating address (else its fixed one) as `root`, in group `gpu`
//! or `setup` by how it was started (`vitrina:role` metadata), and in `all`.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::error::Result;
use crate::list::vm_row;
use crate::ops::Ops;

impl Ops {
    /// The `--list` document: `{"all": {"hosts": […], "children": […]}, "gpu": …, "_meta":
    /// {"hostvars": {…}}}`.
    pub async fn inventory(&self) -> Result<Value> {
        let servers = self.servers().await?;
        let mut groups: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut hostvars = serde_json::Map::new();
        let mut all = Vec::new();
        let mut sorted = servers;
        sorted.sort_by(|a, b| a.name.cmp(&b.name));
        for s in &sorted {
            let row = vm_row(s);
            let Some(address) = row.address() else {
                continue;
            };
            let role = s
                .metadata
                .get("vitrina:role")
                .cloned()
                .unwrap_or_else(|| "ungrouped".into());
            groups.entry(role).or_default().push(s.name.clone());
            all.push(s.name.clone());
            hostvars.insert(
                s.name.clone(),
                json!({
                    "ansible_host": address,
                    "ansible_user": "root",
                    "openstack_id": s.id,
                    "openstack_status": s.status,
                    "openstack_flavor": row.flavor,
                    "fixed_addresses": row.fixed_addresses,
                    "floating_addresses": row.floating_addresses,
                }),
            );
        }
        let mut doc = serde_json::Map::new();
        doc.insert(
            "all".into(),
            json!({"hosts": all, "children": groups.keys().collect::<Vec<_>>()}),
        );
        for (g, hosts) in &groups {
            doc.insert(g.clone(), json!({ "hosts": hosts }));
        }
        doc.insert("_meta".into(), json!({ "hostvars": hostvars }));
        Ok(Value::Object(doc))
    }

    /// The `--host NAME` document: that host's variables (`{}` when unknown, as Ansible
    /// expects).
    pub async fn inventory_host(&self, name: &str) -> Result<Value> {
        let doc = self.inventory().await?;
        Ok(doc
            .get("_meta")
            .and_then(|m| m.get("hostvars"))
            .and_then(|h| h.get(name))
            .cloned()
            .unwrap_or_else(|| json!({})))
    }
}
