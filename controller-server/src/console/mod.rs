//! The console server: the key store, the WebSocket links that run the console protocol, and
//! shared viewing (who watches a host, who holds its keyboard and mouse).

pub mod keys;
pub mod launch;
pub mod link;
pub mod live;
pub mod media;
pub mod sharing;
pub mod viewer;

pub use keys::{KeyBinding, KeyStore};
