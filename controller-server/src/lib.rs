//! Lantern's controller: the HTTPS site and API (axum + rustls), the console key store, the
//! WebSocket console server, and the host backends.
//!
//! Protocol decisions live in the `shared` crate; this crate does the I/O around them.

pub mod app;
pub mod config;
pub mod console;
pub mod federation;
pub mod health;
pub mod hosts;
pub mod recovery;
pub mod redfish;
pub mod secret;
pub mod store;
pub mod tls;
pub mod web;

use std::net::TcpListener;
use std::sync::Arc;

use anyhow::Context;

use crate::app::AppState;
use crate::config::Config;
use crate::store::{AuditLog, UserStore};

/// A started controller.
pub struct Running {
    /// The HTTPS listener's real address.
    pub site: std::net::SocketAddr,
    pub plain: Option<std::net::SocketAddr>,
    /// The generated administrator password on first start (print it, never log it).
    pub first_password: Option<String>,
    pub state: AppState,
    handle: axum_server::Handle,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Running {
    /// Waits until the server stops.
    pub async fn wait(self) -> anyhow::Result<()> {
        self.server.await.context("HTTPS server task failed")?.context("HTTPS server failed")
    }

    /// Stops serving, letting open requests finish for up to two seconds.
    pub fn shutdown(&self) {
        self.handle.graceful_shutdown(Some(std::time::Duration::from_secs(2)));
    }
}

/// Binds the listeners (port 0 works) and starts serving.
pub async fn start(mut config: Config) -> anyhow::Result<Running> {
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("cannot create data directory {}", config.data_dir.display()))?;
    let users =
        Arc::new(UserStore::open(&config.data_dir.join("lantern.db")).context("cannot open the user database")?);
    let audit = Arc::new(AuditLog::open(&config.data_dir.join("lantern.db")).context("cannot open the audit trail")?);

    let site = TcpListener::bind(config.listen).with_context(|| format!("cannot listen on {}", config.listen))?;
    site.set_nonblocking(true)?;
    config.listen = site.local_addr()?;
    let plain = match config.console_plain_listen {
        Some(addr) => {
            let listener =
                tokio::net::TcpListener::bind(addr).await.with_context(|| format!("cannot listen on {addr}"))?;
            config.console_plain_listen = Some(listener.local_addr()?);
            Some(listener)
        }
        None => None,
    };
    let tls = tls::rustls_config(&config).await?;
    let state = AppState::new(&config, users.clone(), audit)?;
    let first_password = users.ensure_first_admin()?;
    if first_password.is_some() {
        state.audit(
            "controller",
            "user.create",
            "admin",
            serde_json::json!({"role": "Administrator", "first_run": true}),
        );
    }
    state.audit("controller", "controller.start", "", serde_json::json!({"listen": config.listen.to_string()}));

    if let Some(listener) = plain {
        let router = web::plain_console_router(state.clone());
        tokio::spawn(async move {
            if let Err(err) = axum::serve(listener, router).await {
                tracing::error!(error = %err, "plain console listener failed");
            }
        });
    }
    let handle = axum_server::Handle::new();
    let server = tokio::spawn(
        axum_server::from_tcp_rustls(site, tls)
            .handle(handle.clone())
            .serve(web::router(state.clone()).into_make_service()),
    );
    Ok(Running { site: config.listen, plain: config.console_plain_listen, first_password, state, handle, server })
}

/// Starts the controller, prints where to go and the first-run password, and serves until
/// Ctrl-C.
pub async fn run(config: Config) -> anyhow::Result<()> {
    let running = start(config).await?;
    println!("Lantern controller: https://{}/", running.site);
    if let Some(addr) = running.plain {
        println!("Plain console listener: ws://{addr}/console/ws");
    }
    // Printed, never logged: the operator needs it once, the logs must never hold it.
    if let Some(password) = &running.first_password {
        println!("First-run administrator: user admin, password {password} (you must change it at first login)");
    }
    let handle = running.handle.clone();
    tokio::spawn(async move {
        let _ = tokio::signal::ctrl_c().await;
        handle.graceful_shutdown(Some(std::time::Duration::from_secs(2)));
    });
    running.wait().await
}
