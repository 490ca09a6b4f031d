//! `lantern-agent`: runs on a managed machine and dials out to its controller, so the machine
//! is managed with no inbound port. `enroll` meets the controller once with a single-use token
//! and its pin; `run` keeps the machine connected from then on.

mod config;
mod console;
mod dial;
mod directive;
mod enroll;
mod facts;
mod kerberos;
mod run;
mod screen;
mod state;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "lantern-agent", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Commands,
}

#[derive(Subcommand)]
enum Commands {
    /// Enrols this machine with a controller, once, with a token an administrator made.
    Enroll {
        /// The controller's HTTPS URL, e.g. https://ctl.example:8443.
        #[arg(long)]
        controller: String,
        /// The single-use enrolment token (base64url: it may begin with '-').
        #[arg(long, allow_hyphen_values = true)]
        token: String,
        /// The controller's identity key fingerprint, SHA256:...
        #[arg(long)]
        pin: String,
        /// Where the agent keeps its keys and association (written 0600).
        #[arg(long, default_value = state::DEFAULT_PATH)]
        state: PathBuf,
    },
    /// Keeps this machine connected to the controller it enrolled with.
    Run {
        #[arg(long, default_value = config::DEFAULT_PATH)]
        config: PathBuf,
        #[arg(long, default_value = state::DEFAULT_PATH)]
        state: PathBuf,
    },
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|err| anyhow::anyhow!("cannot start: {err}"))
}

fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cli = Cli::parse();
    let outcome = match cli.command {
        Commands::Enroll { controller, token, pin, state } => {
            runtime().and_then(|r| r.block_on(enroll::enroll(&controller, &token, &pin, &state)))
        }
        Commands::Run { config, state } => config::Config::load(&config).and_then(|config| {
            // The Kerberos library finds the keytab by the environment: set it before the
            // runtime starts, while this process is still one thread.
            if let Some(kerberos) = &config.kerberos {
                std::env::set_var("KRB5_KTNAME", &kerberos.keytab);
            }
            runtime()?.block_on(run::run(config, &state))
        }),
    };
    match outcome {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("lantern-agent: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
