//! Agents: `lantern-agent` on managed machines dials out to the controller, which is the
//! intermediary between users and agents (seed 003).
//!
//! - `socket`: `/agent/link`, the WebSocket every agent connection arrives on; its first message
//!   says whether it is an enrolment (`socket::enrol`) or a running agent (`link`).
//! - `link`: the pump between one running agent's WebSocket and `agent_link::ControllerLink`:
//!   it carries out the link's actions (store the association, route stream output) and the
//!   controller's commands (open a directive or the console, type, cancel, power, revoke).
//! - `host`: an agent's host as the rest of the controller sees it: its text console (a login
//!   shell on the machine, emulated here as for `local`), its serial console, power through
//!   the OS; "not connected" while the agent is away.
//! - `directives`: the commands users run and what they printed, bounded.
//!
//! Every agent host has a `Slot`: its `Host`, and the live link (if any) in a watch channel,
//! which the host's driver and the directives API follow.

pub mod directives;
pub mod host;
pub mod link;
pub mod screen;
pub mod socket;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use agent_link::{Facts, NodeProof, OpenKind, Pin, PowerVerb, StaticSecret};
use tokio::sync::{mpsc, oneshot, watch};

use crate::config::AgentsConfig;
use crate::hosts::{Host, HostRegistry};
use crate::store::agents::AgentStore;
use crate::sync::Locked;

/// What the controller asks of a running agent's link.
pub enum Command {
    /// Runs a directive; `opened` says whether it reached the agent.
    Directive {
        directive: Arc<directives::Directive>,
        kind: OpenKind,
        opened: oneshot::Sender<Result<(), String>>,
    },
    Cancel {
        directive: u64,
    },
    /// Opens a byte stream (the text console, or the screen); its output goes to `output`
    /// until the stream ends, and then `ended` hears why ("" when by itself).
    Stream {
        kind: OpenKind,
        output: mpsc::Sender<Vec<u8>>,
        ended: oneshot::Sender<String>,
        opened: oneshot::Sender<Result<u32, String>>,
    },
    Input {
        stream: u32,
        bytes: Vec<u8>,
    },
    /// Ends a stream's program (the console nobody watches any more).
    CloseStream {
        stream: u32,
    },
    Power {
        verb: PowerVerb,
        done: oneshot::Sender<Result<(), String>>,
    },
    /// Ends the link (revoked, or replaced by a newer connection of the same agent).
    Close {
        reason: &'static str,
    },
}

/// A running agent's link, as its host and the API see it.
#[derive(Clone)]
pub struct LiveLink {
    pub generation: u64,
    pub commands: mpsc::Sender<Command>,
    /// The agent can open the machine's screen (its local VNC server).
    pub screen: bool,
}

/// What a connecting agent said of itself.
#[derive(Clone, Copy)]
pub struct Hello<'a> {
    /// The association's generation it proved.
    pub epoch: u64,
    pub version: &'a str,
    pub facts: &'a Facts,
    /// It can open the machine's screen.
    pub screen: bool,
}

/// What the host list shows of an agent.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct AgentInfo {
    pub connected: bool,
    /// When it connected, or (offline) when it was last seen: Unix milliseconds.
    pub since: Option<i64>,
    pub last_seen: Option<i64>,
    pub version: Option<String>,
    pub facts: Option<crate::store::agents::FactsRow>,
    pub epoch: Option<u64>,
}

pub struct Slot {
    pub host: Arc<Host>,
    pub link: watch::Sender<Option<LiveLink>>,
    pub info: Mutex<AgentInfo>,
    /// The machine's sensors, as its agent reports them.
    pub health: Arc<crate::health::Health>,
    /// Its recovery timer, when `[agents] recovery` is configured.
    pub recovery: Option<Arc<crate::recovery::Recovery>>,
}

pub struct Agents {
    pub store: Arc<AgentStore>,
    secret: StaticSecret,
    proof: NodeProof,
    pub pin: Pin,
    pub config: AgentsConfig,
    slots: Mutex<HashMap<String, Arc<Slot>>>,
    pub directives: directives::Directives,
    generation: std::sync::atomic::AtomicU64,
    services: HostServices,
}

/// What each agent host's sensors, logs and recovery timer need of the controller.
pub struct HostServices {
    /// Readings kept per sensor.
    pub sensor_history: usize,
    pub journal: crate::store::Journal,
    /// Where a user's recovery switch is kept.
    pub events: Arc<crate::store::EventLog>,
    /// Where recovery keeps its screen captures.
    pub data_dir: std::path::PathBuf,
}

