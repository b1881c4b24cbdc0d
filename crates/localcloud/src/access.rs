//! Project access in one place. Handlers find and list project-owned rows only through these
//! queries, which take the caller's [`Ctx`]: a row of another project is absent, as Nova,
//! Neutron and Cinder answer 404 for it. What a caller sees beyond its own rows (shared and
//! external networks, public images) is decided here too.

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
}

/// Queries over one kind of row, limited to the caller's project.
pub trait Scoped<T> {
    /// The caller's row `id`; `None` when it does not exist or another project owns it.
    fn mine(&self, ctx: &Ctx, id: &str) -> Option<&T>;
    /// [`Scoped::mine`], to change.
    fn mine_mut(&mut self, ctx: &Ctx, id: &str) -> Option<&mut T>;
    /// The caller's rows, in id order.
    fn all_mine<'a>(&'a self, ctx: &'a Ctx) -> impl Iterator<Item = &'a T> + 'a
    where
        T: 'a;
}

impl<T: Owned> Scoped<T> for Map<T> {
    fn mine(&self, ctx: &Ctx, id: &str) -> Option<&T> {
        self.get(id).filter(|r| ctx.owns(*r))
    }

    fn mine_mut(&mut self, ctx: &Ctx, id: &str) -> Option<&mut T> {
        self.get_mut(id).filter(|r| ctx.owns(&**r))
    }

    fn all_mine<'a>(&'a self, ctx: &'a Ctx) -> impl Iterator<Item = &'a T> + 'a
    where
        T: 'a,
    {
        self.values().filter(move |r| ctx.owns(*r))
    }
}

/// Whether a project sees a network: its own, shared and external ones.
pub fn network_visible(n: &Network, ctx: &Ctx) -> bool {
    ctx.owns(n) || n.shared || n.external
}

/// Whether a project sees an image: its own, public and community ones.
pub fn image_visible(i: &Image, ctx: &Ctx) -> bool {
    ctx.owns(i) || i.visibility == "public" || i.visibility == "community"
}
