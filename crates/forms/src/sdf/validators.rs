//! Checks of single values by type: numbers and lengths, FQDNs, IP addresses and networks,
//! URIs and their schemes, e-mail addresses, passwords; and password generation.

use std::net::IpAddr;

use super::eval::FieldError;
use super::{SdfValue, VarType};

/// Checks a value (already coerced to the type's shape) against its variable type. `OneOf`,
/// `Some` and `Section` are checked by the evaluator.
///
/// # Errors
/// The first rule the value breaks.
pub fn check(ty: &VarType, v: &SdfValue) -> Result<(), FieldError> {
    match ty {
        VarType::Number {
            minimum,
            maximum,
            integer,
        } => {
            let n = match v {
                SdfValue::Int(i) => {
                    #[allow(clippy::cast_precision_loss)]
                    let f = *i as f64;
                    f
                }
                SdfValue::Float(f) if f.is_finite() => {
                    if *integer && f.fract() != 0.0 {
                        return Err(FieldError::NotInteger);
                    }
                    *f
                }
                _ => return Err(FieldError::WrongType("a number")),
            };
            if let Some(m) = minimum.filter(|m| n < *m) {
                return Err(FieldError::BelowMinimum(m));
            }
            if let Some(m) = maximum.filter(|m| n > *m) {
                return Err(FieldError::AboveMaximum(m));
            }
            Ok(())
        }
        VarType::String {
            min_length,
            max_length,
            regex,
            ..
        } => {
            let s = text(v)?;
            lengths(s, *min_length, *max_length)?;
            match regex {
                Some(p) if !p.is_match(s) => Err(FieldError::PatternMismatch(p.source.clone())),
                _ => Ok(()),
            }
        }
        VarType::Password {
            min_length,
            max_length,
            regex,
        } => {
            let s = text(v)?;
            lengths(s, *min_length, *max_length)?;
            match regex {
                Some(p) if !p.is_match(s) => Err(FieldError::PatternMismatch(p.source.clone())),
                _ => Ok(()),
            }
        }
        VarType::DomainName => {
            let s = text(v)?;
            domain_name(s).map_err(FieldError::Invalid)
        }
        VarType::Email => email(text(v)?).map_err(FieldError::Invalid),
        VarType::IpAddress { versions, network } => {
            ip(text(v)?, versions, *network).map_err(FieldError::Invalid)
        }
        VarType::Uri {
            schemes,
            max_length,
        } => {
            let s = text(v)?;
            lengths(s, 0, *max_length)?;
            uri(s, schemes).map_err(FieldError::Invalid)
        }
        VarType::ServiceOffering { .. } => {
            let s = text(v)?;
            if s.trim().is_empty() {
                Err(FieldError::Required)
            } else {
                Ok(())
            }
        }
        VarType::OneOf { .. } | VarType::Some { .. } | VarType::Section => Ok(()),
    }
}

fn text(v: &SdfValue) -> Result<&str, FieldError> {
    v.as_str().ok_or(FieldError::WrongType("text"))
}

fn lengths(s: &str, min: u64, max: u64) -> Result<(), FieldError> {
    let n = s.chars().count() as u64;
    if n < min {
        Err(FieldError::TooShort(min))
    } else if n > max {
        Err(FieldError::TooLong(max))
    } else {
        Ok(())
    }
}

/// A fully qualified domain name: two or more labels of letters, digits and inner hyphens,
/// each 1–63 characters, 253 in all, a final dot allowed, the last label not all digits.
///
/// # Errors
/// What is wrong, for the user.
pub fn domain_name(s: &str) -> Result<(), String> {
    let name = s.strip_suffix('.').unwrap_or(s);
    if name.is_empty() || name.len() > 253 {
        return Err(format!("`{s}` is not a domain name (1 to 253 characters)"));
    }
    let labels: Vec<&str> = name.split('.').collect();
    if labels.len() < 2 {
        return Err(format!(
            "`{s}` is not a fully qualified domain name (write it with its domain, like `www.example.com`)"
        ));
    }
    for l in &labels {
        let ok = !l.is_empty()
            && l.len() <= 63
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-');
        if !ok {
            return Err(format!(
                "`{s}` is not a domain name: each label has 1 to 63 letters, digits or inner hyphens"
            ));
        }
    }
    if labels
        .last()
        .is_some_and(|t| t.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(format!(
            "`{s}` is not a domain name (its last label is a number)"
        ));
    }
    Ok(())
}

