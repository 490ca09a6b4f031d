//! Host backends: how the controller reaches a managed machine.
//!
//! Every host publishes its screen through a [`VideoHub`] (encoded once, whoever watches) and
//! takes input through a channel. Backends: `local` (a pseudo-terminal).

pub mod hub;
pub mod local;

use std::sync::Arc;

use shared::wire::message::HostStatus;
use shared::wire::InputEvent;
use tokio::sync::{mpsc, watch};

use crate::config::{BackendConfig, HostConfig};
pub use hub::VideoHub;

/// A managed host as the rest of the controller sees it.
pub struct Host {
    pub id: String,
    pub name: String,
    pub kind: &'static str,
    pub video: Arc<VideoHub>,
    pub input: mpsc::Sender<InputEvent>,
    pub status: watch::Receiver<HostStatus>,
    /// Power control, for backends that have it.
    pub power: Option<mpsc::Sender<PowerAction>>,
}

/// What a power button does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PowerAction {
    On,
    Off,
    Reset,
}

pub struct HostRegistry {
    hosts: Vec<Arc<Host>>,
}

impl HostRegistry {
    /// Starts every configured backend. Needs a running tokio runtime.
    pub fn start(configs: &[HostConfig]) -> Self {
        let hosts = configs
            .iter()
            .map(|c| match &c.backend {
                BackendConfig::Local { command, args, cols, rows } => local::spawn(local::LocalHost {
                    id: c.id.clone(),
                    name: c.name.clone(),
                    command: command.clone(),
                    args: args.clone(),
                    cols: *cols,
                    rows: *rows,
                }),
            })
            .collect();
        Self { hosts }
    }

    pub fn get(&self, id: &str) -> Option<Arc<Host>> {
        self.hosts.iter().find(|h| h.id == id).cloned()
    }

    pub fn all(&self) -> &[Arc<Host>] {
        &self.hosts
    }
}
