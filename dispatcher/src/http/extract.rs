//! Request extractors that turn every malformed input into a 4xx naming the field.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use axum::http::StatusCode;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

use crate::auth::Principal;
use crate::core::IdempotencyKey;
use crate::error::ApiError;

/// A JSON body, with a fingerprint of the raw request for idempotency checks.
#[derive(Debug)]
pub struct JsonBody<T> {
    pub value: T,
    pub fingerprint: String,
}

/// The field named by a serde error: the path where it failed, plus the field in
/// "missing field `x`" / "unknown field `x`" messages.
fn field_of(path: &str, message: &str) -> Option<String> {
    let named = ["missing field `", "unknown field `"]
        .iter()
        .find_map(|p| message.split_once(p))
        .and_then(|(_, rest)| rest.split_once('`'))
        .map(|(name, _)| name.to_owned());
    let path = (path != "." && !path.is_empty()).then(|| path.to_owned());
    match (path, named) {
        // serde_path_to_error's path already ends with an unknown field's name.
        (Some(p), Some(n)) if p == n || p.ends_with(&format!(".{n}")) => Some(p),
        (Some(p), Some(n)) => Some(format!("{p}.{n}")),
        (p, n) => p.or(n),
    }
}

/// Parses JSON, naming the failing field.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    match serde_path_to_error::deserialize::<_, T>(de) {
        Ok(v) => Ok(v),
        Err(e) => {
            let path = e.path().to_string();
            let inner = e.into_inner();
            let message = inner.to_string();
            let code = if inner.is_syntax() || inner.is_eof() {
                "malformed_json"
            } else {
                "invalid_field"
            };
            Err(ApiError::BadRequest {
                code,
                field: field_of(&path, &message),
                message,
            })
        }
    }
}

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let json = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.trim_start().to_ascii_lowercase().starts_with("application/json"));
        if !json {
            return Err(ApiError::UnsupportedMediaType);
        }
        let path = req.uri().path().to_owned();
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::PayloadTooLarge
            } else {
                ApiError::BadRequest {
                    code: "unreadable_body",
                    message: e.body_text(),
                    field: None,
                }
            }
        })?;
        let value = parse_json(&bytes)?;
        let mut hasher = Sha256::new();
        hasher.update(path.as_bytes());
        hasher.update([0]);
        hasher.update(&bytes);
        Ok(JsonBody {
            value,
            fingerprint: hex::encode(hasher.finalize()),
        })
    }
}

/// Query parameters, with 400s that name the parameter.
#[derive(Debug)]
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or("");
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(de).map(ApiQuery).map_err(|e| {
            let path = e.path().to_string();
            let message = e.into_inner().to_string();
            ApiError::BadRequest {
                code: "invalid_query",
                field: field_of(&path, &message),
                message,
            }
        })
    }
}

/// The `Idempotency-Key` header, scoped to the caller.
pub fn idempotency_key(
    parts_headers: &axum::http::HeaderMap,
    who: &Principal,
    fingerprint: &str,
) -> Result<Option<IdempotencyKey>, ApiError> {
    let Some(value) = parts_headers.get("idempotency-key") else {
        return Ok(None);
    };
    let key = value
        .to_str()
        .ok()
        .filter(|k| !k.is_empty() && k.len() <= 128 && k.bytes().all(|b| b.is_ascii_graphic()))
        .ok_or_else(|| ApiError::bad_field("Idempotency-Key", "must be 1 to 128 visible ASCII characters"))?;
    Ok(Some(IdempotencyKey {
        principal: format!("{}:{}", who.role.as_str(), who.name),
        key: key.to_owned(),
        fingerprint: fingerprint.to_owned(),
    }))
}

/// Parses an id from the path, or 404 (an unparsable id names nothing).
pub fn path_id<T: std::str::FromStr>(raw: &str, what: &'static str) -> Result<T, ApiError> {
    raw.parse().map_err(|_| ApiError::NotFound(what))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_missing_unknown_and_nested_fields() {
        assert_eq!(field_of(".", "missing field `text` at line 1"), Some("text".into()));
        assert_eq!(field_of("location", "missing field `lat`"), Some("location.lat".into()));
        assert_eq!(field_of("channel", "unknown variant `fax`"), Some("channel".into()));
        assert_eq!(field_of(".", "unknown field `colour`"), Some("colour".into()));
    }

    #[test]
    fn syntax_errors_are_malformed_json() {
        #[derive(serde::Deserialize, Debug)]
        struct T {
            #[allow(dead_code)]
            a: u8,
        }
        let e = parse_json::<T>(b"{\"a\": ").expect_err("eof");
        assert_eq!(e.code(), "malformed_json");
        let e = parse_json::<T>(b"{\"a\": 300}").expect_err("range");
        assert_eq!(e.code(), "invalid_field");
        assert_eq!(e.body().error.field.as_deref(), Some("a"));
    }
}
