//! Portable session tokens: `v1.<payload>.<signature>`, both base64url, the payload a JSON
//! object naming the issuing node (`iss`), the peer it is for (`aud`), the user (`sub`) and
//! their role (`role`, whatever the controller's role type is), with issue and expiry times, a
//! unique id (`jti`) and the session it carries (`carry`). Signed with the issuer's Ed25519 node
//! key over the text `v1.<payload>`.

use base64::Engine;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::{B64, CLOCK_SKEW_MS};

/// How long a token lives: long enough for a browser to carry it across, no longer.
pub const TOKEN_LIFE_MS: i64 = 120_000;
/// Tokens longer than this are not read (one fits a URL many times over).
pub const MAX_TOKEN: usize = 8 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims<R> {
    pub iss: String,
    pub aud: String,
    pub sub: String,
    pub role: R,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
    /// The session whose data the audience may fetch from the issuer (absent in tokens from
    /// controllers that carry nothing but the token).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub carry: Option<Carry>,
}

/// Which session a token carries, and the version of its data at the issuer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Carry {
    pub sid: String,
    pub version: u64,
}

/// Why a token was refused. Shown to the user; never contains the token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenError {
    Malformed,
    UnknownIssuer,
    BadSignature,
    WrongAudience,
    Expired,
    Replayed,
}

impl TokenError {
    pub fn message(self) -> &'static str {
        match self {
            TokenError::Malformed => "malformed session token",
            TokenError::UnknownIssuer => "session token from an unknown controller",
            TokenError::BadSignature => "session token signature is invalid",
            TokenError::WrongAudience => "session token is meant for another controller",
            TokenError::Expired => "session token has expired",
            TokenError::Replayed => "session token was already used",
        }
    }
}

impl core::fmt::Display for TokenError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.message())
    }
}

impl std::error::Error for TokenError {}

/// Signs `claims` with `key` as a token.
pub fn sign<R: Serialize>(key: &SigningKey, claims: &Claims<R>) -> String {
    // Serialising plain data cannot fail.
    let payload = B64.encode(serde_json::to_vec(claims).unwrap_or_default());
    let signed = format!("v1.{payload}");
    let signature = key.sign(signed.as_bytes());
    format!("{signed}.{}", B64.encode(signature.to_bytes()))
}

/// The claims of a token whose signature is good under its issuer's key (`key_of`).
pub fn decode<R: DeserializeOwned>(
    token: &str,
    key_of: impl FnOnce(&str) -> Option<VerifyingKey>,
) -> Result<Claims<R>, TokenError> {
    if token.len() > MAX_TOKEN {
        return Err(TokenError::Malformed);
    }
    let mut parts = token.trim().splitn(3, '.');
    let (Some("v1"), Some(payload), Some(signature)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(TokenError::Malformed);
    };
    let claims: Claims<R> =
        B64.decode(payload).ok().and_then(|bytes| serde_json::from_slice(&bytes).ok()).ok_or(TokenError::Malformed)?;
    let key = key_of(&claims.iss).ok_or(TokenError::UnknownIssuer)?;
    let signature = B64
        .decode(signature)
        .ok()
        .and_then(|b| <[u8; 64]>::try_from(b).ok())
        .map(|b| Signature::from_bytes(&b))
        .ok_or(TokenError::Malformed)?;
    key.verify_strict(format!("v1.{payload}").as_bytes(), &signature).map_err(|_| TokenError::BadSignature)?;
    Ok(claims)
}

/// The token is for `audience` and within its life (give or take the clocks' difference).
pub fn check_times<R>(claims: &Claims<R>, audience: &str, now_ms: i64) -> Result<(), TokenError> {
    if claims.aud != audience {
        return Err(TokenError::WrongAudience);
    }
    let late = claims.exp.saturating_add(CLOCK_SKEW_MS);
    if now_ms > late
        || claims.iat > now_ms.saturating_add(CLOCK_SKEW_MS)
        || claims.exp.saturating_sub(claims.iat) > TOKEN_LIFE_MS
    {
        return Err(TokenError::Expired);
    }
    Ok(())
}
