//! Elements of localcloud's named nftables sets, added and removed over netlink (nf_tables'
//! own messages, as `nft add element` sends them) from a socket opened inside the namespace: no
//! `nft` process, so a new member of a security group costs every VM that refers to the group a
//! few microseconds instead of a process and a new table. One batch per namespace: the kernel
//! applies it whole or not at all.

use std::net::IpAddr;
use std::os::fd::{AsRawFd as _, OwnedFd};
use std::path::Path;

use nix::sys::socket::{self, AddressFamily, MsgFlags, NetlinkAddr, SockFlag, SockProtocol};

/// One set's change.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SetChange {
    pub set: String,
    pub add: Vec<IpAddr>,
    pub del: Vec<IpAddr>,
}

// From <linux/netlink.h>, <linux/netfilter/nfnetlink.h> and <linux/netfilter/nf_tables.h>.
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_ACK: u16 = 0x4;
const NLM_F_CREATE: u16 = 0x400;
const NLMSG_ERROR: u16 = 0x2;
const NLMSG_DONE: u16 = 0x3;
const NFNL_MSG_BATCH_BEGIN: u16 = 0x10;
const NFNL_MSG_BATCH_END: u16 = 0x11;
const NFNL_SUBSYS_NFTABLES: u16 = 10;
const NFT_MSG_NEWSETELEM: u16 = 12;
const NFT_MSG_DELSETELEM: u16 = 14;
const NFTA_SET_ELEM_LIST_TABLE: u16 = 1;
const NFTA_SET_ELEM_LIST_SET: u16 = 2;
const NFTA_SET_ELEM_LIST_ELEMENTS: u16 = 3;
const NFTA_LIST_ELEM: u16 = 1;
const NFTA_SET_ELEM_KEY: u16 = 1;
const NFTA_DATA_VALUE: u16 = 1;
const NLA_F_NESTED: u16 = 0x8000;

/// The nftables family number of a table family name.
pub fn family_number(family: &str) -> Option<u8> {
    match family {
        "inet" => Some(1),
        "ip" => Some(2),
        "ip6" => Some(10),
        _ => None,
    }
}

fn pad(buf: &mut Vec<u8>) {
    while !buf.len().is_multiple_of(4) {
        buf.push(0);
    }
}

/// One attribute (length, type, payload, padding).
fn attr(buf: &mut Vec<u8>, ty: u16, payload: &[u8]) {
    let len = u16::try_from(4 + payload.len()).unwrap_or(u16::MAX);
    buf.extend_from_slice(&len.to_ne_bytes());
    buf.extend_from_slice(&ty.to_ne_bytes());
    buf.extend_from_slice(payload);
    pad(buf);
}

/// A nested attribute holding what `fill` writes.
fn nested(buf: &mut Vec<u8>, ty: u16, fill: impl FnOnce(&mut Vec<u8>)) {
    let start = buf.len();
    buf.extend_from_slice(&[0; 4]);
    fill(buf);
    let len = u16::try_from(buf.len() - start).unwrap_or(u16::MAX);
    buf[start..start + 2].copy_from_slice(&len.to_ne_bytes());
    buf[start + 2..start + 4].copy_from_slice(&(ty | NLA_F_NESTED).to_ne_bytes());
}

/// One netlink message with an `nfgenmsg` header.
fn message(
    buf: &mut Vec<u8>,
    ty: u16,
    flags: u16,
    seq: u32,
    (family, res_id): (u8, u16),
    fill: impl FnOnce(&mut Vec<u8>),
) {
    let start = buf.len();
    buf.extend_from_slice(&[0; 4]);
    buf.extend_from_slice(&ty.to_ne_bytes());
    buf.extend_from_slice(&flags.to_ne_bytes());
    buf.extend_from_slice(&seq.to_ne_bytes());
    buf.extend_from_slice(&0u32.to_ne_bytes());
    buf.push(family);
    buf.push(0);
    buf.extend_from_slice(&res_id.to_be_bytes());
    fill(buf);
    pad(buf);
    let len = u32::try_from(buf.len() - start).unwrap_or(u32::MAX);
    buf[start..start + 4].copy_from_slice(&len.to_ne_bytes());
}

fn cstr(s: &str) -> Vec<u8> {
    let mut v = s.as_bytes().to_vec();
    v.push(0);
    v
}

/// The batch that applies `changes` to `table`: removals first, then additions. Returns the
/// bytes and the sequence numbers that are acknowledged.
fn batch(family: u8, table: &str, changes: &[SetChange]) -> (Vec<u8>, Vec<u32>) {
    let mut buf = Vec::new();
    let mut seq = 1u32;
    let mut acked = Vec::new();
    let subsys = (0u8, NFNL_SUBSYS_NFTABLES);
    message(
        &mut buf,
        NFNL_MSG_BATCH_BEGIN,
        NLM_F_REQUEST,
        seq,
        subsys,
        |_| {},
    );
    for (op, flags) in [
        (NFT_MSG_DELSETELEM, NLM_F_REQUEST | NLM_F_ACK),
        (NFT_MSG_NEWSETELEM, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE),
    ] {
        for c in changes {
            let elems = if op == NFT_MSG_DELSETELEM {
                &c.del
            } else {
                &c.add
            };
            if elems.is_empty() {
                continue;
            }
            seq += 1;
            acked.push(seq);
            message(
                &mut buf,
                NFNL_SUBSYS_NFTABLES << 8 | op,
                flags,
                seq,
                (family, 0),
                |b| {
                    attr(b, NFTA_SET_ELEM_LIST_TABLE, &cstr(table));
                    attr(b, NFTA_SET_ELEM_LIST_SET, &cstr(&c.set));
                    nested(b, NFTA_SET_ELEM_LIST_ELEMENTS, |b| {
                        for a in elems {
                            let key = match a {
                                IpAddr::V4(a) => a.octets().to_vec(),
                                IpAddr::V6(a) => a.octets().to_vec(),
                            };
                            nested(b, NFTA_LIST_ELEM, |b| {
                                nested(b, NFTA_SET_ELEM_KEY, |b| {
                                    attr(b, NFTA_DATA_VALUE, &key);
                                });
                            });
                        }
                    });
                },
            );
        }
    }
    seq += 1;
    message(
        &mut buf,
        NFNL_MSG_BATCH_END,
        NLM_F_REQUEST,
        seq,
        subsys,
        |_| {},
    );
    (buf, acked)
}

