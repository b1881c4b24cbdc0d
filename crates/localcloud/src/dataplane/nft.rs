//! nftables scripts: security groups in a VM's namespace, NAT in a router's namespace. Every
//! value put into a script is parsed first (addresses, prefixes, numbers, known protocol names),
//! so API input cannot inject nftables syntax.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::net::IpAddr;

use crate::model::{Port, SgRule, State};

use super::plan::Cidr;

/// The table localcloud owns in each namespace.
pub const TABLE: &str = "localcloud";

/// A script that replaces `table inet localcloud` atomically with `body`.
fn replace_table(family: &str, body: &str) -> String {
    format!("table {family} {TABLE}\ndelete table {family} {TABLE}\ntable {family} {TABLE} {{\n{body}}}\n")
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

/// The match of one rule, or `None` when it can match nothing (an empty remote group, an unknown
/// protocol).
fn rule_match(db: &State, r: &SgRule, ingress: bool) -> Option<String> {
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
        let members: Vec<Cidr> = db
            .ports
            .values()
            .filter(|p| p.security_groups.iter().any(|s| s == g))
            .flat_map(port_sources)
            .filter(|c| c.addr.is_ipv6() == v6)
            .collect();
        if members.is_empty() {
            return None;
        }
        let _ = write!(m, " {fam} {dir} {}", set_of(&members));
    }
    Some(m)
}

/// Security groups of a VM's ports (device `eth<i>` for the i-th port), stateful as Neutron's:
/// replies to allowed traffic pass, ingress needs a rule, egress follows the egress rules, a port
/// sends only from its fixed IPs and allowed address pairs; `port_security_enabled = false` lets
/// everything through.
pub fn security_groups(db: &State, ports: &[String]) -> String {
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
            if let Some(m) = rule_match(db, r, ingress) {
                let target = if ingress { &mut cin } else { &mut cout };
                let _ = writeln!(target, "    {m} accept");
            }
        }
        let _ = write!(
            chains,
            "  chain in_{dev} {{\n{cin}    drop\n  }}\n  chain out_{dev} {{\n{cout}    drop\n  }}\n"
        );
    }
    replace_table(
        "inet",
        &format!("  chain input {{\n    type filter hook input priority 0; policy accept;\n{input}  }}\n  chain output {{\n    type filter hook output priority 0; policy accept;\n    oifname \"lo\" accept\n{spoof}{common}{output}  }}\n{chains}"),
    )
}

/// NAT of a router: each floating IP is a 1:1 DNAT/SNAT to its fixed IP; other traffic from the
/// internal subnets leaving through the gateway is SNATed to the gateway address (`snat_to`).
pub fn router_nat(
    gw_dev: &str,
    snat_to: Option<&str>,
    internal: &BTreeSet<String>,
    fips: &[(String, String)],
) -> String {
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
    replace_table(
        "ip",
        &format!("  chain pre {{\n    type nat hook prerouting priority dstnat; policy accept;\n{pre}  }}\n  chain post {{\n    type nat hook postrouting priority srcnat; policy accept;\n{post}  }}\n"),
    )
}
