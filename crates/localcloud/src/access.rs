//! Project access in one place. Handlers find and list project-owned rows only through these
//! queries, which take the caller's [`Ctx`]: a row of another project is absent, as Nova,
//! Neutron and Cinder answer 404 for it — except to admins, who reach every project's rows by
//! ID and list them with `all_tenants`/`all_projects` (Nova, Cinder) or always (Neutron), as
//! OpenStack's default policies allow (probe I1). What a caller sees beyond its own rows
//! (shared and external networks, public images) is decided here too.

use crate::model::{
    FloatingIp, Image, Map, Network, Port, Router, SecurityGroup, Server, SgRule, Snapshot, Subnet,
    Volume,
};
use crate::util::Ctx;

/// A row that belongs to one project.
pub trait Owned {
    /// The owning project (empty for rows no project owns, such as a floating IP's port).
    fn project_id(&self) -> &str;
}

macro_rules! owned {
    ($($t:ty),*) => {
        $(impl Owned for $t {
            fn project_id(&self) -> &str {
                &self.project_id
            }
        })*
    };
}
owned!(
    Network,
    Subnet,
    Port,
    SecurityGroup,
    SgRule,
    Router,
    FloatingIp,
    Volume,
    Snapshot,
    Server
);

impl Owned for Image {
    fn project_id(&self) -> &str {
        &self.owner
    }
}

impl Ctx {
    /// Whether the caller's project owns a row.
    pub fn owns(&self, row: &impl Owned) -> bool {
        let p = row.project_id();
        !p.is_empty() && p == self.project_id
    }

    /// Whether the caller reaches a row by ID: its own, or any for an admin.
    pub fn reaches(&self, row: &impl Owned) -> bool {
        self.owns(row) || self.is_admin()
    }
}

/// Whether a list query asks for every project's rows (`all_tenants` in Nova and Cinder; OSC's
/// `--all-projects`). Any value but a false one counts, as in Nova.
pub fn wants_all_projects(query: &crate::util::Query) -> bool {
    query.iter().any(|(k, v)| {
        (k == "all_tenants" || k == "all_projects")
            && !matches!(
                v.to_ascii_lowercase().as_str(),
                "0" | "false" | "f" | "no" | "off"
            )
    })
}

/// Queries over one kind of row, limited to the caller's project.
pub trait Scoped<T> {
    /// The caller's row `id` (any project's for an admin); `None` when it does not exist or
    /// another project owns it.
    fn mine(&self, ctx: &Ctx, id: &str) -> Option<&T>;
    /// [`Scoped::mine`], to change.
    fn mine_mut(&mut self, ctx: &Ctx, id: &str) -> Option<&mut T>;
    /// The caller's rows, in id order.
    fn all_mine<'a>(&'a self, ctx: &'a Ctx) -> impl Iterator<Item = &'a T> + 'a
    where
        T: 'a;
    /// The caller's rows, or every project's when an admin asks for all (`all`).
    fn listed<'a>(&'a self, ctx: &'a Ctx, all: bool) -> impl Iterator<Item = &'a T> + 'a
    where
        T: 'a;
}

impl<T: Owned> Scoped<T> for Map<T> {
    fn mine(&self, ctx: &Ctx, id: &str) -> Option<&T> {
        self.get(id).filter(|r| ctx.reaches(*r))
    }

    fn mine_mut(&mut self, ctx: &Ctx, id: &str) -> Option<&mut T> {
        self.get_mut(id).filter(|r| ctx.reaches(&**r))
    }

    fn all_mine<'a>(&'a self, ctx: &'a Ctx) -> impl Iterator<Item = &'a T> + 'a
    where
        T: 'a,
    {
        self.values().filter(move |r| ctx.owns(*r))
    }

    fn listed<'a>(&'a self, ctx: &'a Ctx, all: bool) -> impl Iterator<Item = &'a T> + 'a
    where
        T: 'a,
    {
        let all = all && ctx.is_admin();
        self.values().filter(move |r| all || ctx.owns(*r))
    }
}

/// Whether a project sees a network: its own, shared and external ones (all for an admin).
pub fn network_visible(n: &Network, ctx: &Ctx) -> bool {
    ctx.reaches(n) || n.shared || n.external
}

/// Whether a project sees an image: its own, public and community ones, and shared ones it is a
/// member of (in any member status, as Glance shows them by ID).
pub fn image_visible(i: &Image, ctx: &Ctx) -> bool {
    ctx.owns(i)
        || i.visibility == "public"
        || i.visibility == "community"
        || (i.visibility == "shared" && i.members.iter().any(|m| m.member_id == ctx.project_id))
}
