//! Probes for load balancers and orchestrators, and the OpenAPI document.

use std::sync::Arc;

use auraspeak_shared::ErrorCode;
use axum::Extension;
use axum::extract::State;
use axum::response::IntoResponse;

use super::error::ApiError;
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
/// names an address of its own, or metrics are disabled.
#[utoipa::path(get, path = "/metrics", tag = "health",
    responses((status = 200, description = "Metrics", content_type = "application/openmetrics-text"),
        (status = 404, description = "Metrics are disabled or served on their own address", body = auraspeak_shared::ErrorBody)))]
pub async fn metrics(State(state): State<AppState>) -> axum::response::Response {
    let m = &state.config.metrics;
    if !m.enabled || !m.listen.trim().is_empty() {
        return ApiError::new(ErrorCode::NotFound, "metrics are not served here").into_response();
    }
    render_metrics(&state.metrics)
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
