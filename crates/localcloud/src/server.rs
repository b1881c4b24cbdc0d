//! Serving localcloud over TCP with limits that keep one client from starving the others (M1):
//! a connection limit, a request-header timeout, an idle timeout and a request-body stall
//! timeout. At the limit, a new connection evicts the connection that has been idle longest
//! (none in flight), so a flood of idle connections never locks out a new client.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use bytes::Bytes;
use http_body::{Frame, SizeHint};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;

/// The limits of [`serve`].
#[derive(Debug, Clone)]
pub struct Limits {
    /// Open connections at most; at the limit the longest-idle one is closed for a new one.
    pub max_connections: usize,
    /// A request's headers must arrive within this time.
    pub header_timeout: Duration,
    /// A connection with no request in flight for this long is closed (keep-alive and
    /// connections that never send a request).
    pub idle_timeout: Duration,
    /// A request body that sends nothing for this long fails the request.
    pub body_stall_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_connections: 4096,
            header_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(75),
            body_stall_timeout: Duration::from_secs(60),
        }
    }
}

/// One open connection as the accept loop sees it.
struct Conn {
    /// Milliseconds since [`serve`] started, at the last request start or end.
    last_active: AtomicU64,
    /// Requests whose response is not fully sent.
    in_flight: AtomicUsize,
    close: tokio::sync::Notify,
}

struct Registry {
    started: Instant,
    next_id: AtomicU64,
    conns: Mutex<BTreeMap<u64, Arc<Conn>>>,
}

impl Registry {
    fn now_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, Arc<Conn>>> {
        self.conns
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Registers a new connection; at the limit, closes the longest-idle one first. `None`
    /// when every connection has a request in flight.
    fn admit(&self, max: usize) -> Option<(u64, Arc<Conn>)> {
        let mut conns = self.lock();
        if conns.len() >= max {
            let victim = conns
                .iter()
                .filter(|(_, c)| c.in_flight.load(Ordering::SeqCst) == 0)
                .min_by_key(|(_, c)| c.last_active.load(Ordering::SeqCst))
                .map(|(id, _)| *id)?;
            if let Some(c) = conns.remove(&victim) {
                c.close.notify_one();
            }
        }
        let id = self.next_id.fetch_add(1, Ordering::SeqCst);
        let conn = Arc::new(Conn {
            last_active: AtomicU64::new(self.now_ms()),
            in_flight: AtomicUsize::new(0),
            close: tokio::sync::Notify::new(),
        });
        conns.insert(id, conn.clone());
        Some((id, conn))
    }
}

/// Marks a request in flight until the response body is dropped.
struct InFlight {
    conn: Arc<Conn>,
    registry: Arc<Registry>,
}

impl InFlight {
    fn new(conn: Arc<Conn>, registry: Arc<Registry>) -> Self {
        conn.in_flight.fetch_add(1, Ordering::SeqCst);
        conn.last_active.store(registry.now_ms(), Ordering::SeqCst);
        Self { conn, registry }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.conn
            .last_active
            .store(self.registry.now_ms(), Ordering::SeqCst);
        self.conn.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A response body that keeps its request in flight until it is sent.
struct TrackedBody {
    inner: axum::body::Body,
    _in_flight: InFlight,
}

impl http_body::Body for TrackedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A request body that fails when the client sends nothing for a while (a stalled upload
/// ends instead of holding its image in `saving`).
struct StallBody {
    inner: Incoming,
    stall: Duration,
    timer: Pin<Box<tokio::time::Sleep>>,
    /// The timer runs from the handler's first read, not from the request's arrival.
    reading: bool,
}

impl http_body::Body for StallBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        if !self.reading {
            self.reading = true;
            let deadline = tokio::time::Instant::now() + self.stall;
            self.timer.as_mut().reset(deadline);
        }
        match Pin::new(&mut self.inner).poll_frame(cx) {
            Poll::Ready(frame) => {
                let deadline = tokio::time::Instant::now() + self.stall;
                self.timer.as_mut().reset(deadline);
                Poll::Ready(frame.map(|f| f.map_err(std::io::Error::other)))
            }
            Poll::Pending => match self.timer.as_mut().poll(cx) {
                Poll::Ready(()) => Poll::Ready(Some(Err(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    "the request body stalled",
                )))),
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Serves `app` on `listener` with `limits` until `shutdown` completes; then stops accepting,
/// asks open connections to finish, and waits for them up to 5 s.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send,
) -> std::io::Result<()> {
    let registry = Arc::new(Registry {
        started: Instant::now(),
        next_id: AtomicU64::new(0),
        conns: Mutex::new(BTreeMap::new()),
    });
    let mut tasks = tokio::task::JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of descriptors or a connection reset before accept: keep serving.
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
        };
        while tasks.try_join_next().is_some() {}
        let Some((id, conn)) = registry.admit(limits.max_connections) else {
            // Every connection is busy with a request: refuse this one.
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let registry2 = registry.clone();
        let limits2 = limits.clone();
        tasks.spawn(async move {
            serve_connection(stream, app, &limits2, conn, registry2.clone()).await;
            registry2.lock().remove(&id);
        });
    }
    drop(listener);
    for c in registry.lock().values() {
        c.close.notify_one();
    }
    let _ = tokio::time::timeout(Duration::from_secs(5), async {
        while tasks.join_next().await.is_some() {}
    })
    .await;
    Ok(())
}

async fn serve_connection(
    stream: tokio::net::TcpStream,
    app: Router,
    limits: &Limits,
    conn: Arc<Conn>,
    registry: Arc<Registry>,
) {
    let tower = TowerToHyperService::new(app);
    let stall = limits.body_stall_timeout;
    let svc_conn = conn.clone();
    let svc_registry = registry.clone();
    let svc = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
        let guard = InFlight::new(svc_conn.clone(), svc_registry.clone());
        let req = req.map(|inner| {
            axum::body::Body::new(StallBody {
                inner,
                stall,
                timer: Box::pin(tokio::time::sleep(stall)),
                reading: false,
            })
        });
        let fut = hyper::service::Service::call(&tower, req);
        async move {
            let resp = fut.await?;
            Ok::<_, Infallible>(resp.map(|inner| TrackedBody {
                inner,
                _in_flight: guard,
            }))
        }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .keep_alive(true);
    let served = builder.serve_connection(TokioIo::new(stream), svc);
    tokio::pin!(served);
    let idle = limits.idle_timeout;
    loop {
        let quiet_for = Duration::from_millis(
            registry
                .now_ms()
                .saturating_sub(conn.last_active.load(Ordering::SeqCst)),
        );
        let wait = idle
            .saturating_sub(quiet_for)
            .max(Duration::from_millis(50));
        tokio::select! {
            _ = &mut served => return,
            () = conn.close.notified() => {
                served.as_mut().graceful_shutdown();
                let _ = tokio::time::timeout(Duration::from_secs(5), &mut served).await;
                return;
            }
            () = tokio::time::sleep(wait) => {
                let quiet = registry.now_ms().saturating_sub(conn.last_active.load(Ordering::SeqCst));
                if conn.in_flight.load(Ordering::SeqCst) == 0
                    && Duration::from_millis(quiet) >= idle
                {
                    // Idle too long: close (dropping the connection closes the socket).
                    return;
                }
            }
        }
    }
}
