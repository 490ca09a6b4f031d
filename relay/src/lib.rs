//! `lantern-relay` as a library: the binary is a thin `main` over it, and tests and benchmarks
//! can run a relay in their own process.

pub mod config;
pub mod server;

pub use config::Config;
pub use server::Relay;
