//! nftables scripts: security groups in a VM's namespace, NAT in a router's namespace. Every
//! value put into a script is parsed first (addresses, prefixes, numbers, known protocol names),
//! so API input cannot inject nftables syntax.
//!
//! The members of a security group that a `remote_group_id` rule refers to are a named set of
//! the table (`rg4_…`/`rg6_…`, one per group and IP version), not a list in the rule: a new member
//! of a group changes only that set's elements in each VM that refers to the group, which the
//! kernel side applies in place (see [`Table::same_shape`]) instead of replacing every VM's table.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::net::IpAddr;

use sha2::Digest as _;

use crate::model::{Port, SgRule, State};

use super::plan::Cidr;

/// The table localcloud owns in each namespace.
pub const TABLE: &str = "localcloud";

/// A script that replaces `table inet localcloud` atomically with `body`.
fn replace_table(family: &str, body: &str) -> String {
    format!("table {family} {TABLE}\ndelete table {family} {TABLE}\ntable {family} {TABLE} {{\n{body}}}\n")
}

/// A named set of single addresses (a hash set: no intervals, so one member is one element).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AddrSet {
    pub v6: bool,
    pub elements: BTreeSet<IpAddr>,
}

/// localcloud's table in one namespace: its chains (`body`) and the elements of its named sets,
/// kept apart so that a change of set elements alone is applied as such.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Table {
    /// `inet` (security groups) or `ip` (a router's NAT).
    pub family: &'static str,
    /// Chains, rules and anything else but the named sets.
    pub body: String,
    /// Named sets: name → type and elements.
    pub sets: BTreeMap<String, AddrSet>,
}

impl Table {
    /// The script that replaces the table, sets and elements included.
    pub fn script(&self) -> String {
        let mut decl = String::new();
        for (name, set) in &self.sets {
            let ty = if set.v6 { "ipv6_addr" } else { "ipv4_addr" };
            let _ = writeln!(decl, "  set {name} {{\n    type {ty}");
            if !set.elements.is_empty() {
                let items: Vec<String> = set.elements.iter().map(ToString::to_string).collect();
                let _ = writeln!(decl, "    elements = {{ {} }}", items.join(", "));
            }
            decl.push_str("  }\n");
        }
        replace_table(self.family, &format!("{decl}{}", self.body))
    }

    /// Whether `other` differs from this table at most in the elements of its sets (then the
    /// change is a few elements added and removed, not a new table).
    pub fn same_shape(&self, other: &Table) -> bool {
        self.family == other.family
            && self.body == other.body
            && self.sets.len() == other.sets.len()
            && self
                .sets
                .iter()
                .zip(&other.sets)
                .all(|((a, x), (b, y))| a == b && x.v6 == y.v6)
    }
}

/// The name of the set holding the addresses of a security group's members (a function of the
/// group id, safe as an nftables identifier whatever the id holds).
fn group_set_name(group_id: &str, v6: bool) -> String {
    let h = sha2::Sha256::digest(group_id.as_bytes());
    format!(
        "{}_{}",
        if v6 { "rg6" } else { "rg4" },
        &hex::encode(h)[..16]
    )
}

/// Addresses a port may send from (and that `remote_group_id` matches): fixed IPs and allowed
/// address pairs.
fn port_sources(p: &Port) -> Vec<Cidr> {
    let mut v: Vec<Cidr> = p
        .fixed_ips
        .iter()
        .filter_map(|f| f.ip_address.parse().ok())
        .collect();
    for pair in &p.allowed_address_pairs {
        if let Some(c) = pair
            .get("ip_address")
            .and_then(|a| a.as_str())
            .and_then(|a| a.parse().ok())
        {
            v.push(c);
        }
    }
    v
}

fn set_of(cidrs: &[Cidr]) -> String {
    let items: BTreeSet<String> = cidrs.iter().map(ToString::to_string).collect();
    format!("{{ {} }}", items.into_iter().collect::<Vec<_>>().join(", "))
}