/// A netfilter netlink socket in the network namespace at `ns_path` (opened from a short-lived
/// thread that entered it; the socket stays in that namespace).
fn socket_in(ns_path: &Path) -> Result<OwnedFd, String> {
    std::thread::scope(|scope| {
        scope
            .spawn(|| -> Result<OwnedFd, String> {
                let f = std::fs::File::open(ns_path)
                    .map_err(|e| format!("cannot open {}: {e}", ns_path.display()))?;
                nix::sched::setns(&f, nix::sched::CloneFlags::CLONE_NEWNET)
                    .map_err(|e| format!("cannot enter the namespace: {e}"))?;
                let fd = socket::socket(
                    AddressFamily::Netlink,
                    socket::SockType::Raw,
                    SockFlag::SOCK_CLOEXEC,
                    SockProtocol::NetlinkNetFilter,
                )
                .map_err(|e| format!("cannot open a netlink socket: {e}"))?;
                socket::bind(fd.as_raw_fd(), &NetlinkAddr::new(0, 0))
                    .map_err(|e| format!("cannot bind the netlink socket: {e}"))?;
                let timeout = nix::sys::time::TimeVal::new(5, 0);
                socket::setsockopt(&fd, socket::sockopt::ReceiveTimeout, &timeout)
                    .map_err(|e| format!("cannot set the netlink timeout: {e}"))?;
                Ok(fd)
            })
            .join()
            .unwrap_or_else(|_| Err("the namespace thread panicked".into()))
    })
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_ne_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

/// Applies `changes` to the sets of `table` (family `family`) in the namespace at `ns_path`, as
/// one transaction. An error names the first message the kernel refused.
pub fn update_sets(
    ns_path: &Path,
    family: &str,
    table: &str,
    changes: &[SetChange],
) -> Result<(), String> {
    let family = family_number(family).ok_or_else(|| format!("unknown family {family}"))?;
    let (buf, acked) = batch(family, table, changes);
    if acked.is_empty() {
        return Ok(());
    }
    let fd = socket_in(ns_path)?;
    let sent = socket::send(fd.as_raw_fd(), &buf, MsgFlags::empty())
        .map_err(|e| format!("netlink send: {e}"))?;
    if sent != buf.len() {
        return Err(format!("netlink send: {sent} of {} bytes", buf.len()));
    }
    let mut pending: std::collections::BTreeSet<u32> = acked.into_iter().collect();
    let mut rbuf = vec![0u8; 1 << 16];
    while !pending.is_empty() {
        let n = socket::recv(fd.as_raw_fd(), &mut rbuf, MsgFlags::empty())
            .map_err(|e| format!("netlink receive: {e}"))?;
        let got = rbuf.get(..n).unwrap_or_default();
        let mut at = 0usize;
        while at + 16 <= got.len() {
            let (Some(len), Some(ty), Some(seq)) =
                (u32_at(got, at), u16_at(got, at + 4), u32_at(got, at + 8))
            else {
                break;
            };
            let len = usize::try_from(len).unwrap_or(0);
            if len < 16 {
                break;
            }
            if ty == NLMSG_ERROR {
                let code = got
                    .get(at + 16..at + 20)
                    .and_then(|b| b.try_into().ok())
                    .map_or(0, i32::from_ne_bytes);
                if code != 0 {
                    let errno = nix::errno::Errno::from_raw(-code);
                    return Err(format!(
                        "the kernel refused the set change (message {seq}): {errno}"
                    ));
                }
                pending.remove(&seq);
            } else if ty == NLMSG_DONE {
                pending.remove(&seq);
            }
            at += (len + 3) & !3;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_is_aligned_and_acks_each_set_message() {
        let changes = vec![
            SetChange {
                set: "rg4_x".into(),
                add: vec!["10.0.0.5".parse().unwrap()],
                del: vec!["10.0.0.6".parse().unwrap()],
            },
            SetChange {
                set: "rg6_x".into(),
                add: vec!["fd00::5".parse().unwrap()],
                del: vec![],
            },
        ];
        let (buf, acked) = batch(1, "localcloud", &changes);
        assert!(buf.len().is_multiple_of(4));
        // One delete, two adds; begin and end are not acknowledged.
        assert_eq!(acked, vec![2, 3, 4]);
        // The messages' lengths add up to the buffer.
        let mut at = 0;
        let mut n = 0;
        while at < buf.len() {
            at += u32_at(&buf, at).unwrap() as usize;
            n += 1;
        }
        assert_eq!((at, n), (buf.len(), 5));
        // The address bytes are in network order.
        assert!(buf.windows(4).any(|w| w == [10, 0, 0, 5]));
    }
}
