//! HTTP Negotiate (RFC 4559): the token in a browser's `Authorization: Negotiate <base64>`,
//! and the `WWW-Authenticate` value that answers it.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

/// The longest `Authorization` value read (a Kerberos ticket with a PAC fits in a few KiB;
/// browsers send at most about 64 KiB of headers).
pub const MAX_HEADER: usize = 64 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NegotiateError {
    #[error("the Authorization header is not Negotiate")]
    NotNegotiate,
    #[error("the Negotiate token is longer than 64 KiB")]
    TooLong,
    #[error("the Negotiate token is not base64")]
    NotBase64,
    #[error("the Negotiate token is empty")]
    Empty,
}

/// The token of an `Authorization` header value.
pub fn token(header: &[u8]) -> Result<Vec<u8>, NegotiateError> {
    if header.len() > MAX_HEADER {
        return Err(NegotiateError::TooLong);
    }
    let split = header.iter().position(|&b| b == b' ').ok_or(NegotiateError::NotNegotiate)?;
    let (scheme, rest) = header.split_at(split);
    if !scheme.eq_ignore_ascii_case(b"Negotiate") {
        return Err(NegotiateError::NotNegotiate);
    }
    let encoded = rest.trim_ascii();
    if encoded.is_empty() {
        return Err(NegotiateError::Empty);
    }
    let token = STANDARD.decode(encoded).map_err(|_| NegotiateError::NotBase64)?;
    if token.is_empty() {
        return Err(NegotiateError::Empty);
    }
    Ok(token)
}

/// `WWW-Authenticate: Negotiate`, with the reply token when there is one.
pub fn challenge(reply: &[u8]) -> String {
    if reply.is_empty() {
        "Negotiate".to_string()
    } else {
        format!("Negotiate {}", STANDARD.encode(reply))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_read_and_anything_else_is_refused() {
        assert_eq!(token(b"Negotiate YWJj").unwrap(), b"abc");
        assert_eq!(token(b"negotiate   YWJj  ").unwrap(), b"abc");
        assert_eq!(token(b"Basic YWJj"), Err(NegotiateError::NotNegotiate));
        assert_eq!(token(b"Negotiate"), Err(NegotiateError::NotNegotiate));
        assert_eq!(token(b"Negotiate "), Err(NegotiateError::Empty));
        assert_eq!(token(b"Negotiate ***"), Err(NegotiateError::NotBase64));
        assert_eq!(token(&[b'N'; MAX_HEADER + 1]), Err(NegotiateError::TooLong));
        assert_eq!(challenge(b""), "Negotiate");
        assert_eq!(challenge(b"abc"), "Negotiate YWJj");
    }
}