/// The matches of one rule (an empty list when it can match nothing: an unknown protocol, a
/// prefix of the other IP version). A `remote_group_id` matches the group's set (declared in
/// `sets`, empty while the group has no member), and a second match for members' address
/// pairs that are prefixes, not single addresses.
fn rule_match(
    db: &State,
    r: &SgRule,
    ingress: bool,
    sets: &mut BTreeMap<String, AddrSet>,
) -> Vec<String> {
    rule_match_one(db, r, ingress, sets).unwrap_or_default()
}

fn rule_match_one(
    db: &State,
    r: &SgRule,
    ingress: bool,
    sets: &mut BTreeMap<String, AddrSet>,
) -> Option<Vec<String>> {
    let v6 = r.ethertype.eq_ignore_ascii_case("IPv6");
    let mut m = String::from(if v6 {
        "meta nfproto ipv6"
    } else {
        "meta nfproto ipv4"
    });
    let proto = r.protocol.as_deref().map(str::to_ascii_lowercase);
    let proto = match proto.as_deref() {
        None | Some("") | Some("any") | Some("0") => None,
        Some("tcp") | Some("6") => Some("tcp"),
        Some("udp") | Some("17") => Some("udp"),
        Some("sctp") | Some("132") => Some("sctp"),
        Some("icmp") | Some("1") if !v6 => Some("icmp"),
        Some("icmp") | Some("icmpv6") | Some("ipv6-icmp") | Some("58") => Some("ipv6-icmp"),
        Some(n) => match n.parse::<u8>() {
            Ok(_) => Some(""),
            Err(_) => return None,
        },
    };
    if let Some(pr) = proto {
        if pr.is_empty() {
            let n: u8 = r.protocol.as_deref()?.parse().ok()?;
            let _ = write!(m, " meta l4proto {n}");
        } else {
            let _ = write!(m, " meta l4proto {pr}");
        }
        let (lo, hi) = (r.port_range_min, r.port_range_max);
        match pr {
            "tcp" | "udp" | "sctp" => {
                if let Some(lo) = lo.and_then(|x| u16::try_from(x).ok()) {
                    let hi = hi.and_then(|x| u16::try_from(x).ok()).unwrap_or(lo);
                    if hi > lo {
                        let _ = write!(m, " th dport {lo}-{hi}");
                    } else {
                        let _ = write!(m, " th dport {lo}");
                    }
                }
            }
            "icmp" | "ipv6-icmp" => {
                let kw = if pr == "icmp" { "icmp" } else { "icmpv6" };
                if let Some(t) = lo.and_then(|x| u8::try_from(x).ok()) {
                    let _ = write!(m, " {kw} type {t}");
                    if let Some(c) = hi.and_then(|x| u8::try_from(x).ok()) {
                        let _ = write!(m, " {kw} code {c}");
                    }
                }
            }
            _ => {}
        }
    }
    let dir = if ingress { "saddr" } else { "daddr" };
    let fam = if v6 { "ip6" } else { "ip" };
    if let Some(prefix) = r.remote_ip_prefix.as_deref().filter(|p| !p.is_empty()) {
        let c: Cidr = prefix.parse().ok()?;
        if c.addr.is_ipv6() != v6 {
            return None;
        }
        if c.len > 0 {
            let _ = write!(m, " {fam} {dir} {c}");
        }
    } else if let Some(g) = r.remote_group_id.as_deref() {
        let name = group_set_name(g, v6);
        let max = if v6 { 128 } else { 32 };
        let mut elements = BTreeSet::new();
        let mut prefixes: Vec<Cidr> = Vec::new();
        for c in db
            .ports
            .values()
            .filter(|p| p.security_groups.iter().any(|s| s == g))
            .flat_map(port_sources)
            .filter(|c| c.addr.is_ipv6() == v6)
        {
            if c.len == max {
                elements.insert(c.addr);
            } else {
                prefixes.push(c);
            }
        }
        sets.entry(name.clone()).or_insert(AddrSet { v6, elements });
        let mut out = vec![format!("{m} {fam} {dir} @{name}")];
        if !prefixes.is_empty() {
            out.push(format!("{m} {fam} {dir} {}", set_of(&prefixes)));
        }
        return Some(out);
    }
    Some(vec![m])
}

