//! AWS Signature Version 4 for S3, checked on the server side: the `Authorization` header form
//! (`AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…`) with `x-amz-date` and
//! `x-amz-content-sha256`. Presigned URLs and signed streaming chunks are not accepted.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

/// How far a request's `x-amz-date` may be from the server's clock (S3 allows 15 minutes).
pub const MAX_SKEW_SECS: i64 = 15 * 60;

/// The parts of an `Authorization` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthHeader {
    pub access_key: String,
    pub date: String,
    pub region: String,
    pub service: String,
    pub signed_headers: Vec<String>,
    pub signature: String,
}

/// Why a request is refused, with S3's error code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SigError {
    /// No or malformed `Authorization`.
    Malformed(String),
    /// The signature does not match.
    Mismatch,
    /// `x-amz-date` too far from now.
    Skewed,
}

pub fn parse_authorization(value: &str) -> Result<AuthHeader, SigError> {
    let rest = value
        .strip_prefix("AWS4-HMAC-SHA256 ")
        .ok_or_else(|| SigError::Malformed("only AWS4-HMAC-SHA256 is supported".into()))?;
    let (mut credential, mut signed, mut signature) = (None, None, None);
    for part in rest.split(',') {
        let part = part.trim();
        if let Some(v) = part.strip_prefix("Credential=") {
            credential = Some(v);
        } else if let Some(v) = part.strip_prefix("SignedHeaders=") {
            signed = Some(v);
        } else if let Some(v) = part.strip_prefix("Signature=") {
            signature = Some(v);
        }
    }
    let (Some(credential), Some(signed), Some(signature)) = (credential, signed, signature) else {
        return Err(SigError::Malformed(
            "Authorization needs Credential, SignedHeaders and Signature".into(),
        ));
    };
    let scope: Vec<&str> = credential.split('/').collect();
    let [access_key, date, region, service, "aws4_request"] = scope.as_slice() else {
        return Err(SigError::Malformed(
            "Credential must be KEY/DATE/REGION/SERVICE/aws4_request".into(),
        ));
    };
    let signed_headers: Vec<String> = signed.split(';').map(str::to_ascii_lowercase).collect();
    if !signed_headers.iter().any(|h| h == "host") {
        return Err(SigError::Malformed("the host header must be signed".into()));
    }
    Ok(AuthHeader {
        access_key: (*access_key).to_owned(),
        date: (*date).to_owned(),
        region: (*region).to_owned(),
        service: (*service).to_owned(),
        signed_headers,
        signature: signature.to_ascii_lowercase(),
    })
}

/// RFC 3986 percent-encoding of everything but unreserved characters (SigV4's `UriEncode`).
pub fn uri_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Decodes `%XX` escapes (and `+` as a literal plus, as S3 does in paths and queries).
pub fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// The query's parameters, decoded, in the order given.
pub fn query_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (
                percent_decode(k).unwrap_or_else(|| k.to_owned()),
                percent_decode(v).unwrap_or_else(|| v.to_owned()),
            )
        })
        .collect()
}

fn canonical_query(query: &str) -> String {
    let mut pairs: Vec<(String, String)> = query_pairs(query)
        .into_iter()
        .map(|(k, v)| (uri_encode(&k), uri_encode(&v)))
        .collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    // HMAC accepts keys of any length.
    let mut mac = match HmacSha256::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => return Vec::new(),
    };
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

/// What a request looks like to the signature check.
pub struct Request<'a> {
    pub method: &'a str,
    /// The path exactly as the client sent it (still percent-encoded).
    pub raw_path: &'a str,
    pub raw_query: &'a str,
    /// `(lower-case name, value)` of every header.
    pub headers: &'a [(String, String)],
}

