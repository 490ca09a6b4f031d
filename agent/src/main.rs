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
    // The Kerberos library finds the keytab by the environment: set it while this process is
    // still one thread.
    if let Commands::Run { config, .. } = &cli.command {
        if let Some(kerberos) = config::Config::load(config).ok().and_then(|c| c.kerberos) {
            std::env::set_var("KRB5_KTNAME", &kerberos.keytab);
        }
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("lantern-agent: cannot start: {err}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(async {
        match cli.command {
            Commands::Enroll { controller, token, pin, state } => {
                enroll::enroll(&controller, &token, &pin, &state).await
            }
            Commands::Run { config, state } => run::run(&config, &state).await,
        }
    });
    match outcome {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("lantern-agent: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