/// Security groups of a VM's ports (device `eth<i>` for the i-th port), stateful as Neutron's:
/// replies to allowed traffic pass, ingress needs a rule, egress follows the egress rules, a port
/// sends only from its fixed IPs and allowed address pairs; `port_security_enabled = false` lets
/// everything through.
pub fn security_groups(db: &State, ports: &[String]) -> Table {
    let mut sets = BTreeMap::new();
    // Neighbour discovery first, so no conntrack verdict (`invalid` on some kernels) can drop it.
    let common = "    meta l4proto ipv6-icmp icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert, nd-router-advert, nd-router-solicit } accept\n    ct state established,related accept\n    ct state invalid drop\n";
    let mut input = format!("    iifname \"lo\" accept\n{common}");
    // Anti-spoofing comes before the stateful accept, so replies obey it too.
    let mut spoof = String::new();
    let mut output = String::new();
    let mut chains = String::new();
    for (i, pid) in ports.iter().enumerate() {
        let Some(p) = db.ports.get(pid) else { continue };
        let dev = format!("eth{i}");
        if !p.port_security_enabled {
            let _ = writeln!(input, "    iifname \"{dev}\" accept");
            let _ = writeln!(output, "    oifname \"{dev}\" accept");
            continue;
        }
        let _ = writeln!(input, "    iifname \"{dev}\" jump in_{dev}");
        let _ = writeln!(output, "    oifname \"{dev}\" jump out_{dev}");
        let rules: Vec<&SgRule> = db
            .sg_rules
            .values()
            .filter(|r| p.security_groups.contains(&r.security_group_id))
            .collect();
        let mut cin = String::new();
        let mut cout = String::new();
        let sources = port_sources(p);
        let v4: Vec<Cidr> = sources
            .iter()
            .copied()
            .filter(|c| c.addr.is_ipv4())
            .collect();
        if v4.is_empty() {
            let _ = writeln!(spoof, "    oifname \"{dev}\" meta nfproto ipv4 drop");
        } else {
            let _ = writeln!(
                spoof,
                "    oifname \"{dev}\" meta nfproto ipv4 ip saddr != {} drop",
                set_of(&v4)
            );
        }
        let mut v6: Vec<Cidr> = sources
            .iter()
            .copied()
            .filter(|c| c.addr.is_ipv6())
            .collect();
        v6.extend(super::ipv6::always_allowed_sources());
        let _ = writeln!(
            spoof,
            "    oifname \"{dev}\" meta nfproto ipv6 ip6 saddr != {} drop",
            set_of(&v6)
        );
        for r in rules {
            let ingress = r.direction == "ingress";
            for m in rule_match(db, r, ingress, &mut sets) {
                let target = if ingress { &mut cin } else { &mut cout };
                let _ = writeln!(target, "    {m} accept");
            }
        }
        let _ = write!(
            chains,
            "  chain in_{dev} {{\n{cin}    drop\n  }}\n  chain out_{dev} {{\n{cout}    drop\n  }}\n"
        );
    }
    Table {
        family: "inet",
        body: format!("  chain input {{\n    type filter hook input priority 0; policy accept;\n{input}  }}\n  chain output {{\n    type filter hook output priority 0; policy accept;\n    oifname \"lo\" accept\n{spoof}{common}{output}  }}\n{chains}"),
        sets,
    }
}

