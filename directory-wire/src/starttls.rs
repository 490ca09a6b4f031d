//! The StartTLS extended operation (RFC 4511 section 4.14): the one request the controller
//! sends itself, before handing the connection, now under TLS, to the LDAP client.

use crate::ber::{element, SEQUENCE};

/// The StartTLS request's OID.
pub const OID: &[u8] = b"1.3.6.1.4.1.1466.20037";
/// The message id the controller uses for it (the LDAP client's own ids start after the
/// connection is handed over, on a fresh numbering of its own: ids need only be unique among
/// outstanding requests).
pub const MESSAGE_ID: u8 = 1;

const INTEGER: u8 = 0x02;
const ENUMERATED: u8 = 0x0a;
/// [APPLICATION 23] ExtendedRequest and [APPLICATION 24] ExtendedResponse, constructed.
const EXTENDED_REQUEST: u8 = 0x77;
const EXTENDED_RESPONSE: u8 = 0x78;
/// requestName [0], primitive.
const REQUEST_NAME: u8 = 0x80;

/// The bytes of the StartTLS request.
pub fn request() -> Vec<u8> {
    let name_len = OID.len() as u8;
    let op_len = 2 + name_len;
    let mut out =
        vec![SEQUENCE, 3 + 2 + op_len, INTEGER, 1, MESSAGE_ID, EXTENDED_REQUEST, op_len, REQUEST_NAME, name_len];
    out.extend_from_slice(OID);
    out
}

/// What the directory answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// resultCode success: TLS starts now.
    Accepted,
    /// Another resultCode (for example 2, protocolError, from a server without TLS).
    Refused(u32),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the directory's answer to StartTLS is not an LDAP extended response to it")]
pub struct NotAnAnswer;

/// Reads the directory's answer to [`request`] (one whole message, as a framer delimits it).
pub fn answer(message: &[u8]) -> Result<Answer, NotAnAnswer> {
    let (outer, _) = element(message).ok_or(NotAnAnswer)?;
    if outer.tag != SEQUENCE {
        return Err(NotAnAnswer);
    }
    let (id, rest) = element(outer.contents).ok_or(NotAnAnswer)?;
    if id.tag != INTEGER || id.contents != [MESSAGE_ID] {
        return Err(NotAnAnswer);
    }
    let (op, _) = element(rest).ok_or(NotAnAnswer)?;
    if op.tag != EXTENDED_RESPONSE {
        return Err(NotAnAnswer);
    }
    let (code, _) = element(op.contents).ok_or(NotAnAnswer)?;
    if code.tag != ENUMERATED || code.contents.is_empty() || code.contents.len() > 4 {
        return Err(NotAnAnswer);
    }
    let value = code.contents.iter().fold(0u32, |n, &b| (n << 8) | u32::from(b));
    Ok(if value == 0 { Answer::Accepted } else { Answer::Refused(value) })
}