impl Agents {
    /// Makes the host of every enrolled agent that is not revoked (offline until it connects).
    pub fn start(
        config: AgentsConfig,
        store: Arc<AgentStore>,
        node: &crate::federation::Node,
        hosts: &HostRegistry,
        services: HostServices,
    ) -> anyhow::Result<Self> {
        let (secret, proof) = node.agent_identity();
        let agents = Self {
            store,
            secret,
            proof,
            pin: node.pin(),
            config,
            slots: Mutex::new(HashMap::new()),
            directives: directives::Directives::default(),
            generation: std::sync::atomic::AtomicU64::new(0),
            services,
        };
        for row in agents.store.list()? {
            if row.revoked_at.is_none() {
                let slot = agents.slot_for(&row.host_id, &row.name, hosts)?;
                *slot.info.locked() = AgentInfo {
                    connected: false,
                    since: row.last_seen,
                    last_seen: row.last_seen,
                    version: row.version,
                    facts: row.facts,
                    epoch: u64::try_from(row.epoch).ok(),
                };
            }
        }
        Ok(agents)
    }

    pub(crate) fn identity(&self) -> (&StaticSecret, &NodeProof) {
        (&self.secret, &self.proof)
    }

    /// The agent host `host_id`, made (and registered) if it is new.
    pub fn slot_for(&self, host_id: &str, name: &str, hosts: &HostRegistry) -> anyhow::Result<Arc<Slot>> {
        let mut slots = self.slots.locked();
        if let Some(slot) = slots.get(host_id) {
            return Ok(slot.clone());
        }
        let (link, watching) = watch::channel(None);
        let (host, backend) = host::new(host_id, name);
        let sharing = hosts.add(host.clone())?;
        host::start(host_id, backend, watching, sharing);
        tokio::spawn(crate::app::log_status_changes(host.clone(), self.services.journal.clone()));
        let health = Arc::new(crate::health::Health::new(self.services.sensor_history));
        let recovery = self.start_recovery(&host)?;
        let slot = Arc::new(Slot { host, link, info: Mutex::new(AgentInfo::default()), health, recovery });
        slots.insert(host_id.to_string(), slot.clone());
        Ok(slot)
    }

    /// The host's recovery timer, on as the user last switched it (or as configured).
    fn start_recovery(&self, host: &Arc<Host>) -> anyhow::Result<Option<Arc<crate::recovery::Recovery>>> {
        let Some(config) = &self.config.recovery else { return Ok(None) };
        let enabled = match self.services.events.setting(&host.id, "recovery")?.as_deref() {
            Some(value) => value == "on",
            None => config.enabled,
        };
        let timer = Arc::new(crate::recovery::Recovery::new(config, enabled));
        let captures = crate::recovery::captures_dir(&self.services.data_dir, &host.id);
        tokio::spawn(crate::recovery::run(host.clone(), timer.clone(), self.services.journal.clone(), captures));
        Ok(Some(timer))
    }

    pub fn slot(&self, host_id: &str) -> Option<Arc<Slot>> {
        self.slots.locked().get(host_id).cloned()
    }

    /// A new connection of `host_id`'s agent takes over from any older one.
    pub fn connected(&self, slot: &Slot, commands: mpsc::Sender<Command>, hello: &Hello<'_>, now: i64) -> u64 {
        let Hello { epoch, version, facts, screen } = *hello;
        let generation = self.generation.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        let older = slot.link.send_replace(Some(LiveLink { generation, commands, screen }));
        if let Some(older) = older {
            let _ =
                older.commands.try_send(Command::Close { reason: "replaced by a newer connection of the same agent" });
        }
        *slot.info.locked() = AgentInfo {
            connected: true,
            since: Some(now),
            last_seen: Some(now),
            version: Some(version.to_string()),
            facts: Some(facts.into()),
            epoch: Some(epoch),
        };
        generation
    }

    /// The connection `generation` ended (unless a newer one took over already).
    pub fn disconnected(&self, slot: &Slot, generation: u64, now: i64) -> bool {
        let ended = slot.link.send_if_modified(|live| {
            if live.as_ref().is_some_and(|l| l.generation == generation) {
                *live = None;
                true
            } else {
                false
            }
        });
        if ended {
            let mut info = slot.info.locked();
            info.connected = false;
            info.since = Some(now);
            info.last_seen = Some(now);
        }
        ended
    }

    /// Revokes `host_id`'s agent: its record, then its open link, then its host.
    pub fn forget(&self, host_id: &str, hosts: &HostRegistry) {
        let slot = self.slots.locked().remove(host_id);
        if let Some(slot) = slot {
            if let Some(live) = slot.link.send_replace(None) {
                let _ = live.commands.try_send(Command::Close { reason: "the agent was revoked" });
            }
        }
        hosts.remove(host_id);
        self.directives.forget_host(host_id);
    }

    /// The live link of `host_id`'s agent, if it is connected now.
    pub fn live(&self, host_id: &str) -> Option<LiveLink> {
        self.slot(host_id).and_then(|s| s.link.borrow().clone())
    }

    pub fn info(&self, host_id: &str) -> Option<AgentInfo> {
        self.slot(host_id).map(|s| s.info.locked().clone())
    }
}
