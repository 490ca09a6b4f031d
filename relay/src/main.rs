//! `lantern-relay`: runs on a node that browsers, agents and controllers can all reach (a DMZ,
//! a cloud machine), and joins them to controllers that dialled out to it. It is not trusted:
//! it forwards TLS it cannot open, and admits only controllers whose key is on its list.

use std::path::PathBuf;

use clap::Parser;

#[derive(Parser)]
#[command(version, about = "Lantern relay: joins browsers and agents to controllers that dialled out to it")]
struct Args {
    /// The relay's configuration (TOML: listen, domain, allow, limits).
    #[arg(long, default_value = "/etc/lantern-relay/relay.toml")]
    config: PathBuf,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "lantern_relay=info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let config = lantern_relay::Config::load(&args.config)?;
    let listener = tokio::net::TcpListener::bind(config.listen).await?;
    tracing::info!(listen = %listener.local_addr()?, domain = %config.domain, allowed = config.allow.len(), "lantern-relay listening");
    // Tests read the port from here when they let the system choose it.
    println!("listening on {}", listener.local_addr()?);
    let relay = lantern_relay::Relay::new(config)?;
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        served = relay.serve(listener) => served,
        _ = terminate.recv() => Ok(()),
        _ = tokio::signal::ctrl_c() => Ok(()),
    }
}
