//! The console server: the key store and the WebSocket links that run the console protocol.

pub mod keys;
pub mod launch;
pub mod link;

pub use keys::{KeyBinding, KeyStore};
