//! Lantern's controller: the HTTPS site and API (axum + rustls), the console key store, the
//! WebSocket console server, and the host backends.
//!
//! Protocol decisions live in the `shared` crate; this crate does the I/O around them.

pub mod accounts;
pub mod agents;
pub mod app;
pub mod config;
pub mod console;
pub mod directory;
pub mod federation;
pub mod health;
pub mod hosts;
pub mod limits;
pub mod media;
pub mod metrics;
pub mod notify;
pub mod quiet;
pub mod recovery;
pub mod redfish;
pub mod relay;
pub mod secret;
pub mod store;
pub mod sync;
pub mod syslog;
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
    plain_handle: axum_server::Handle,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
    plain_server: Option<tokio::task::JoinHandle<()>>,
}

impl Running {
    /// Waits until the server stops.
    pub async fn wait(mut self) -> anyhow::Result<()> {
        let served = (&mut self.server).await;
        self.stopped().await;
        served.context("HTTPS server task failed")?.context("HTTPS server failed")
    }

    /// Stops serving: both listeners stop accepting, open console links close (each with its
    /// audit record), open requests may finish for up to two seconds.
    pub fn shutdown(&self) {
        self.state.shutdown();
        self.handle.graceful_shutdown(Some(std::time::Duration::from_secs(2)));
        self.plain_handle.graceful_shutdown(Some(std::time::Duration::from_secs(2)));
    }

    /// Waits until both listeners have stopped, every console link has closed and every
    /// record is written.
    pub async fn stopped(&mut self) {
        if !self.server.is_finished() {
            let _ = (&mut self.server).await;
        }
        if let Some(plain) = self.plain_server.take() {
            let _ = plain.await;
        }
        self.state.links_closed().await;
        self.state.journal.flush().await;
    }
}

/// Binds the listeners (port 0 works) and starts serving.
pub async fn start(mut config: Config) -> anyhow::Result<Running> {
    make_private_dir(&config.data_dir)?;
    if let Some(kerberos) = &mut config.auth.kerberos {
        directory::kerberos::prepare(kerberos, &config.data_dir)?;
    }
    let database = config.data_dir.join("lantern.db");
    let users = Arc::new(UserStore::open(&database).context("cannot open the user database")?);
    // The database holds password hashes, sessions and the audit trail: the owner's only.
    for file in ["lantern.db", "lantern.db-wal", "lantern.db-shm"] {
        keep_private(&config.data_dir.join(file))?;
    }
    let audit = Arc::new(AuditLog::open(&config.data_dir.join("lantern.db")).context("cannot open the audit trail")?);

    let site = TcpListener::bind(config.listen).with_context(|| format!("cannot listen on {}", config.listen))?;
    site.set_nonblocking(true)?;
    config.listen = site.local_addr()?;
    let plain = match config.console_plain_listen {
        Some(addr) => {
            let listener = TcpListener::bind(addr).with_context(|| format!("cannot listen on {addr}"))?;
            listener.set_nonblocking(true)?;
            config.console_plain_listen = Some(listener.local_addr()?);
            Some(listener)
        }
        None => None,
    };
    let tls = tls::rustls_config(&config).await?;
    let state = AppState::new(&config, users.clone(), audit)?;
    let first_password = users.ensure_first_admin()?;
    if first_password.is_some() {
        state
            .audit(
                "controller",
                "user.create",
                "admin",
                serde_json::json!({"role": "Administrator", "first_run": true}),
            )
            .await;
    }
    state.audit("controller", "controller.start", "", serde_json::json!({"listen": config.listen.to_string()})).await;

    let limits = config.limits.listener();
    let plain_handle = axum_server::Handle::new();
    let plain_server = plain.map(|listener| {
        let router = web::plain_console_router(state.clone());
        let handle = plain_handle.clone();
        tokio::spawn(async move {
            if let Err(err) = limits::serve(listener, router, limits, None, handle).await {
                tracing::error!(error = %err, "plain console listener failed");
            }
        })
    });
    if let Some(relay) = config.relay.clone() {
        let site = relay::Site { router: web::router(state.clone()), tls: tls.clone(), limits };
        let _ = state.relay.set(relay::start(relay, state.clone(), site));
    }
    let handle = axum_server::Handle::new();
    let server = tokio::spawn(limits::serve(site, web::router(state.clone()), limits, Some(tls), handle.clone()));
    Ok(Running {
        site: config.listen,
        plain: config.console_plain_listen,
        first_password,
        state,
        handle,
        plain_handle,
        server,
        plain_server,
    })
}

/// Makes the data directory (or narrows an existing one) so that only the controller's user
/// may enter it: it holds the TLS key, the node signing key and the database.
fn make_private_dir(dir: &std::path::Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create data directory {}", dir.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .with_context(|| format!("cannot make {} private", dir.display()))?;
    }
    Ok(())
}

/// Narrows a file to its owner (0600), if it exists.
fn keep_private(file: &std::path::Path) -> anyhow::Result<()> {
    #[cfg(unix)]
    if file.exists() {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o600))
            .with_context(|| format!("cannot make {} private", file.display()))?;
    }
    Ok(())
}

/// Starts the controller, prints where to go and the first-run password, and serves until
/// Ctrl-C.
pub async fn run(config: Config) -> anyhow::Result<()> {
    let running = start(config).await?;
    println!("Lantern controller: https://{}/", running.site);
    // What the web UI's footer and GET /api/node show, to compare out of band (for example
    // when the pages come through a relay).
    println!("Controller key fingerprint: {}", running.state.node.pin());
    if let Some(addr) = running.plain {
        println!("Plain console listener: ws://{addr}/console/ws");
    }
    // Printed, never logged: the operator needs it once, the logs must never hold it.
    if let Some(password) = &running.first_password {
        println!("First-run administrator: user admin, password {password} (you must change it at first login)");
    }
    let (handle, plain_handle, state) = (running.handle.clone(), running.plain_handle.clone(), running.state.clone());
    tokio::spawn(async move {
        let _ = tokio::signal::ctrl_c().await;
        state.shutdown();
        handle.graceful_shutdown(Some(std::time::Duration::from_secs(2)));
        plain_handle.graceful_shutdown(Some(std::time::Duration::from_secs(2)));
    });
    running.wait().await
}
