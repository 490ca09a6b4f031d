//! Lantern's controller: the HTTPS site and API (axum + rustls), the console key store, the
//! WebSocket console server, and the host backends.
//!
//! Protocol decisions live in the `shared` crate; this crate does the I/O around them.

pub mod app;
pub mod config;
pub mod console;
pub mod hosts;
pub mod store;
pub mod tls;
pub mod web;

use std::net::TcpListener;
use std::sync::Arc;

use anyhow::Context;

use crate::app::AppState;
use crate::config::Config;
use crate::store::UserStore;

/// Binds the listeners, prints where to go and the first-run password, and serves until
/// Ctrl-C.
pub async fn run(mut config: Config) -> anyhow::Result<()> {
    std::fs::create_dir_all(&config.data_dir).with_context(|| format!("cannot create data directory {}", config.data_dir.display()))?;
    let users = Arc::new(UserStore::open(&config.data_dir.join("lantern.db")).context("cannot open the user database")?);

    // Bind first so that port 0 works and the addresses printed are the real ones.
    let site = TcpListener::bind(config.listen).with_context(|| format!("cannot listen on {}", config.listen))?;
    site.set_nonblocking(true)?;
    config.listen = site.local_addr()?;
    let plain = match config.console_plain_listen {
        Some(addr) => {
            let listener = tokio::net::TcpListener::bind(addr).await.with_context(|| format!("cannot listen on {addr}"))?;
            config.console_plain_listen = Some(listener.local_addr()?);
            Some(listener)
        }
        None => None,
    };

    let tls = tls::rustls_config(&config).await?;
    let state = AppState::new(&config, users.clone())?;

    println!("Lantern controller: https://{}/", config.listen);
    if let Some(addr) = config.console_plain_listen {
        println!("Plain console listener: ws://{addr}/console/ws");
    }
    // Printed, never logged: the operator needs it once, the logs must never hold it.
    if let Some(password) = users.ensure_first_admin()? {
        println!("First-run administrator: user admin, password {password} (you must change it at first login)");
    }

    if let Some(listener) = plain {
        let router = web::plain_console_router(state.clone());
        tokio::spawn(async move {
            if let Err(err) = axum::serve(listener, router).await {
                tracing::error!(error = %err, "plain console listener failed");
            }
        });
    }
    let handle = axum_server::Handle::new();
    let shutdown = handle.clone();
    tokio::spawn(async move {
        let _ = tokio::signal::ctrl_c().await;
        shutdown.graceful_shutdown(Some(std::time::Duration::from_secs(2)));
    });
    axum_server::from_tcp_rustls(site, tls)
        .handle(handle)
        .serve(web::router(state).into_make_service())
        .await
        .context("HTTPS server failed")
}
