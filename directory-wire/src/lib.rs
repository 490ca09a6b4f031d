//! What Lantern parses itself of a directory's protocols, sans-IO. The LDAP operations are
//! `ldap3`'s; the bytes between it and the directory pass through a pump in the controller
//! that keeps every answer within a bound (`ber::Framer`: an LDAP message is one BER
//! SEQUENCE whose length is known from its first bytes, so an oversize answer is refused
//! before it is buffered) and that performs the StartTLS request itself (`starttls`), so that
//! TLS is the controller's own rustls with its own trust anchors. `kinit`: the messages to
//! and from the process that does the controller's Kerberos work. `negotiate`: the token of an
//! HTTP `Authorization: Negotiate` header.

#![forbid(unsafe_code)]

pub mod ber;
pub mod kinit;
pub mod negotiate;
pub mod starttls;

pub use ber::{FrameError, Framer};

#[cfg(test)]
mod tests;