impl Request<'_> {
    fn header(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

fn collapse(v: &str) -> String {
    v.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The signature SigV4 expects for `req` with `secret`.
pub fn expected_signature(req: &Request<'_>, auth: &AuthHeader, secret: &str) -> String {
    let amz_date = req.header("x-amz-date").first().copied().unwrap_or("");
    let payload = req
        .header("x-amz-content-sha256")
        .first()
        .copied()
        .unwrap_or("UNSIGNED-PAYLOAD");
    let mut canonical_headers = String::new();
    for name in &auth.signed_headers {
        let values: Vec<String> = req.header(name).iter().map(|v| collapse(v)).collect();
        canonical_headers.push_str(&format!("{name}:{}\n", values.join(",")));
    }
    let canonical = format!(
        "{}\n{}\n{}\n{}\n{}\n{}",
        req.method,
        req.raw_path,
        canonical_query(req.raw_query),
        canonical_headers,
        auth.signed_headers.join(";"),
        payload
    );
    let scope = format!(
        "{}/{}/{}/aws4_request",
        auth.date, auth.region, auth.service
    );
    let to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        hex::encode(Sha256::digest(canonical.as_bytes()))
    );
    let k_date = hmac(format!("AWS4{secret}").as_bytes(), auth.date.as_bytes());
    let k_region = hmac(&k_date, auth.region.as_bytes());
    let k_service = hmac(&k_region, auth.service.as_bytes());
    let k_signing = hmac(&k_service, b"aws4_request");
    hex::encode(hmac(&k_signing, to_sign.as_bytes()))
}

/// Equal without revealing where they differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Checks the signature and the date; `now` is unix seconds.
pub fn verify(
    req: &Request<'_>,
    auth: &AuthHeader,
    secret: &str,
    now: i64,
) -> Result<(), SigError> {
    let amz_date = req
        .header("x-amz-date")
        .first()
        .copied()
        .ok_or_else(|| SigError::Malformed("x-amz-date is required".into()))?;
    let when = chrono::NaiveDateTime::parse_from_str(amz_date, "%Y%m%dT%H%M%SZ")
        .map_err(|_| SigError::Malformed("x-amz-date must be YYYYMMDDTHHMMSSZ".into()))?
        .and_utc()
        .timestamp();
    if !amz_date.starts_with(&auth.date) {
        return Err(SigError::Malformed(
            "the credential's date is not x-amz-date's".into(),
        ));
    }
    if (now - when).abs() > MAX_SKEW_SECS {
        return Err(SigError::Skewed);
    }
    if !auth.signed_headers.iter().any(|h| h == "x-amz-date") {
        return Err(SigError::Malformed("x-amz-date must be signed".into()));
    }
    let expected = expected_signature(req, auth, secret);
    if constant_time_eq(expected.as_bytes(), auth.signature.as_bytes()) {
        Ok(())
    } else {
        Err(SigError::Mismatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// AWS's documented example: "GET Object" of the SigV4 S3 examples
    /// (examplebucket, AKIAIOSFODNN7EXAMPLE, 20130524).
    #[test]
    fn aws_documented_get_object_example() {
        let headers = vec![
            (
                "host".to_owned(),
                "examplebucket.s3.amazonaws.com".to_owned(),
            ),
            ("range".to_owned(), "bytes=0-9".to_owned()),
            (
                "x-amz-content-sha256".to_owned(),
                "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855".to_owned(),
            ),
            ("x-amz-date".to_owned(), "20130524T000000Z".to_owned()),
        ];
        let req = Request {
            method: "GET",
            raw_path: "/test.txt",
            raw_query: "",
            headers: &headers,
        };
        let auth = parse_authorization(
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41",
        )
        .expect("parses");
        let secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
        assert_eq!(
            expected_signature(&req, &auth, secret),
            "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
        );
        let now = 1_369_353_600; // 2013-05-24T00:00:00Z
        assert_eq!(verify(&req, &auth, secret, now), Ok(()));
        assert_eq!(verify(&req, &auth, "wrong", now), Err(SigError::Mismatch));
        assert_eq!(
            verify(&req, &auth, secret, now + 3600),
            Err(SigError::Skewed)
        );
    }

    #[test]
    fn query_is_sorted_and_encoded() {
        assert_eq!(
            canonical_query("prefix=a%20b&list-type=2&delimiter=%2F"),
            "delimiter=%2F&list-type=2&prefix=a%20b"
        );
        assert_eq!(canonical_query("location"), "location=");
    }
}
