//! Fault injection for tests of the clients above: with `Config::write_fault_percent` set, that
//! share of write requests (POST, PUT, PATCH, DELETE; Keystone's token requests excepted) is
//! answered `500 Internal Server Error` before anything is done, the way a real cloud's API
//! sometimes fails. Reads are never failed. Off (0) by default.

use axum::http::{Method, StatusCode};
use axum::response::IntoResponse;
use rand::Rng as _;

/// Middleware failing `percent`% of write requests with a 500.
pub(crate) async fn inject(
    axum::extract::State(percent): axum::extract::State<u8>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let write = matches!(
        *req.method(),
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    );
    let token = req.uri().path().ends_with("/auth/tokens");
    if write && !token && rand::thread_rng().gen_range(0u8..100) < percent {
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            axum::Json(serde_json::json!({
                "error": {"code": 500, "title": "Internal Server Error", "message": "injected fault (localcloud write_fault_percent)"}
            })),
        )
            .into_response();
    }
    next.run(req).await
}
