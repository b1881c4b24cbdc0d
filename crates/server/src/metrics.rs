//! `/metrics` in Prometheus text: HTTP latency by route (a histogram per matched route, method
//! and status class) and what the server's areas count. An area adds its lines through
//! [`Metrics::add_source`] (deployments by status, job latency…).

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;

/// Upper bounds of the latency buckets, in seconds.
pub const BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

#[derive(Default, Clone)]
struct Histogram {
    /// Per bucket (not cumulative), then the overflow.
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

/// Text an area appends to `/metrics` (complete `# TYPE` and sample lines).
pub type Source = Arc<dyn Fn() -> Pin<Box<dyn Future<Output = String> + Send>> + Send + Sync>;

/// The server's metrics.
#[derive(Default)]
pub struct Metrics {
    /// (route, method, status class) → latency histogram.
    http: Mutex<BTreeMap<(String, String, String), Histogram>>,
    sources: Mutex<Vec<Source>>,
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

impl Metrics {
    pub fn new() -> Arc<Metrics> {
        Arc::new(Metrics::default())
    }

    /// Adds an area's lines to every `/metrics` answer.
    pub fn add_source(&self, source: Source) {
        self.sources
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(source);
    }

    /// Records one request.
    pub fn observe(&self, route: &str, method: &str, status: u16, seconds: f64) {
        let class = format!("{}xx", status / 100);
        let mut map = self
            .http
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let h = map
            .entry((route.to_owned(), method.to_owned(), class))
            .or_insert_with(|| Histogram {
                counts: vec![0; BUCKETS.len() + 1],
                ..Histogram::default()
            });
        let i = BUCKETS
            .iter()
            .position(|b| seconds <= *b)
            .unwrap_or(BUCKETS.len());
        if let Some(c) = h.counts.get_mut(i) {
            *c += 1;
        }
        h.sum += seconds;
        h.count += 1;
    }

    /// The HTTP latency histogram as Prometheus text.
    pub fn render_http(&self) -> String {
        let map = self
            .http
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        let mut out = String::from(
            "# HELP vitrina_http_request_duration_seconds Time to answer HTTP requests (headers sent), by matched route.\n# TYPE vitrina_http_request_duration_seconds histogram\n",
        );
        for ((route, method, class), h) in &map {
            let labels = format!(
                "route=\"{}\",method=\"{}\",status=\"{}\"",
                escape(route),
                escape(method),
                class
            );
            let mut cumulative = 0u64;
            for (b, c) in BUCKETS.iter().zip(&h.counts) {
                cumulative += c;
                out.push_str(&format!(
                    "vitrina_http_request_duration_seconds_bucket{{{labels},le=\"{b}\"}} {cumulative}\n"
                ));
            }
            out.push_str(&format!(
                "vitrina_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}\n",
                h.count
            ));
            out.push_str(&format!(
                "vitrina_http_request_duration_seconds_sum{{{labels}}} {}\n",
                h.sum
            ));
            out.push_str(&format!(
                "vitrina_http_request_duration_seconds_count{{{labels}}} {}\n",
                h.count
            ));
        }
        out
    }

    /// The areas' lines.
    pub async fn render_sources(&self) -> String {
        let sources: Vec<Source> = self
            .sources
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        let mut out = String::new();
        for s in sources {
            out.push_str(&s().await);
        }
        out
    }
}

/// Middleware: times each request until its response headers are ready.
pub async fn track(State(m): State<Arc<Metrics>>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let method = req.method().as_str().to_owned();
    let start = Instant::now();
    let resp = next.run(req).await;
    m.observe(
        &route,
        &method,
        resp.status().as_u16(),
        start.elapsed().as_secs_f64(),
    );
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_is_cumulative() {
        let m = Metrics::default();
        m.observe("/a", "GET", 200, 0.002);
        m.observe("/a", "GET", 204, 0.2);
        m.observe("/a", "GET", 200, 100.0);
        let t = m.render_http();
        assert!(t.contains(
            "vitrina_http_request_duration_seconds_bucket{route=\"/a\",method=\"GET\",status=\"2xx\",le=\"0.0025\"} 1\n"
        ));
        assert!(t.contains(
            "vitrina_http_request_duration_seconds_bucket{route=\"/a\",method=\"GET\",status=\"2xx\",le=\"0.25\"} 2\n"
        ));
        assert!(t.contains(
            "vitrina_http_request_duration_seconds_bucket{route=\"/a\",method=\"GET\",status=\"2xx\",le=\"+Inf\"} 3\n"
        ));
        assert!(t.contains(
            "vitrina_http_request_duration_seconds_count{route=\"/a\",method=\"GET\",status=\"2xx\"} 3\n"
        ));
    }
}