/// `local@domain`: a dot-atom local part of at most 64 characters and a domain name.
///
/// # Errors
/// What is wrong, for the user.
pub fn email(s: &str) -> Result<(), String> {
    let bad = || format!("`{s}` is not an e-mail address (like `name@example.com`)");
    let (local, domain) = s.rsplit_once('@').ok_or_else(bad)?;
    let atext = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+/=?^_`{|}~-".contains(&b);
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && local
            .split('.')
            .all(|p| !p.is_empty() && p.bytes().all(atext));
    if !local_ok {
        return Err(bad());
    }
    domain_name(domain).map_err(|_| bad())
}

/// A host address, or a network `ip/prefix` when `network`, of an allowed version.
///
/// # Errors
/// What is wrong, for the user.
pub fn ip(s: &str, versions: &[u8], network: bool) -> Result<(), String> {
    let (addr, prefix) = match s.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (s, None),
    };
    let parsed: IpAddr = addr
        .parse()
        .map_err(|_| format!("`{s}` is not an IP address"))?;
    let version = if parsed.is_ipv4() { 4 } else { 6 };
    if !versions.is_empty() && !versions.contains(&version) {
        let allowed = versions
            .iter()
            .map(|v| format!("IPv{v}"))
            .collect::<Vec<_>>()
            .join(" or ");
        return Err(format!("`{s}` is IPv{version}; {allowed} is asked"));
    }
    match (network, prefix) {
        (true, None) => Err(format!(
            "`{s}` needs a prefix: write a network as `ip/prefix`"
        )),
        (false, Some(_)) => Err(format!("`{s}` is a network; a host address is asked")),
        (true, Some(p)) => {
            let max = if version == 4 { 32 } else { 128 };
            match p.parse::<u8>() {
                Ok(n) if n <= max && !p.starts_with('+') => Ok(()),
                _ => Err(format!("`{s}`: the prefix must be 0 to {max}")),
            }
        }
        (false, None) => Ok(()),
    }
}

/// Whether `s` is a URI scheme by RFC 3986: a letter, then letters, digits, `+`, `-`, `.`.
pub fn is_scheme(s: &str) -> bool {
    let mut b = s.bytes();
    b.next().is_some_and(|c| c.is_ascii_alphabetic())
        && b.all(|c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.'))
}

/// `scheme://[user[:password]@]host[:port][/path][?query][#fragment]` with an allowed scheme.
///
/// # Errors
/// What is wrong, for the user.
pub fn uri(s: &str, schemes: &[String]) -> Result<(), String> {
    let bad = || format!("`{s}` is not a URL (like `https://host.example.com/path`)");
    let (scheme, rest) = s.split_once("://").ok_or_else(bad)?;
    if !is_scheme(scheme) {
        return Err(bad());
    }
    if !schemes.is_empty() && !schemes.iter().any(|a| a.eq_ignore_ascii_case(scheme)) {
        return Err(format!(
            "the scheme `{scheme}` is not allowed here (allowed: {})",
            schemes.join(", ")
        ));
    }
    if s.bytes().any(|b| b.is_ascii_control() || b == b' ') {
        return Err(bad());
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let (host, port) = if let Some(v6) = host_port.strip_prefix('[') {
        let (h, after) = v6.split_once(']').ok_or_else(bad)?;
        if h.parse::<std::net::Ipv6Addr>().is_err() {
            return Err(bad());
        }
        (h, after.strip_prefix(':'))
    } else {
        match host_port.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (host_port, None),
        }
    };
    if host.is_empty() {
        return Err(bad());
    }
    if let Some(p) = port {
        if !p.is_empty() && p.parse::<u16>().is_err() {
            return Err(format!("`{s}`: the port must be a number up to 65535"));
        }
    }
    Ok(())
}

/// A password of `length` characters from letters and digits, or `None` when the variable
/// has a validator (the seed: generation works only without one) or is not a password.
pub fn generate_password(ty: &VarType, rng: &mut impl rand::Rng) -> Option<String> {
    let VarType::Password {
        min_length,
        max_length,
        regex,
    } = ty
    else {
        return None;
    };
    if regex.is_some() {
        return None;
    }
    let len = (*max_length).clamp(*min_length, 32).max(*min_length);
    let len = usize::try_from(len).ok()?;
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
    let mut out = String::with_capacity(len);
    for _ in 0..len {
        let i = rng.gen_range(0..ALPHABET.len());
        out.push(char::from(*ALPHABET.get(i)?));
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domain_names() {
        assert!(domain_name("example.com").is_ok());
        assert!(domain_name("www.example.com.").is_ok());
        assert!(domain_name("localhost").is_err());
        assert!(domain_name("-a.com").is_err());
        assert!(domain_name("a..com").is_err());
        assert!(domain_name("1.2.3.4").is_err());
        assert!(domain_name(&format!("{}.com", "a".repeat(64))).is_err());
    }

    #[test]
    fn emails() {
        assert!(email("a.b+c@example.com").is_ok());
        assert!(email("a@b").is_err());
        assert!(email("@example.com").is_err());
        assert!(email("a..b@example.com").is_err());
    }

    #[test]
    fn ips() {
        assert!(ip("10.0.0.1", &[4], false).is_ok());
        assert!(ip("10.0.0.0/8", &[4], true).is_ok());
        assert!(ip("10.0.0.0/33", &[4], true).is_err());
        assert!(ip("10.0.0.1", &[4], true).is_err());
        assert!(ip("::1", &[4], false).is_err());
        assert!(ip("::/0", &[4, 6], true).is_ok());
        assert!(ip("10.0.0.0/8", &[4], false).is_err());
    }

    #[test]
    fn uris() {
        let web = vec!["http".to_owned(), "https".to_owned()];
        assert!(uri("https://user:pw@host.com:8443/a?b#c", &web).is_ok());
        assert!(uri("ftp://host.com/", &web).is_err());
        assert!(uri("https://", &web).is_err());
        assert!(uri("https://h:99999/", &web).is_err());
        assert!(uri("https://[::1]:80/", &web).is_ok());
        assert!(uri("not a url", &[]).is_err());
        assert!(is_scheme("svn+ssh") && !is_scheme("1http") && !is_scheme("ht tp"));
    }

    #[test]
    fn generated_passwords_fit_their_field() {
        let ty = VarType::Password {
            min_length: 5,
            max_length: 16,
            regex: None,
        };
        let mut rng = rand::thread_rng();
        let p = generate_password(&ty, &mut rng).unwrap();
        assert_eq!(p.chars().count(), 16);
        assert!(check(&ty, &SdfValue::String(p)).is_ok());
        let with_validator = VarType::Password {
            min_length: 5,
            max_length: 16,
            regex: Some(super::super::Pattern::new("^[0-9]+$")),
        };
        assert_eq!(generate_password(&with_validator, &mut rng), None);
    }
}
