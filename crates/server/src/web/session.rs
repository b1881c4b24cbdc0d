//! Who is looking at a page: anonymous, a consumer project or a vendor, from an HTTP-only,
//! SameSite cookie whose value the store keeps only as a hash. Every form carries a CSRF token
//! derived from the visitor's cookie (a pre-session cookie before sign-in), so a form posted
//! from another site never matches.

use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::Response;

use crate::crypto::{new_token, token_hash};
use crate::tenants::{ProjectCtx, Tenants, VendorCtx};

use super::i18n::Lang;

pub const SESSION_COOKIE: &str = "vitrina_session";
pub const PRE_COOKIE: &str = "vitrina_pre";
/// How long a sign-in lasts.
pub const SESSION_HOURS: i64 = 12;

/// The signed-in party.
#[derive(Debug, Clone)]
pub enum Who {
    Anonymous,
    Project(ProjectCtx),
    Vendor(VendorCtx),
}

impl Who {
    pub fn vendor(&self) -> Option<&VendorCtx> {
        match self {
            Who::Vendor(v) => Some(v),
            _ => None,
        }
    }

    pub fn project(&self) -> Option<&ProjectCtx> {
        match self {
            Who::Project(p) => Some(p),
            _ => None,
        }
    }

    /// What the header shows.
    pub fn display(&self) -> Option<String> {
        match self {
            Who::Anonymous => None,
            Who::Project(p) => Some(p.name().to_owned()),
            Who::Vendor(v) => Some(v.name().to_owned()),
        }
    }
}

/// The visitor of one request.
pub struct Visitor {
    pub lang: Lang,
    pub who: Who,
    /// The token every form of the page carries as `_csrf`.
    pub csrf: String,
    /// A cookie the response must set (a new pre-session cookie).
    set_cookie: Option<String>,
    secure: bool,
}

pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|c| {
            let (k, v) = c.trim().split_once('=')?;
            (k == name).then_some(v)
        })
}

fn csrf_of(cookie_value: &str) -> String {
    token_hash(&format!("csrf|{cookie_value}"))
}

/// Whether cookies may carry `Secure`: the request came over HTTPS (directly or through a proxy
/// that says so) or to a loopback host, which browsers treat as secure.
fn secure_context(headers: &HeaderMap) -> bool {
    let https = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|p| p.eq_ignore_ascii_case("https"));
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let name = host.rsplit_once(':').map_or(host, |(h, _)| h);
    https || name == "localhost" || name == "127.0.0.1" || name == "[::1]"
}

impl Visitor {
    pub async fn read(tenants: &Tenants, headers: &HeaderMap) -> Visitor {
        let lang = Lang::choose(
            cookie(headers, "lang"),
            headers
                .get(header::ACCEPT_LANGUAGE)
                .and_then(|v| v.to_str().ok()),
        );
        let secure = secure_context(headers);
        if let Some(value) = cookie(headers, SESSION_COOKIE) {
            if let Ok(Some(row)) = tenants.store().web_session(&token_hash(value)).await {
                let who = match row.kind.as_str() {
                    "project" => tenants
                        .project_ctx_for_job(&row.subject_id)
                        .await
                        .map(Who::Project)
                        .ok(),
                    "vendor" => tenants
                        .vendor_ctx_for_session(&row.subject_id)
                        .await
                        .map(Who::Vendor)
                        .ok(),
                    _ => None,
                };
                if let Some(who) = who {
                    return Visitor {
                        lang,
                        who,
                        csrf: csrf_of(value),
                        set_cookie: None,
                        secure,
                    };
                }
            }
        }
        match cookie(headers, PRE_COOKIE) {
            Some(pre) if pre.len() >= 32 => Visitor {
                lang,
                who: Who::Anonymous,
                csrf: csrf_of(pre),
                set_cookie: None,
                secure,
            },
            _ => {
                let pre = new_token("vwp_");
                Visitor {
                    lang,
                    who: Who::Anonymous,
                    csrf: csrf_of(&pre),
                    set_cookie: Some(cookie_line(PRE_COOKIE, &pre, None, secure)),
                    secure,
                }
            }
        }
    }

    /// Whether a posted `_csrf` belongs to this visitor (compared in constant time).
    pub fn csrf_ok(&self, posted: Option<&str>) -> bool {
        let Some(p) = posted else {
            return false;
        };
        let (a, b) = (p.as_bytes(), self.csrf.as_bytes());
        a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }

    /// Adds the cookies this visitor needs to a response.
    pub fn finish(&self, mut r: Response) -> Response {
        if let Some(line) = &self.set_cookie {
            if let Ok(v) = HeaderValue::from_str(line) {
                r.headers_mut().append(header::SET_COOKIE, v);
            }
        }
        r
    }

    /// Starts a session for `who`: stores its hash and returns the `Set-Cookie` line.
    pub async fn sign_in(&self, tenants: &Tenants, who: &Who) -> Option<String> {
        let (kind, id) = match who {
            Who::Project(p) => ("project", p.id().to_owned()),
            Who::Vendor(v) => ("vendor", v.id().to_owned()),
            Who::Anonymous => return None,
        };
        let value = new_token("vws_");
        let expires = crate::store::now_ms() + SESSION_HOURS * 3_600_000;
        tenants
            .store()
            .web_session_put(&token_hash(&value), kind, &id, expires)
            .await
            .ok()?;
        Some(cookie_line(
            SESSION_COOKIE,
            &value,
            Some(SESSION_HOURS * 3600),
            self.secure,
        ))
    }

    /// Ends the session of this request; returns the `Set-Cookie` line that clears it.
    pub async fn sign_out(&self, tenants: &Tenants, headers: &HeaderMap) -> String {
        if let Some(value) = cookie(headers, SESSION_COOKIE) {
            let _ = tenants.store().web_session_delete(&token_hash(value)).await;
        }
        cookie_line(SESSION_COOKIE, "", Some(0), self.secure)
    }
}

fn cookie_line(name: &str, value: &str, max_age: Option<i64>, secure: bool) -> String {
    let mut s = format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax");
    if let Some(age) = max_age {
        s.push_str(&format!("; Max-Age={age}"));
    }
    if secure {
        s.push_str("; Secure");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csrf_differs_per_cookie_and_compares_exactly() {
        assert_ne!(csrf_of("a"), csrf_of("b"));
        let v = Visitor {
            lang: Lang::En,
            who: Who::Anonymous,
            csrf: csrf_of("a"),
            set_cookie: None,
            secure: false,
        };
        assert!(v.csrf_ok(Some(&csrf_of("a"))));
        assert!(!v.csrf_ok(Some(&csrf_of("b"))));
        assert!(!v.csrf_ok(None));
        assert!(!v.csrf_ok(Some("")));
    }

    #[test]
    fn cookies_are_http_only_same_site_and_secure_on_loopback() {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, HeaderValue::from_static("127.0.0.1:8080"));
        assert!(secure_context(&h));
        h.insert(header::HOST, HeaderValue::from_static("shop.example:8080"));
        assert!(!secure_context(&h));
        let line = cookie_line(SESSION_COOKIE, "x", Some(10), true);
        assert!(
            line.contains("HttpOnly") && line.contains("SameSite=Lax") && line.contains("Secure")
        );
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; vitrina_session=abc; b=2"),
        );
        assert_eq!(cookie(&h, SESSION_COOKIE), Some("abc"));
    }
}
