//! The `Lantern` message registry: every event this controller sends names one of these
//! messages by `MessageId` (`Lantern.1.0.PowerStateChanged`), and the service serves the whole
//! registry (`/redfish/v1/Registries/Lantern`) so that a client can look up what an id means,
//! its arguments and what to do about it, as DSP0266 §10 asks of event sources.

use serde_json::{json, Map, Value};

pub const PREFIX: &str = "Lantern";
pub const VERSION: &str = "1.0.0";

/// One message of the registry.
#[derive(Debug, PartialEq, Eq)]
pub struct Message {
    pub key: &'static str,
    pub description: &'static str,
    /// With `%1`, `%2`... for the arguments, as in DMTF's registries.
    pub text: &'static str,
    pub severity: &'static str,
    pub args: &'static [&'static str],
    pub resolution: &'static str,
    /// The schema of the resource it concerns (what `ResourceTypes` filters match).
    pub resource_type: &'static str,
}

pub const POWER_STATE_CHANGED: &Message = &Message {
    key: "PowerStateChanged",
    description: "A host's power state changed.",
    text: "The power state of host %1 changed to %2.",
    severity: "OK",
    args: &["host", "power state"],
    resolution: "None.",
    resource_type: "ComputerSystem",
};

pub const POWER_ACTION: &Message = &Message {
    key: "PowerActionPerformed",
    description: "A user pressed a host's power button.",
    text: "Power action %2 on host %1 by %3.",
    severity: "OK",
    args: &["host", "action", "user"],
    resolution: "None.",
    resource_type: "ComputerSystem",
};

pub const SIGNAL_LOST: &Message = &Message {
    key: "HostSignalLost",
    description: "The controller lost a running host's screen or connection.",
    text: "Host %1 lost its signal: %2",
    severity: "Warning",
    args: &["host", "reason"],
    resolution: "Check the host's video source or its connection to the controller.",
    resource_type: "ComputerSystem",
};

pub const SIGNAL_RESTORED: &Message = &Message {
    key: "HostSignalRestored",
    description: "A host's screen or connection came back.",
    text: "Host %1 has its signal back.",
    severity: "OK",
    args: &["host"],
    resolution: "None.",
    resource_type: "ComputerSystem",
};

pub const SENSOR_NORMAL: &Message = &Message {
    key: "SensorReadingNormal",
    description: "A sensor's reading went back below its thresholds.",
    text: "Sensor %2 of host %1 is back to normal: %3.",
    severity: "OK",
    args: &["host", "sensor", "reading"],
    resolution: "None.",
    resource_type: "Sensor",
};

pub const SENSOR_CAUTION: &Message = &Message {
    key: "SensorReadingAboveCaution",
    description: "A sensor's reading crossed its upper caution threshold.",
    text: "Sensor %2 of host %1 is above its caution threshold: %3.",
    severity: "Warning",
    args: &["host", "sensor", "reading"],
    resolution: "Check the host's cooling and load.",
    resource_type: "Sensor",
};

pub const SENSOR_CRITICAL: &Message = &Message {
    key: "SensorReadingAboveCritical",
    description: "A sensor's reading reached its upper critical threshold.",
    text: "Sensor %2 of host %1 is at its critical threshold: %3.",
    severity: "Critical",
    args: &["host", "sensor", "reading"],
    resolution: "Act now: the host may shut itself down or be damaged.",
    resource_type: "Sensor",
};

pub const RECOVERY_RESET: &Message = &Message {
    key: "RecoveryReset",
    description: "Automatic recovery reset a host whose heartbeat stopped.",
    text: "Automatic recovery reset host %1: %2",
    severity: "Critical",
    args: &["host", "reason"],
    resolution: "Look at the screen capture in the host's event log, and at why the host hung.",
    resource_type: "ComputerSystem",
};

pub const RECOVERY_GAVE_UP: &Message = &Message {
    key: "RecoveryGaveUp",
    description: "Automatic recovery stopped resetting a host that keeps hanging.",
    text: "Automatic recovery gave up on host %1: %2",
    severity: "Critical",
    args: &["host", "reason"],
    resolution: "The host needs a person: open its console.",
    resource_type: "ComputerSystem",
};

pub const LOGIN_FAILED: &Message = &Message {
    key: "LoginFailed",
    description: "A login failed: a wrong name or password.",
    text: "A login as '%1' from %2 failed.",
    severity: "Warning",
    args: &["user", "source address"],
    resolution: "None, unless it repeats: then find who is trying.",
    resource_type: "SessionService",
};

pub const ACCOUNT_LOCKED: &Message = &Message {
    key: "LoginLockedOut",
    description: "Logins with a name from an address are held after repeated failures.",
    text: "Logins as '%1' from %2 are held for %3 seconds after repeated failures.",
    severity: "Critical",
    args: &["user", "source address", "seconds"],
    resolution: "Find who is trying; the hold ends by itself.",
    resource_type: "AccountService",
};

