//! A newtype per kind of ID, so a host name is never passed where a deployment is expected.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize};

/// Why a string is not a valid ID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdError {
    /// Not a UUID.
    NotUuid(String),
    /// Empty, too long, or with characters outside `[A-Za-z0-9._-]`.
    BadHostName(String),
}

impl fmt::Display for IdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IdError::NotUuid(s) => write!(f, "`{s}` is not a UUID"),
            IdError::BadHostName(s) => write!(
                f,
                "`{s}` is not a host name: use 1 to {MAX_HOST_NAME} characters from `A-Z a-z 0-9 . _ -`"
            ),
        }
    }
}

impl std::error::Error for IdError {}

/// A deployment's ID: the manifest's `instance_uuid` (`ivkcs_*` resources' `uuid`).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct DeploymentId(uuid::Uuid);

impl DeploymentId {
    pub fn new_v4() -> Self {
        DeploymentId(uuid::Uuid::new_v4())
    }
    pub fn as_uuid(&self) -> &uuid::Uuid {
        &self.0
    }
}

impl FromStr for DeploymentId {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        uuid::Uuid::parse_str(s.trim())
            .map(DeploymentId)
            .map_err(|_| IdError::NotUuid(s.to_owned()))
    }
}

impl fmt::Display for DeploymentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

impl fmt::Debug for DeploymentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DeploymentId({})", self.0.hyphenated())
    }
}

impl<'de> Deserialize<'de> for DeploymentId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Longest host name accepted (a DNS label set is 253 characters).
pub const MAX_HOST_NAME: usize = 253;

/// A host of a deployment, as named in the manifest's `hosts` lists.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct HostName(String);

impl HostName {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for HostName {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let ok = !s.is_empty()
            && s.len() <= MAX_HOST_NAME
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        if ok {
            Ok(HostName(s.to_owned()))
        } else {
            Err(IdError::BadHostName(s.chars().take(80).collect()))
        }
    }
}

impl fmt::Display for HostName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for HostName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HostName({})", self.0)
    }
}

impl<'de> Deserialize<'de> for HostName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_parse_and_refuse() {
        let d: DeploymentId = "6f1c4f51-0d0b-4a55-9d4e-1b6b0b3f0a11"
            .parse()
            .expect("uuid");
        assert_eq!(d.to_string(), "6f1c4f51-0d0b-4a55-9d4e-1b6b0b3f0a11");
        assert!("nope".parse::<DeploymentId>().is_err());
        let h: HostName = "abc-kv-1".parse().expect("host");
        assert_eq!(h.as_str(), "abc-kv-1");
        assert!("a/b".parse::<HostName>().is_err());
        assert!("".parse::<HostName>().is_err());
        let j: HostName = serde_json::from_str("\"n1\"").expect("json");
        assert_eq!(j.to_string(), "n1");
        assert!(serde_json::from_str::<HostName>("\"../x\"").is_err());
    }
}
