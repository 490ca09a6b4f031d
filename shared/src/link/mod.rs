//! Console links: each end's session with the link's policy around it, sans-IO, in the style
//! of IronRDP's `ActiveStage`. A link takes bytes, the host's events (or the page's input) and
//! the time, and returns what to do: records to send, actions for its adapter, when to wake it.
//! The adapters (the controller's WebSocket task, the browser's engine) carry bytes and
//! actions between the world and these machines and make no protocol decision.

pub mod client;
pub mod media;
#[cfg(test)]
mod media_tests;
pub mod server;
#[cfg(test)]
mod tests;

pub use client::{ClientAction, ClientLink, KeyRequest, LinkKey, Screen, Status};
pub use media::MediaAction;
pub use server::{LinkAudit, LinkStats, ServerAction, ServerLink, ServerLinkConfig};

/// How a link's WebSocket is closed: a close code (RFC 6455) and a short reason the page can
/// show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Farewell {
    pub code: u16,
    pub reason: String,
}

impl Farewell {
    /// The reason cut to what a close frame may carry (123 bytes), on a character boundary.
    pub fn frame_reason(&self) -> &str {
        crate::text::truncated(&self.reason, 123)
    }
}

/// The WebSocket close codes links use (RFC 6455, section 7.4.1); alerts map to theirs with
/// [`crate::wire::AlertCode::close_code`].
pub mod close_code {
    pub const NORMAL: u16 = 1000;
    pub const AWAY: u16 = 1001;
    pub const PROTOCOL: u16 = 1002;
    pub const POLICY: u16 = 1008;
}
