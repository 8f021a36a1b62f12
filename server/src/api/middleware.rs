//! Cross-cutting HTTP layers: request ids, request logs, CORS, timeouts, panics, the
//! account-route rate limit, and the guarantee that every error body is coded JSON.

use std::sync::Arc;
use std::time::{Duration, Instant};

use auraspeak_shared::{ErrorCode, ErrorDetail};
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::request_id::{MakeRequestId, RequestId};

use super::error::{ApiError, PendingError, render};
use super::extract::client_ip;
use crate::config::Config;
use crate::ids::IdGenerator;
use crate::state::AppState;

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Request ids are snowflakes: unique across nodes and sortable by time in the logs.
#[derive(Clone)]
pub struct MakeSnowflakeId(pub Arc<IdGenerator>);

impl MakeRequestId for MakeSnowflakeId {
    fn make_request_id<B>(&mut self, _: &axum::http::Request<B>) -> Option<RequestId> {
        HeaderValue::from_str(&self.0.next().to_string()).ok().map(RequestId::new)
    }
}

pub fn cors(config: &Config) -> CorsLayer {
    let origins = &config.http.cors_origins;
    let allow = if origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()))
    };
    CorsLayer::new()
        .allow_origin(allow)
        .allow_methods([Method::GET, Method::POST, Method::PATCH, Method::PUT, Method::DELETE])
        .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE, REQUEST_ID])
        .expose_headers([REQUEST_ID, header::RETRY_AFTER])
        .max_age(Duration::from_secs(600))
}

/// Records each request's latency under its route template and status.
pub async fn record_metrics(
    State(metrics): State<Arc<crate::metrics::Metrics>>,
    req: Request,
    next: Next,
) -> Response {
    let method = req.method().clone();
    let route = req
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let started = Instant::now();
    let response = next.run(req).await;
    metrics.observe_http(&method, &route, response.status().as_u16(), started.elapsed());
    response
}

/// Limits requests per client IP; applied to the account routes only.
pub async fn rate_limit_by_ip(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if let Some(limiter) = &state.auth_limiter {
        let (parts, body) = req.into_parts();
        let ip = client_ip(&parts, &state.trusted_proxies);
        if let Err(wait) = limiter.try_acquire(&crate::proxy::rate_limit_key(ip), Instant::now()) {
            tracing::debug!(%ip, "rate limited");
            return ApiError::rate_limited(wait).into_response();
        }
        return next.run(Request::from_parts(parts, body)).await;
    }
    next.run(req).await
}

/// Makes every error response coded JSON carrying the request id: errors raised as
/// [`ApiError`] get the id added; plain-text errors from lower layers (timeouts, panics,
/// unmatched methods) are replaced by a coded equivalent.
pub async fn finish_errors(req: Request, next: Next) -> Response {
    let request_id = req.headers().get(REQUEST_ID).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let response = next.run(req).await;
    let status = response.status();
    // The browser pages (`pages.rs`) answer in HTML, errors included.
    let html = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"text/html"));
    if html || !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let mut detail = match parts.extensions.remove::<PendingError>() {
        Some(PendingError(detail)) => detail,
        None => fallback_detail(status),
    };
    if status.is_server_error() && detail.code != ErrorCode::Unavailable {
        tracing::error!(status = status.as_u16(), code = detail.code.as_str(), "server error");
    }
    detail.request_id = request_id;
    drop(body);
    let mut rendered = render(status, &detail);
    for (name, value) in &parts.headers {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            rendered.headers_mut().insert(name.clone(), value.clone());
        }
    }
    rendered
}

fn fallback_detail(status: StatusCode) -> ErrorDetail {
    let (code, message) = match status {
        StatusCode::NOT_FOUND => (ErrorCode::NotFound, "no such route"),
        StatusCode::METHOD_NOT_ALLOWED => (ErrorCode::MethodNotAllowed, "method not allowed here"),
        StatusCode::REQUEST_TIMEOUT => (ErrorCode::Timeout, "the request took too long"),
        StatusCode::PAYLOAD_TOO_LARGE => (ErrorCode::PayloadTooLarge, "request body too large"),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => {
            (ErrorCode::UnsupportedMediaType, "unsupported content type")
        }
        StatusCode::SERVICE_UNAVAILABLE => (ErrorCode::Unavailable, "service unavailable"),
        s if s.is_client_error() => (ErrorCode::InvalidBody, "bad request"),
        _ => (ErrorCode::Internal, "internal server error"),
    };
    ErrorDetail { code, message: message.to_owned(), request_id: None, fields: Vec::new() }
}

/// Turns a handler panic into a coded 500 instead of a dropped connection.
pub fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("a request handler panicked");
    ApiError::internal().into_response()
}

/// A request path as it may be logged: an invite code is a bearer secret (whoever has it
/// joins the server), so its path segment is replaced by the route's placeholder. Request
/// logs are kept and may be sent to Sentry as breadcrumbs.
pub fn loggable_path(path: &str) -> std::borrow::Cow<'_, str> {
    const INVITES: &str = "/api/v1/invites/";
    match path.strip_prefix(INVITES) {
        Some(rest) if !rest.is_empty() => {
            let tail = rest.find('/').map_or("", |i| &rest[i..]);
            format!("{INVITES}{{code}}{tail}").into()
        }
        _ => path.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::loggable_path;

    #[test]
    fn invite_codes_never_reach_the_log() {
        assert_eq!(loggable_path("/api/v1/invites/Zx81Qa9p"), "/api/v1/invites/{code}");
        assert_eq!(loggable_path("/api/v1/invites/Zx81Qa9p/extra"), "/api/v1/invites/{code}/extra");
        assert_eq!(loggable_path("/api/v1/invites/"), "/api/v1/invites/");
        assert_eq!(loggable_path("/api/v1/servers/12/invites"), "/api/v1/servers/12/invites");
        assert_eq!(loggable_path("/api/v1/users/@me"), "/api/v1/users/@me");
    }
}