/// NAT of a router: each floating IP is a 1:1 DNAT/SNAT to its fixed IP; other traffic from the
/// internal subnets leaving through the gateway is SNATed to the gateway address (`snat_to`).
pub fn router_nat(
    gw_dev: &str,
    snat_to: Option<&str>,
    internal: &BTreeSet<String>,
    fips: &[(String, String)],
) -> Table {
    let mut pre = String::new();
    let mut post = String::new();
    for (fip, fixed) in fips {
        let (Ok(fip), Ok(fixed)) = (fip.parse::<IpAddr>(), fixed.parse::<IpAddr>()) else {
            continue;
        };
        let _ = writeln!(pre, "    ip daddr {fip} dnat to {fixed}");
        let _ = writeln!(
            post,
            "    oifname \"{gw_dev}\" ip saddr {fixed} snat to {fip}"
        );
    }
    if let Some(gw) = snat_to.and_then(|g| g.parse::<IpAddr>().ok()) {
        let nets: Vec<Cidr> = internal.iter().filter_map(|c| c.parse().ok()).collect();
        if !nets.is_empty() {
            let _ = writeln!(
                post,
                "    oifname \"{gw_dev}\" ip saddr {} snat to {gw}",
                set_of(&nets)
            );
        }
    }
    Table {
        family: "ip",
        body: format!("  chain pre {{\n    type nat hook prerouting priority dstnat; policy accept;\n{pre}  }}\n  chain post {{\n    type nat hook postrouting priority srcnat; policy accept;\n{post}  }}\n"),
        sets: BTreeMap::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{FixedIp, NetStatus};

    fn port(id: &str, ip: &str, sgs: &[&str]) -> Port {
        Port {
            id: id.into(),
            project_id: "p".into(),
            network_id: "n".into(),
            name: String::new(),
            description: String::new(),
            admin_state_up: true,
            mac_address: "fa:16:3e:00:00:01".into(),
            fixed_ips: vec![FixedIp {
                subnet_id: "s".into(),
                ip_address: ip.into(),
            }],
            device_id: String::new(),
            device_owner: String::new(),
            security_groups: sgs.iter().map(|s| (*s).to_owned()).collect(),
            port_security_enabled: true,
            allowed_address_pairs: Vec::new(),
            status: NetStatus::Active,
            dns_name: String::new(),
            tags: Vec::new(),
            created_at: String::new(),
            updated_at: String::new(),
        }
    }

    fn rule(id: &str, group: &str, remote_group: Option<&str>) -> SgRule {
        SgRule {
            id: id.into(),
            project_id: "p".into(),
            security_group_id: group.into(),
            direction: "ingress".into(),
            ethertype: "IPv4".into(),
            protocol: Some("tcp".into()),
            port_range_min: Some(8080),
            port_range_max: Some(8080),
            remote_ip_prefix: None,
            remote_group_id: remote_group.map(str::to_owned),
            description: String::new(),
            created_at: String::new(),
            updated_at: String::new(),
        }
    }

    #[test]
    fn a_new_group_member_changes_only_set_elements() {
        let mut db = State::default();
        db.sg_rules.insert("r1".into(), rule("r1", "g", Some("g")));
        db.ports.insert("a".into(), port("a", "10.0.0.10", &["g"]));
        let before = security_groups(&db, &["a".into()]);
        assert_eq!(before.sets.len(), 1);
        let set = before.sets.values().next().expect("the group's set");
        assert_eq!(set.elements.len(), 1);
        let name = before.sets.keys().next().expect("name").clone();
        assert!(before.body.contains(&format!("ip saddr @{name} accept")));
        assert!(before.script().contains("elements = { 10.0.0.10 }"));

        db.ports.insert("b".into(), port("b", "10.0.0.11", &["g"]));
        let after = security_groups(&db, &["a".into()]);
        assert_ne!(before, after);
        assert!(before.same_shape(&after));
        assert!(after
            .script()
            .contains("elements = { 10.0.0.10, 10.0.0.11 }"));

        // A member's address pair that is a prefix is matched by a rule of its own (a change of
        // the rules, applied by replacing the table).
        if let Some(p) = db.ports.get_mut("b") {
            p.allowed_address_pairs = vec![serde_json::json!({"ip_address": "10.1.0.0/16"})];
        }
        let pairs = security_groups(&db, &["a".into()]);
        assert!(!after.same_shape(&pairs));
        assert!(pairs.body.contains("ip saddr { 10.1.0.0/16 } accept"));

        // A group without members keeps its (empty) set: the rule matches nothing.
        db.ports.retain(|k, _| k == "a");
        if let Some(p) = db.ports.get_mut("a") {
            p.security_groups = vec!["other".into()];
        }
        db.sg_rules
            .insert("r2".into(), rule("r2", "other", Some("g")));
        let empty = security_groups(&db, &["a".into()]);
        let set = empty.sets.values().next().expect("the group's set");
        assert!(set.elements.is_empty());
        assert!(!empty.script().contains("elements"));
    }
}
