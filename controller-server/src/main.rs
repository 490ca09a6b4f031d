//! `controller-server`: starts the Lantern controller.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand};
use controller_server::config::Config;
use controller_server::store::{AuditLog, Verification};

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
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Works with the audit trail in the data directory (the controller may be running).
    Audit {
        #[command(subcommand)]
        action: AuditAction,
    },
}

#[derive(Subcommand)]
enum AuditAction {
    /// Checks the hash chain; exits with status 1 and names the first bad record if broken.
    Verify,
    /// Writes the whole trail to standard output as JSON lines, oldest first.
    Export,
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
    match args.command {
        None => controller_server::run(config).await,
        Some(Command::Audit { action }) => audit(&config, action),
    }
}

fn audit(config: &Config, action: AuditAction) -> anyhow::Result<()> {
    let path = config.data_dir.join("lantern.db");
    anyhow::ensure!(path.exists(), "no database at {}", path.display());
    let log = AuditLog::open(&path)?;
    match action {
        AuditAction::Verify => {
            // The node key checks the checkpoints; it lives beside the database, not in it.
            let key_file = config.node_key_file.clone().unwrap_or_else(|| config.data_dir.join("node-key"));
            anyhow::ensure!(key_file.exists(), "no node key at {}", key_file.display());
            let node = controller_server::federation::Node::load_or_create(config.node_id.clone(), &key_file)?;
            match log.verify(&node.verifying_key())? {
                Verification::Intact { records, last_hash, checkpoints } => {
                    println!("audit trail intact: {records} records, {checkpoints} signed checkpoints, last hash {last_hash}");
                    Ok(())
                }
                Verification::Broken { problems } => {
                    for p in &problems {
                        println!("audit trail broken at record {}: {}", p.id, p.reason);
                    }
                    std::process::exit(1);
                }
            }
        }
        AuditAction::Export => {
            use std::io::Write;
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            // Writing can fail (a closed pipe): report that, not a store failure.
            let mut write_error = None;
            let read = log.for_each(|record| {
                let written = serde_json::to_writer(&mut out, &record).map_err(std::io::Error::from);
                match written.and_then(|()| writeln!(out)) {
                    Ok(()) => Ok(()),
                    Err(err) => {
                        write_error = Some(err);
                        Err(controller_server::store::users::StoreError::Task)
                    }
                }
            });
            if let Some(err) = write_error {
                return Err(anyhow::Error::from(err).context("cannot write the export"));
            }
            read?;
            for c in log.checkpoints()? {
                writeln!(out, "{}", serde_json::json!({ "checkpoint": c }))?;
            }
            Ok(())
        }
    }
}
