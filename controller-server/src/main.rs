//! `controller-server`: starts the Lantern controller.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;
use controller_server::config::Config;

#[derive(Parser)]
#[command(version, about = "Lantern lights-out controller")]
struct Args {
    /// Configuration file (TOML). Without it, the defaults: https://127.0.0.1:8443 and the
    /// embedded `local` host.
    #[arg(long, short)]
    config: Option<PathBuf>,
    /// Address of the HTTPS listener.
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// Address of the plain console listener.
    #[arg(long)]
    console_plain_listen: Option<SocketAddr>,
    /// Data directory (database, generated certificate).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Folder of the built web console.
    #[arg(long)]
    web_root: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("LANTERN_LOG").unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let mut config = match &args.config {
        Some(path) => Config::load(path)?,
        None => Config::default(),
    };
    if let Some(v) = args.listen {
        config.listen = v;
    }
    if let Some(v) = args.console_plain_listen {
        config.console_plain_listen = Some(v);
    }
    if let Some(v) = args.data_dir {
        config.data_dir = v;
    }
    if let Some(v) = args.web_root {
        config.web_root = v;
    }
    config.validate()?;
    controller_server::run(config).await
}
