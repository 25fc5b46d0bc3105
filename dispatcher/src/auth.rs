//! Bearer tokens and roles: who may do what.
//!
//! Tokens are 256 random bits, shown once when created and stored only as a
//! SHA-256 hash. A request carries `Authorization: Bearer <token>`; the
//! extractor resolves it to a [`Principal`] (cached briefly, so a hot path
//! does not query the store on every request).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use base64::Engine;
use incident_types::{Actor, UnitId};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use crate::error::ApiError;
use crate::http::AppState;

incident_types::taxonomy_enum!(
    /// What a token holder may do.
    Role {
        CallTaker = "call_taker",
        Dispatcher = "dispatcher",
        Supervisor = "supervisor",
        Unit = "unit",
        Integrator = "integrator",
        Admin = "admin",
    }
);

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Principal {
    pub role: Role,
    /// The token's name (a person or a gateway), for the audit trail.
    pub name: String,
    /// For `unit` tokens: the one unit it may act for.
    pub unit_id: Option<UnitId>,
}

impl Principal {
    pub fn actor(&self) -> Actor {
        Actor {
            role: self.role.as_str().to_owned(),
            name: self.name.clone(),
        }
    }

    /// Fails with 403 unless the role is one of `roles` (admin may do anything).
    pub fn require(&self, roles: &[Role]) -> Result<(), ApiError> {
        if self.role == Role::Admin || roles.contains(&self.role) {
            Ok(())
        } else {
            Err(ApiError::Forbidden(format!(
                "role {} may not do this",
                self.role.as_str()
            )))
        }
    }

    /// Staff who work incidents at the console.
    pub const CONSOLE: &'static [Role] = &[Role::CallTaker, Role::Dispatcher, Role::Supervisor];
    /// Staff who may change incidents and dispatch.
    pub const OPERATORS: &'static [Role] = &[Role::CallTaker, Role::Dispatcher];
}

/// A new random token: 32 bytes, URL-safe base64 without padding.
pub fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!("bdg_{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

/// What is stored: the hex SHA-256 of the token.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A short-lived cache of resolved tokens (hash -> principal).
#[derive(Debug, Clone, Default)]
pub struct TokenCache {
    inner: Arc<Mutex<HashMap<String, (Principal, Instant)>>>,
}

const CACHE_TTL: Duration = Duration::from_secs(30);
const CACHE_MAX: usize = 10_000;

impl TokenCache {
    pub fn get(&self, hash: &str) -> Option<Principal> {
        let map = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        map.get(hash)
            .filter(|(_, at)| at.elapsed() < CACHE_TTL)
            .map(|(p, _)| p.clone())
    }

    pub fn put(&self, hash: String, p: Principal) {
        let mut map = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= CACHE_MAX {
            map.retain(|_, (_, at)| at.elapsed() < CACHE_TTL);
        }
        map.insert(hash, (p, Instant::now()));
    }
}

/// Resolves a raw token to its principal, or 401.
pub async fn authenticate(state: &AppState, token: &str) -> Result<Principal, ApiError> {
    let hash = token_hash(token);
    if let Some(p) = state.tokens.get(&hash) {
        return Ok(p);
    }
    let principal = state.store.find_token(&hash).await?.ok_or(ApiError::Unauthorized)?;
    state.tokens.put(hash, principal.clone());
    Ok(principal)
}

/// The bearer token of a request, if it has one.
pub fn bearer(parts: &Parts) -> Option<&str> {
    let value = parts.headers.get(axum::http::header::AUTHORIZATION)?;
    let value = value.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

impl FromRequestParts<AppState> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let token = bearer(parts).ok_or(ApiError::Unauthorized)?;
        authenticate(state, token).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_random_and_hashed() {
        let a = new_token();
        let b = new_token();
        assert_ne!(a, b);
        assert!(a.len() >= 4 + 43, "256 bits in base64 is 43 characters");
        assert_eq!(token_hash(&a).len(), 64);
        assert_ne!(token_hash(&a), a);
    }

    #[test]
    fn admin_may_do_anything_others_only_their_roles() {
        let p = |role| Principal {
            role,
            name: "x".into(),
            unit_id: None,
        };
        assert!(p(Role::Admin).require(&[Role::Dispatcher]).is_ok());
        assert!(p(Role::Integrator).require(Principal::OPERATORS).is_err());
        assert!(p(Role::CallTaker).require(Principal::OPERATORS).is_ok());
    }
}
