//! A system's `Boot`: the one-time boot override of a host that takes media (`qemu`), as
//! Redfish tools set it: `BootSourceOverrideEnabled: Once` with a `BootSourceOverrideTarget`
//! of `Cd`, `Usb` (while a USB disk is plugged in) or `Pxe`; `Disabled` (or the target `None`)
//! clears it. After the override's boot the service shows `Disabled` again, as DSP0266 says of
//! `Once`.

use serde_json::{json, Value};

use super::error::RedfishError;
use crate::hosts::media::BootTarget;
use crate::hosts::Host;

const TARGET: &str = "Boot/BootSourceOverrideTarget";
const ENABLED: &str = "Boot/BootSourceOverrideEnabled";

fn name(target: BootTarget) -> &'static str {
    match target {
        BootTarget::Cd => "Cd",
        BootTarget::Usb => "Usb",
        BootTarget::Pxe => "Pxe",
    }
}

/// The override waiting, and what the host can boot from once now (nothing, for a machine
/// that boots a kernel from QEMU's command line).
async fn targets(host: &Host) -> (Option<BootTarget>, Vec<BootTarget>) {
    let now = super::media::drive(host).await;
    (now.boot_once, now.boot_targets)
}

pub async fn boot_body(host: &Host) -> Value {
    let (once, targets) = targets(host).await;
    let mut allowed = vec!["None"];
    allowed.extend(targets.iter().map(|t| name(*t)));
    json!({
        "BootSourceOverrideEnabled": if once.is_some() { "Once" } else { "Disabled" },
        "BootSourceOverrideEnabled@Redfish.AllowableValues": ["Disabled", "Once"],
        "BootSourceOverrideTarget": once.map_or("None", name),
        "BootSourceOverrideTarget@Redfish.AllowableValues": allowed,
    })
}

/// The override a `Boot` patch asks for (`None`: cleared), or the standard error for it.
pub async fn override_asked(host: &Host, boot: &Value) -> Result<Option<BootTarget>, RedfishError> {
    if !super::media::has_manager(host) {
        return Err(RedfishError::property_not_writable("Boot"));
    }
    let boot = boot.as_object().ok_or_else(|| RedfishError::property_value_type(&boot.to_string(), "Boot"))?;
    if let Some(other) =
        boot.keys().find(|k| !["BootSourceOverrideTarget", "BootSourceOverrideEnabled"].contains(&k.as_str()))
    {
        return Err(RedfishError::property_not_writable(&format!("Boot/{other}")));
    }
    let text = |key: &str, property: &str| -> Result<Option<String>, RedfishError> {
        match boot.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(RedfishError::property_value_type(&other.to_string(), property)),
        }
    };
    let (once, available) = targets(host).await;
    let target = match text("BootSourceOverrideTarget", TARGET)?.as_deref() {
        None => once,
        Some("None") => None,
        Some(wanted) => Some(
            available
                .iter()
                .copied()
                .find(|t| name(*t) == wanted)
                .ok_or_else(|| RedfishError::property_value_not_in_list(wanted, TARGET))?,
        ),
    };
    match text("BootSourceOverrideEnabled", ENABLED)?.as_deref() {
        Some("Disabled") => Ok(None),
        // Asking for a target is asking for it once, the only kind of override there is.
        None | Some("Once") => Ok(target),
        Some(other) => Err(RedfishError::property_value_not_in_list(other, ENABLED)),
    }
}
