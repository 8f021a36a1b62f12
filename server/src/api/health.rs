//! Probes for load balancers and orchestrators, and the OpenAPI document.

use std::sync::Arc;

use auraspeak_shared::ErrorCode;
use axum::Extension;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::IntoResponse;

use super::error::ApiError;
use super::extract::ClientIp;
use crate::state::AppState;

#[derive(Clone)]
pub struct OpenApiDoc(pub Arc<utoipa::openapi::OpenApi>);

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Health {
    /// "ok"
    pub status: &'static str,
    /// "sqlite" or "postgres" (readiness only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database: Option<&'static str>,
}

/// Liveness: the process is up and serving HTTP.
#[utoipa::path(get, path = "/healthz", tag = "health",
    responses((status = 200, description = "Alive", body = Health)))]
pub async fn healthz() -> axum::Json<Health> {
    axum::Json(Health { status: "ok", database: None })
}

/// Readiness: the database answers. A load balancer should stop sending traffic on 503.
#[utoipa::path(get, path = "/readyz", tag = "health",
    responses(
        (status = 200, description = "Ready", body = Health),
        (status = 503, description = "Database unreachable", body = auraspeak_shared::ErrorBody),
    ))]
pub async fn readyz(State(state): State<AppState>) -> Result<axum::Json<Health>, ApiError> {
    if state.shutdown.is_cancelled() {
        return Err(ApiError::new(ErrorCode::Unavailable, "shutting down"));
    }
    match state.store.ping().await {
        Ok(()) => {
            Ok(axum::Json(Health { status: "ok", database: Some(state.store.backend().name()) }))
        }
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            Err(ApiError::new(ErrorCode::Unavailable, "database unreachable"))
        }
    }
}

/// This document (OpenAPI 3.1).
#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "health",
    responses((status = 200, description = "The OpenAPI document", content_type = "application/json")))]
pub async fn openapi_json(Extension(OpenApiDoc(doc)): Extension<OpenApiDoc>) -> impl IntoResponse {
    axum::Json(doc.as_ref().clone())
}

/// Prometheus metrics (text exposition format). Served here unless `metrics.listen`
/// names an address of its own, or metrics are disabled. Metrics name routes and show
/// load, so they are not public: with `metrics.token` set, a scrape must carry it as a
/// bearer token; without one, only loopback clients get them.
#[utoipa::path(get, path = "/metrics", tag = "health",
    responses((status = 200, description = "Metrics", content_type = "application/openmetrics-text"),
        (status = 401, description = "missing_token or invalid_token: metrics.token is set and the scrape lacks it", body = auraspeak_shared::ErrorBody),
        (status = 404, description = "Metrics are disabled, served on their own address, or asked for from beyond loopback without a token", body = auraspeak_shared::ErrorBody)))]
pub async fn metrics(
    State(state): State<AppState>,
    ClientIp(client): ClientIp,
    headers: HeaderMap,
) -> axum::response::Response {
    let m = &state.config.metrics;
    if !m.enabled || !m.listen.trim().is_empty() {
        return not_served_here();
    }
    if m.token.is_empty() {
        // A reverse proxy on this host that is not in http.trusted_proxies makes every
        // client look like loopback; the forwarding headers it adds give it away.
        let forwarded =
            ["x-forwarded-for", "forwarded", "x-real-ip"].iter().any(|h| headers.contains_key(*h));
        if !client.is_loopback() || forwarded {
            return not_served_here();
        }
    } else if let Err(refused) = check_scrape_token(&headers, &m.token) {
        return refused.into_response();
    }
    render_metrics(&state.metrics)
}

fn not_served_here() -> axum::response::Response {
    ApiError::new(ErrorCode::NotFound, "metrics are not served here").into_response()
}

/// Whether `headers` carry `Authorization: Bearer <token>`, compared in constant time.
pub fn check_scrape_token(headers: &HeaderMap, token: &str) -> Result<(), ApiError> {
    let given = headers
        .get(axum::http::header::AUTHORIZATION)
        .ok_or_else(|| ApiError::new(ErrorCode::MissingToken, "metrics need a bearer token"))?
        .as_bytes();
    let given = given.strip_prefix(b"Bearer ").unwrap_or_default();
    let expected = token.as_bytes();
    // Length is not secret (the token's own length is chosen by the operator); the bytes
    // are compared without an early exit.
    let same = given.len() == expected.len()
        && given.iter().zip(expected).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0;
    if same { Ok(()) } else { Err(ApiError::new(ErrorCode::InvalidToken, "wrong metrics token")) }
}

pub fn render_metrics(metrics: &crate::metrics::Metrics) -> axum::response::Response {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        metrics.render(),
    )
        .into_response()
}
