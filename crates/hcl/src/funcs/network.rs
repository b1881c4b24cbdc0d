//! IP network functions (IPv4 and IPv6).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::{int_arg, str_arg, FResult, FuncError};
use crate::eval::EvalContext;
use crate::value::Value;

/// A parsed CIDR prefix: the network address as an integer, its prefix length and address width.
struct Cidr {
    addr: u128,
    len: u32,
    bits: u32,
}

fn parse_cidr(s: &str, arg: usize) -> Result<Cidr, FuncError> {
    let bad = || FuncError::arg(arg, format!("invalid CIDR prefix {s:?}"));
    let (ip, len) = s.split_once('/').ok_or_else(bad)?;
    let ip: IpAddr = parse_ip(ip).ok_or_else(bad)?;
    let len: u32 = len.parse().map_err(|_| bad())?;
    let (addr, bits) = match ip {
        IpAddr::V4(v4) => (u128::from(u32::from(v4)), 32),
        IpAddr::V6(v6) => (u128::from(v6), 128),
    };
    if len > bits {
        return Err(bad());
    }
    let host_bits = bits - len;
    let mask = if host_bits >= 128 {
        0
    } else {
        !((1u128 << host_bits) - 1)
    };
    Ok(Cidr {
        addr: addr & mask & width_mask(bits),
        len,
        bits,
    })
}

/// An IP address; IPv4 octets with leading zeros are read as decimal (`010.001.0.0` is
/// `10.1.0.0`), as the `cidrhost`/`cidrsubnet` documentation says Terraform does "as a historical
/// accident" (<https://developer.hashicorp.com/terraform/language/functions/cidrsubnet>).
fn parse_ip(s: &str) -> Option<IpAddr> {
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Some(ip);
    }
    let mut octets = [0u8; 4];
    let mut parts = s.split('.');
    for o in &mut octets {
        let part = parts.next()?;
        if part.is_empty() || part.len() > 8 || !part.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        *o = part.parse::<u8>().ok()?;
    }
    if parts.next().is_some() {
        return None;
    }
    Some(IpAddr::V4(Ipv4Addr::from(octets)))
}

fn width_mask(bits: u32) -> u128 {
    if bits >= 128 {
        u128::MAX
    } else {
        (1u128 << bits) - 1
    }
}

fn format_addr(addr: u128, bits: u32) -> String {
    if bits == 32 {
        let v = u32::try_from(addr & width_mask(32)).unwrap_or(0);
        Ipv4Addr::from(v).to_string()
    } else {
        Ipv6Addr::from(addr).to_string()
    }
}

pub(crate) fn cidrhost(_: &EvalContext, a: Vec<Value>) -> FResult {
    let c = parse_cidr(str_arg(&a, 0)?, 0)?;
    let hostnum = int_arg(&a, 1)?;
    let host_bits = c.bits - c.len;
    let size: u128 = if host_bits >= 128 {
        u128::MAX
    } else {
        1u128 << host_bits
    };
    let offset: u128 = if hostnum < 0 {
        let back = u128::from(hostnum.unsigned_abs());
        if back > size {
            return Err(FuncError::arg(
                1,
                format!(
                    "prefix of {} bits cannot accommodate a host numbered {hostnum}",
                    c.len
                ),
            ));
        }
        size - back
    } else {
        let n = u128::from(hostnum.unsigned_abs());
        if n >= size {
            return Err(FuncError::arg(
                1,
                format!(
                    "prefix of {} bits cannot accommodate a host numbered {hostnum}",
                    c.len
                ),
            ));
        }
        n
    };
    Ok(Value::String(format_addr(c.addr + offset, c.bits)))
}

pub(crate) fn cidrnetmask(_: &EvalContext, a: Vec<Value>) -> FResult {
    let c = parse_cidr(str_arg(&a, 0)?, 0)?;
    if c.bits != 32 {
        return Err(FuncError::arg(0, "only IPv4 prefixes have a netmask"));
    }
    let mask: u32 = if c.len == 0 {
        0
    } else {
        u32::MAX << (32 - c.len)
    };
    Ok(Value::String(Ipv4Addr::from(mask).to_string()))
}

fn subnet(c: &Cidr, newbits: i64, netnum: i64) -> Result<(u128, u32), FuncError> {
    let newbits = u32::try_from(newbits).map_err(|_| FuncError::arg(1, "must not be negative"))?;
    let new_len = c.len.saturating_add(newbits);
    if new_len > c.bits {
        return Err(FuncError::arg(
            1,
            format!(
                "not enough remaining address space for a subnet with a prefix of {new_len} bits after {}",
                format_addr(c.addr, c.bits)
            ),
        ));
    }
    let netnum = u128::try_from(netnum).map_err(|_| FuncError::arg(2, "must not be negative"))?;
    if newbits < 128 && netnum >= (1u128 << newbits) {
        return Err(FuncError::arg(
            2,
            format!("prefix extension of {newbits} bits does not accommodate a subnet numbered {netnum}"),
        ));
    }
    let shift = c.bits - new_len;
    let offset = if shift >= 128 { 0 } else { netnum << shift };
    Ok((c.addr | offset, new_len))
}

pub(crate) fn cidrsubnet(_: &EvalContext, a: Vec<Value>) -> FResult {
    let c = parse_cidr(str_arg(&a, 0)?, 0)?;
    let (addr, len) = subnet(&c, int_arg(&a, 1)?, int_arg(&a, 2)?)?;
    Ok(Value::String(format!(
        "{}/{len}",
        format_addr(addr, c.bits)
    )))
}

pub(crate) fn cidrsubnets(_: &EvalContext, a: Vec<Value>) -> FResult {
    let c = parse_cidr(str_arg(&a, 0)?, 0)?;
    let host_bits = c.bits - c.len;
    let end = if host_bits >= 128 {
        u128::MAX
    } else {
        c.addr + ((1u128 << host_bits) - 1)
    };
    let mut next = c.addr;
    let mut out = Vec::new();
    let mut exhausted = false;
    for i in 1..a.len() {
        let newbits = int_arg(&a, i)?;
        let newbits =
            u32::try_from(newbits).map_err(|_| FuncError::arg(i, "must not be negative"))?;
        let new_len = c.len.saturating_add(newbits);
        if newbits == 0 || new_len > c.bits {
            return Err(FuncError::arg(
                i,
                format!("would extend the prefix to {new_len} bits, which is not valid"),
            ));
        }
        let size: u128 = 1u128 << (c.bits - new_len).min(127);
        // Align up to the subnet size.
        let aligned = next.div_ceil(size).checked_mul(size);
        let start = match aligned {
            Some(s) if !exhausted && s <= end && s.checked_add(size - 1).is_some_and(|e| e <= end) => s,
            _ => {
                return Err(FuncError::arg(
                    i,
                    format!(
                        "not enough remaining address space for a subnet with a prefix of {new_len} bits"
                    ),
                ))
            }
        };
        out.push(Value::String(format!(
            "{}/{new_len}",
            format_addr(start, c.bits)
        )));
        match start.checked_add(size) {
            Some(n) => next = n,
            None => exhausted = true,
        }
    }
    Ok(Value::List(out))
}