pub const AGENT_CONNECTED: &Message = &Message {
    key: "AgentConnected",
    description: "A host's agent connected to the controller.",
    text: "The agent of host %1 connected: %2.",
    severity: "OK",
    args: &["host", "detail"],
    resolution: "None.",
    resource_type: "ComputerSystem",
};

pub const AGENT_DISCONNECTED: &Message = &Message {
    key: "AgentDisconnected",
    description: "A host's agent left the controller.",
    text: "The agent of host %1 disconnected.",
    severity: "Warning",
    args: &["host"],
    resolution: "Check that the host is up and can reach the controller.",
    resource_type: "ComputerSystem",
};

pub const TEST_EVENT: &Message = &Message {
    key: "TestEvent",
    description: "A test event an administrator asked for (EventService.SubmitTestEvent).",
    text: "Test event: %1",
    severity: "OK",
    args: &["text"],
    resolution: "None.",
    resource_type: "EventService",
};

pub const ALL: &[&Message] = &[
    POWER_STATE_CHANGED,
    POWER_ACTION,
    SIGNAL_LOST,
    SIGNAL_RESTORED,
    SENSOR_NORMAL,
    SENSOR_CAUTION,
    SENSOR_CRITICAL,
    RECOVERY_RESET,
    RECOVERY_GAVE_UP,
    LOGIN_FAILED,
    ACCOUNT_LOCKED,
    AGENT_CONNECTED,
    AGENT_DISCONNECTED,
    TEST_EVENT,
];

/// `Lantern.1.0`: the registry part of a `MessageId` (major and minor version, as DSP0266 has
/// it), then the key.
pub fn message_id(message: &Message) -> String {
    format!("{PREFIX}.{}.{}", major_minor(), message.key)
}

fn major_minor() -> &'static str {
    VERSION.rsplit_once('.').map_or(VERSION, |(head, _)| head)
}

/// The message by the key part of a `MessageId` (any version of ours).
pub fn by_key(key: &str) -> Option<&'static Message> {
    ALL.iter().copied().find(|m| m.key == key)
}

/// `text` with its `%n` filled in from `args` (a missing argument stays as `%n`).
pub fn fill(message: &Message, args: &[String]) -> String {
    let mut filled = message.text.to_string();
    // From the highest number down, so that `%1` does not eat the start of `%10`.
    for (n, arg) in args.iter().enumerate().rev() {
        filled = filled.replace(&format!("%{}", n + 1), arg);
    }
    filled
}

/// The whole registry as a `MessageRegistry` resource.
pub fn registry_json(uri: &str) -> Value {
    let mut messages = Map::new();
    for m in ALL {
        messages.insert(
            m.key.to_string(),
            json!({
                "Description": m.description,
                "Message": m.text,
                "MessageSeverity": m.severity,
                "NumberOfArgs": m.args.len(),
                "ParamTypes": m.args.iter().map(|_| "string").collect::<Vec<_>>(),
                "Resolution": m.resolution,
            }),
        );
    }
    json!({
        "@odata.id": uri,
        "@odata.type": "#MessageRegistry.v1_6_0.MessageRegistry",
        "Id": format!("{PREFIX}.{VERSION}"),
        "Name": "Lantern Message Registry",
        "Language": "en",
        "Description": "The events of a Lantern controller: its hosts' power, signal, sensors, recovery and agents, and logins.",
        "RegistryPrefix": PREFIX,
        "RegistryVersion": VERSION,
        "OwningEntity": "Lantern",
        "Messages": messages,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_name_the_registry_and_arguments_fill_in_order() {
        assert_eq!(message_id(POWER_STATE_CHANGED), "Lantern.1.0.PowerStateChanged");
        let args: Vec<String> = ["vm", "Off"].map(String::from).to_vec();
        assert_eq!(fill(POWER_STATE_CHANGED, &args), "The power state of host vm changed to Off.");
        assert_eq!(by_key("LoginFailed").map(|m| m.severity), Some("Warning"));
    }

    #[test]
    fn every_message_has_as_many_placeholders_as_arguments_and_a_unique_key() {
        for m in ALL {
            for n in 1..=m.args.len() {
                assert!(m.text.contains(&format!("%{n}")), "{} lacks %{n}", m.key);
            }
            assert!(!m.text.contains(&format!("%{}", m.args.len() + 1)), "{}", m.key);
            assert_eq!(ALL.iter().filter(|o| o.key == m.key).count(), 1, "{}", m.key);
        }
        let registry = registry_json("/x");
        assert_eq!(registry["Messages"].as_object().map(Map::len), Some(ALL.len()));
    }
}
