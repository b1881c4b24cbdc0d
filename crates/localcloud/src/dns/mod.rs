//! An authoritative DNS server (UDP, RFC 1035) for the A records `ivkcs_dns` creates.
//!
//! It answers `A` (and `ANY`) questions for the names it holds, `NOERROR` with no answer for
//! other types of a held name, `NXDOMAIN` for unknown names under a domain it holds records in,
//! and `REFUSED` for everything else (it does not recurse: a VM's resolver list keeps a recursive
//! server after it). Records live in `DATA/dns/records.json`.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

/// Seconds a resolver may cache an answer.
pub const TTL: u32 = 60;

#[derive(Debug, thiserror::Error)]
pub enum DnsError {
    #[error("`{0}` is not a DNS name: labels of 1 to 63 letters, digits and `-`, at least two labels, 253 characters at most")]
    BadName(String),
    #[error("cannot use the DNS records file {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// The records, kept in memory and written through to a file.
pub struct DnsZone {
    file: PathBuf,
    records: RwLock<BTreeMap<String, Ipv4Addr>>,
}

/// Lower-cases and checks a name (a trailing dot is allowed and dropped).
pub fn normalize(name: &str) -> Result<String, DnsError> {
    let n = name.trim_end_matches('.').to_ascii_lowercase();
    let labels: Vec<&str> = n.split('.').collect();
    let ok = n.len() <= 253
        && labels.len() >= 2
        && labels.iter().all(|l| {
            (1..=63).contains(&l.len())
                && l.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        });
    if ok {
        Ok(n)
    } else {
        Err(DnsError::BadName(name.to_owned()))
    }
}

impl DnsZone {
    pub fn open(dir: &Path) -> Result<Arc<DnsZone>, DnsError> {
        let io = |source| DnsError::Io {
            path: dir.to_owned(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(io)?;
        let file = dir.join("records.json");
        let records = match std::fs::read(&file) {
            Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_default(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
            Err(e) => {
                return Err(DnsError::Io {
                    path: file.clone(),
                    source: e,
                })
            }
        };
        Ok(Arc::new(DnsZone {
            file,
            records: RwLock::new(records),
        }))
    }

    fn save(&self, records: &BTreeMap<String, Ipv4Addr>) -> Result<(), DnsError> {
        let bytes = serde_json::to_vec_pretty(records).unwrap_or_default();
        let tmp = self
            .file
            .with_extension(format!("tmp-{}", uuid::Uuid::new_v4().simple()));
        let io = |source| DnsError::Io {
            path: self.file.clone(),
            source,
        };
        std::fs::write(&tmp, bytes).map_err(io)?;
        std::fs::rename(&tmp, &self.file).map_err(io)
    }

    /// Sets the A record of `name`.
    pub fn set(&self, name: &str, ip: Ipv4Addr) -> Result<String, DnsError> {
        let n = normalize(name)?;
        let mut g = self
            .records
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        g.insert(n.clone(), ip);
        self.save(&g)?;
        Ok(n)
    }

    /// Removes the record of `name` (nothing when there is none).
    pub fn remove(&self, name: &str) -> Result<(), DnsError> {
        let n = normalize(name)?;
        let mut g = self
            .records
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if g.remove(&n).is_some() {
            self.save(&g)?;
        }
        Ok(())
    }

    pub fn get(&self, name: &str) -> Option<Ipv4Addr> {
        self.records
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(name)
            .copied()
    }

    /// Whether `name` is at or below the parent domain of a record held.
    fn in_zone(&self, name: &str) -> bool {
        let g = self
            .records
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        g.keys().any(|k| {
            let parent = k.split_once('.').map(|(_, p)| p).unwrap_or(k);
            name == parent || name.ends_with(&format!(".{parent}"))
        })
    }

    /// The answer to one query datagram; `None` when it is not worth answering (too short to
    /// carry an id, or itself a response).
    pub fn answer(&self, query: &[u8]) -> Option<Vec<u8>> {
        let header = query.get(..12)?;
        let id = [header[0], header[1]];
        let flags = u16::from_be_bytes([header[2], header[3]]);
        if flags & 0x8000 != 0 {
            return None;
        }
        let opcode = (flags >> 11) & 0xF;
        let rd = flags & 0x0100;
        let qdcount = u16::from_be_bytes([header[4], header[5]]);
        let reply = |rcode: u16, question: &[u8], answers: &[[u8; 4]]| {
            let mut out = Vec::with_capacity(512);
            out.extend_from_slice(&id);
            // QR, the opcode, AA, RD copied, RA = 0.
            let f = 0x8000 | (opcode << 11) | 0x0400 | rd | rcode;
            out.extend_from_slice(&f.to_be_bytes());
            out.extend_from_slice(&u16::from(!question.is_empty()).to_be_bytes());
            out.extend_from_slice(&u16::try_from(answers.len()).unwrap_or(0).to_be_bytes());
            out.extend_from_slice(&[0, 0, 0, 0]);
            out.extend_from_slice(question);
            for ip in answers {
                // The name is a pointer to the question's (offset 12).
                out.extend_from_slice(&[0xC0, 0x0C, 0, 1, 0, 1]);
                out.extend_from_slice(&TTL.to_be_bytes());
                out.extend_from_slice(&[0, 4]);
                out.extend_from_slice(ip);
            }
            out
        };
        if opcode != 0 {
            return Some(reply(4, &[], &[])); // NOTIMP
        }
        if qdcount != 1 {
            return Some(reply(1, &[], &[])); // FORMERR
        }
        // QNAME: labels without compression (a question has nothing to point at).
        let mut pos = 12;
        let mut labels: Vec<String> = Vec::new();
        loop {
            let len = usize::from(*query.get(pos)?);
            pos += 1;
            if len == 0 {
                break;
            }
            if len > 63 {
                return Some(reply(1, &[], &[]));
            }
            let label = query.get(pos..pos + len)?;
            labels.push(String::from_utf8_lossy(label).to_ascii_lowercase());
            pos += len;
            if pos > 12 + 255 {
                return Some(reply(1, &[], &[]));
            }
        }
        let Some(tail) = query.get(pos..pos + 4) else {
            return Some(reply(1, &[], &[]));
        };
        let qtype = u16::from_be_bytes([tail[0], tail[1]]);
        let qclass = u16::from_be_bytes([tail[2], tail[3]]);
        let question = &query[12..pos + 4];
        let name = labels.join(".");
        if qclass != 1 && qclass != 255 {
            return Some(reply(5, question, &[])); // REFUSED
        }
        match self.get(&name) {
            Some(ip) if qtype == 1 || qtype == 255 => Some(reply(0, question, &[ip.octets()])),
            Some(_) => Some(reply(0, question, &[])),
            None if self.in_zone(&name) => Some(reply(3, question, &[])), // NXDOMAIN
            None => Some(reply(5, question, &[])),
        }
    }
}

/// Answers queries on `socket` until the task is dropped.
pub async fn serve(socket: tokio::net::UdpSocket, zone: Arc<DnsZone>) {
    let mut buf = vec![0u8; 4096];
    loop {
        let (n, from) = match socket.recv_from(&mut buf).await {
            Ok(x) => x,
            Err(e) => {
                tracing::debug!(error = %e, "dns: receive failed");
                continue;
            }
        };
        if let Some(reply) = buf.get(..n).and_then(|q| zone.answer(q)) {
            let _ = socket.send_to(&reply, from).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(name: &str, qtype: u16) -> Vec<u8> {
        let mut q = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
        for l in name.split('.') {
            q.push(u8::try_from(l.len()).expect("label"));
            q.extend_from_slice(l.as_bytes());
        }
        q.push(0);
        q.extend_from_slice(&qtype.to_be_bytes());
        q.extend_from_slice(&[0, 1]);
        q
    }

    #[test]
    fn answers_a_nodata_nxdomain_and_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let z = DnsZone::open(dir.path()).expect("open");
        z.set(
            "Node1.Kafka.xaas.msk.vkcs.cloud.",
            Ipv4Addr::new(10, 0, 0, 5),
        )
        .expect("set");
        let a = z
            .answer(&query("node1.kafka.xaas.msk.vkcs.cloud", 1))
            .expect("answer");
        assert_eq!(&a[..2], &[0x12, 0x34]);
        assert_eq!(a[3] & 0xF, 0, "NOERROR");
        assert_eq!(u16::from_be_bytes([a[6], a[7]]), 1, "one answer");
        assert_eq!(&a[a.len() - 4..], &[10, 0, 0, 5]);
        let aaaa = z
            .answer(&query("node1.kafka.xaas.msk.vkcs.cloud", 28))
            .expect("answer");
        assert_eq!((aaaa[3] & 0xF, aaaa[7]), (0, 0), "NODATA");
        let nx = z
            .answer(&query("node2.kafka.xaas.msk.vkcs.cloud", 1))
            .expect("answer");
        assert_eq!(nx[3] & 0xF, 3, "NXDOMAIN");
        let other = z.answer(&query("example.org", 1)).expect("answer");
        assert_eq!(other[3] & 0xF, 5, "REFUSED");
        assert_eq!(z.answer(&[1, 2, 3]), None);
        // Kept across a restart.
        let again = DnsZone::open(dir.path()).expect("reopen");
        assert_eq!(
            again.get("node1.kafka.xaas.msk.vkcs.cloud"),
            Some(Ipv4Addr::new(10, 0, 0, 5))
        );
        assert!(normalize("bad_name.example").is_err());
        assert!(normalize("single").is_err());
    }
}
