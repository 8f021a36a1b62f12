//! The HTTP layer's one error type. Every failure a client sees is an [`ApiError`] with a
//! stable [`ErrorCode`]; internal details are logged under the request id, never sent.

use std::time::Duration;

use auraspeak_shared::error::FieldError;
use auraspeak_shared::{ErrorBody, ErrorCode, ErrorDetail};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::error::{Error, UniqueField};

#[derive(Debug)]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
    pub fields: Vec<FieldError>,
    pub retry_after: Option<Duration>,
}

/// Carried in response extensions until the error-body middleware renders it with the
/// request id (see `middleware::finish_errors`).
#[derive(Debug, Clone)]
pub struct PendingError(pub ErrorDetail);

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self { code, message: message.into(), fields: Vec::new(), retry_after: None }
    }

    pub fn validation(fields: Vec<FieldError>) -> Self {
        let message = fields
            .iter()
            .map(|f| format!("{} {}", f.field, f.message))
            .collect::<Vec<_>>()
            .join("; ");
        Self { fields, ..Self::new(ErrorCode::ValidationFailed, message) }
    }

    pub fn rate_limited(wait: Duration) -> Self {
        Self {
            retry_after: Some(wait),
            ..Self::new(ErrorCode::RateLimited, "too many requests, slow down")
        }
    }

    /// Like [`Self::rate_limited`], for a limit on the client's address rather than its
    /// account: same code, so clients handle both alike; the message tells people apart.
    pub fn rate_limited_address(wait: Duration) -> Self {
        Self {
            retry_after: Some(wait),
            ..Self::new(ErrorCode::RateLimited, "too many requests from this address, slow down")
        }
    }

    pub fn internal() -> Self {
        Self::new(ErrorCode::Internal, "internal server error")
    }

    pub fn status(&self) -> StatusCode {
        StatusCode::from_u16(self.code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }
}

impl From<Error> for ApiError {
    fn from(err: Error) -> Self {
        match err {
            Error::Conflict(UniqueField::Username) => {
                Self::new(ErrorCode::UsernameTaken, "that username is taken")
            }
            Error::Conflict(UniqueField::Email) => {
                Self::new(ErrorCode::EmailTaken, "that email address is already registered")
            }
            // SQLSTATE class 22, "data exception": a value the database refuses (a NUL
            // byte in text, a number out of range). Input validation should catch these
            // first; this keeps a gap there from turning into a 500.
            Error::Database(sqlx::Error::Database(ref db))
                if db.code().is_some_and(|c| c.starts_with("22")) =>
            {
                tracing::warn!(error = %err, "database refused a value");
                Self::new(ErrorCode::ValidationFailed, "a value was refused by the database")
            }
            Error::Database(sqlx::Error::PoolTimedOut | sqlx::Error::Io(_)) => {
                tracing::error!(error = %err, "database unavailable");
                Self::new(ErrorCode::Unavailable, "the database is unavailable, try again")
            }
            other => {
                // The detail may name tables or paths: log it, send only the code.
                tracing::error!(error = %other, "request failed");
                Self::internal()
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let detail = ErrorDetail {
            code: self.code,
            message: self.message,
            request_id: None,
            fields: self.fields,
        };
        let mut response = render(status, &detail);
        if let Some(wait) = self.retry_after {
            // Round up: retrying after a truncated wait would be refused again.
            let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
        }
        response.extensions_mut().insert(PendingError(detail));
        response
    }
}

/// Renders an error body as JSON with the given status.
pub fn render(status: StatusCode, detail: &ErrorDetail) -> Response {
    let body = serde_json::to_vec(&ErrorBody { error: detail.clone() }).unwrap_or_else(|_| {
        br#"{"error":{"code":"internal","message":"internal server error"}}"#.to_vec()
    });
    (status, [(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], body)
        .into_response()
}
