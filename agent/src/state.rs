//! The agent's state file: its static key, the controller's, who it is, and the association's
//! generations. Written atomically (a new file, synced, renamed over the old one, the folder
//! synced) and readable by its owner only, so a crash at any moment leaves either the old state
//! or the new one.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use agent_link::agent::AgentIdentity;
use agent_link::{AgentAssociations, Association, Psk, StaticSecret};
use base64::Engine;
use serde::{Deserialize, Serialize};

pub const DEFAULT_PATH: &str = "/var/lib/lantern-agent/state.json";
const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

#[derive(Serialize, Deserialize)]
struct Generation {
    epoch: u64,
    psk: String,
}

#[derive(Serialize, Deserialize)]
struct File {
    controller: String,
    pin: String,
    agent_id: String,
    host_id: String,
    name: String,
    secret: String,
    controller_static: String,
    current: Generation,
    previous: Option<Generation>,
    next: Option<Generation>,
}

/// What the agent knows after enrolment.
#[derive(Debug, Clone)]
pub struct State {
    pub controller: String,
    pub pin: String,
    pub host_id: String,
    pub name: String,
    pub identity: AgentIdentity,
    pub associations: AgentAssociations,
}

fn key32(text: &str, what: &str) -> anyhow::Result<[u8; 32]> {
    let bytes = B64.decode(text).map_err(|_| anyhow::anyhow!("the state file's {what} is not base64"))?;
    bytes.try_into().map_err(|_| anyhow::anyhow!("the state file's {what} is not 32 bytes"))
}

fn generation(g: &Generation) -> anyhow::Result<Association> {
    Ok(Association { epoch: g.epoch, psk: Psk::from_bytes(key32(&g.psk, "association key")?) })
}

fn encode(a: &Association) -> Generation {
    Generation { epoch: a.epoch, psk: B64.encode(a.psk.as_bytes()) }
}

impl State {
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|err| {
            anyhow::anyhow!(
                "cannot read the state file {}: {err} (enrol first: lantern-agent enroll ...)",
                path.display()
            )
        })?;
        let file: File = serde_json::from_str(&text).map_err(|err| anyhow::anyhow!("{}: {err}", path.display()))?;
        let mut associations = AgentAssociations::new(generation(&file.current)?);
        associations.previous = file.previous.as_ref().map(generation).transpose()?;
        associations.next = file.next.as_ref().map(generation).transpose()?;
        Ok(Self {
            controller: file.controller,
            pin: file.pin,
            host_id: file.host_id,
            name: file.name,
            identity: AgentIdentity {
                agent_id: file.agent_id,
                secret: StaticSecret::from_bytes(key32(&file.secret, "static key")?),
                controller_static: key32(&file.controller_static, "controller key")?,
            },
            associations,
        })
    }

    pub fn save(&self, path: &Path) -> anyhow::Result<()> {
        let file = File {
            controller: self.controller.clone(),
            pin: self.pin.clone(),
            agent_id: self.identity.agent_id.clone(),
            host_id: self.host_id.clone(),
            name: self.name.clone(),
            secret: B64.encode(self.identity.secret.as_bytes()),
            controller_static: B64.encode(self.identity.controller_static),
            current: encode(&self.associations.current),
            previous: self.associations.previous.as_ref().map(encode),
            next: self.associations.next.as_ref().map(encode),
        };
        let text = zeroize::Zeroizing::new(serde_json::to_vec_pretty(&file)?);
        write_atomically(path, &text)
    }
}

/// Replaces `path` with `bytes`: never a half-written file, whatever moment the machine stops.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let mut temporary = PathBuf::from(path);
    temporary.set_extension("tmp");
    {
        let mut file =
            std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&temporary)?;
        // An existing temporary file keeps its mode: make sure.
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        file.write_all(bytes)?;
        file.sync_all()?;
    }
    std::fs::rename(&temporary, path)?;
    std::fs::File::open(dir)?.sync_all()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_state_reads_back_as_written_and_only_its_owner_may_read_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/state.json");
        let mut associations = AgentAssociations::new(Association { epoch: 3, psk: Psk::from_bytes([1; 32]) });
        associations.next = Some(Association { epoch: 4, psk: Psk::from_bytes([2; 32]) });
        let state = State {
            controller: "https://ctl:8443".into(),
            pin: "SHA256:x".into(),
            host_id: "web-1".into(),
            name: "Web 1".into(),
            identity: AgentIdentity {
                agent_id: "a".into(),
                secret: StaticSecret::from_bytes([5; 32]),
                controller_static: [6; 32],
            },
            associations,
        };
        state.save(&path).unwrap();
        let back = State::load(&path).unwrap();
        assert_eq!(back.associations, state.associations);
        assert_eq!(back.identity.secret.as_bytes(), &[5; 32]);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert!(!dir.path().join("sub/state.tmp").exists());
    }
}
