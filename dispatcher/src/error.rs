//! One error type for the whole API: every failure maps to a status and a JSON body.
//!
//! Client mistakes (4xx) carry a code, a message and, where it applies, the
//! field at fault. Server faults (5xx) are logged with their details and answered
//! with a generic message, so internals never leak to callers.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use incident_types::wire::{ErrorBody, ErrorDetail};
use incident_types::{FieldError, IncidentId};

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request body or a parameter is invalid.
    #[error("{message}")]
    BadRequest {
        code: &'static str,
        message: String,
        field: Option<String>,
    },
    #[error("missing or unknown bearer token")]
    Unauthorized,
    #[error("{0}")]
    Forbidden(String),
    #[error("{0} not found")]
    NotFound(&'static str),
    /// An illegal lifecycle step: the allowed ones are listed.
    #[error("{message}")]
    IllegalTransition { message: String, allowed: Vec<String> },
    /// A unit cannot be dispatched: it holds another incident or is not available.
    #[error("{message}")]
    UnitUnavailable {
        message: String,
        incident_id: Option<IncidentId>,
    },
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    #[error("request body too large")]
    PayloadTooLarge,
    #[error("unsupported media type: send application/json")]
    UnsupportedMediaType,
    /// Storage is unavailable or the commit failed: nothing was acknowledged.
    #[error("storage unavailable")]
    Unavailable,
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl ApiError {
    pub fn bad_field(field: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError::BadRequest {
            code: "invalid_field",
            message: message.into(),
            field: Some(field.into()),
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::IllegalTransition { .. } | ApiError::UnitUnavailable { .. } | ApiError::Conflict { .. } => {
                StatusCode::CONFLICT
            }
            ApiError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The JSON body a client sees.
    pub fn body(&self) -> ErrorBody {
        let mut detail = ErrorDetail {
            code: self.code().to_owned(),
            message: self.to_string(),
            field: None,
            allowed: None,
            incident_id: None,
        };
        match self {
            ApiError::BadRequest { field, .. } => detail.field = field.clone(),
            ApiError::IllegalTransition { allowed, .. } => detail.allowed = Some(allowed.clone()),
            ApiError::UnitUnavailable { incident_id, .. } => detail.incident_id = *incident_id,
            _ => {}
        }
        ErrorBody { error: detail }
    }

    pub fn code(&self) -> &'static str {
        match self {
            ApiError::BadRequest { code, .. } => code,
            ApiError::Unauthorized => "unauthorized",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::NotFound(_) => "not_found",
            ApiError::IllegalTransition { .. } => "illegal_transition",
            ApiError::UnitUnavailable { .. } => "unit_unavailable",
            ApiError::Conflict { code, .. } => code,
            ApiError::PayloadTooLarge => "payload_too_large",
            ApiError::UnsupportedMediaType => "unsupported_media_type",
            ApiError::Unavailable => "unavailable",
            ApiError::Internal(_) => "internal",
        }
    }
}

impl From<FieldError> for ApiError {
    fn from(e: FieldError) -> Self {
        ApiError::bad_field(e.field, e.message)
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db) = &e {
            // PostgreSQL: deadlock detected / serialization failure between two
            // dispatcher nodes touching the same rows. Nothing was written; retrying is safe.
            if matches!(db.code().as_deref(), Some("40P01") | Some("40001")) {
                tracing::warn!(error = %db, "concurrent update between nodes");
                return ApiError::Conflict {
                    code: "concurrent_update",
                    message: "another dispatcher changed the same units at the same moment; retry".into(),
                };
            }
            if db.is_unique_violation() {
                // Two nodes raced to create the same record (e.g. one Idempotency-Key).
                return ApiError::Conflict {
                    code: "conflict",
                    message: "a concurrent request changed the same record; retry".into(),
                };
            }
        }
        match &e {
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
                tracing::error!(error = %e, "storage unavailable");
                ApiError::Unavailable
            }
            _ => ApiError::Internal(e.into()),
        }
    }
}

impl From<serde_json::Error> for ApiError {
    fn from(e: serde_json::Error) -> Self {
        ApiError::Internal(e.into())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Internal(e) = &self {
            tracing::error!(error = ?e, "internal error");
        }
        (self.status(), Json(self.body())).into_response()
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
