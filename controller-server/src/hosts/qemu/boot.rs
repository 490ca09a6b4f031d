//! A one-time boot override: the next start or reset of the machine boots from its CD drive
//! (or the USB disk plugged into it, or its network card: PXE), later ones as before. QEMU
//! takes a device's `bootindex` at run time (`qom-set`) and hands the firmware its boot order
//! at every reset, which the firmware reads a moment later, during its power-on self test
//! (SeaBIOS: well within a second, even emulated); so the device goes first now, and is put
//! back `PUT_BACK_AFTER` the next reset (QMP's `RESET` event). Put back at once, the firmware
//! would read the old order (seen: QEMU 7.2). A reset within that time boots from the device
//! again. A machine that is off when the override is set takes it at its next start: the
//! controller resets it once, still paused, with the device first, then lets it run. A USB
//! disk goes with the machine's run (and with its eject): an override to boot from it goes
//! with it.

use serde_json::{json, Value};
use tokio::time::{Duration, Instant};

use super::drive::Drives;
use super::qmp::Qmp;
use crate::hosts::media::BootTarget;

/// How long after the reset that uses an override its device's boot index is put back.
const PUT_BACK_AFTER: Duration = Duration::from_secs(5);

pub struct BootOnce {
    /// The machine boots a kernel from QEMU's command line (`-kernel`), whose loader comes
    /// first in every boot order: nothing can go before it.
    direct_kernel: bool,
    /// The override waiting for the next reset (or start).
    pending: Option<BootTarget>,
    /// The device path whose boot index this override set, to put back.
    set_on: Option<String>,
    /// When to put it back (the override was used).
    put_back_at: Option<Instant>,
    /// The machine's first network card, as its last start found it (QEMU's command line
    /// fixes its devices, so it stays what it was).
    nic: Option<String>,
}

impl BootOnce {
    pub fn new(direct_kernel: bool) -> Self {
        Self { direct_kernel, pending: None, set_on: None, put_back_at: None, nic: None }
    }

    /// Why this machine takes no boot override, if it does not.
    pub fn refusal(&self) -> Option<&'static str> {
        self.direct_kernel.then_some(
            "this machine boots the kernel given on QEMU's command line (-kernel), which always boots first: \
             a boot override needs a machine that boots from its firmware's boot order",
        )
    }

    pub fn pending(&self) -> Option<BootTarget> {
        self.pending
    }

    /// Sets the override of a machine that is off, for its next start: its CD drive (whether
    /// it can boot from the network is known once it runs).
    pub fn set_off(&mut self, target: Option<BootTarget>) -> Result<(), String> {
        self.refuse(target)?;
        match target {
            Some(BootTarget::Pxe) => return Err("the host is powered off: network boot is set while it runs".into()),
            Some(BootTarget::Usb) => {
                return Err("the host is powered off: a USB disk goes in, and is booted from, while it runs".into())
            }
            _ => {}
        }
        self.pending = target;
        Ok(())
    }

    fn refuse(&self, target: Option<BootTarget>) -> Result<(), String> {
        match (self.refusal(), target) {
            (Some(why), Some(_)) => Err(why.into()),
            _ => Ok(()),
        }
    }

    /// Sets (or with `None`, clears) the override of the running machine: the device goes
    /// first in its boot order now. `drives` gives the QOM paths of the media drives' devices.
    pub async fn set(&mut self, qmp: &mut Qmp, target: Option<BootTarget>, drives: &Drives) -> Result<(), String> {
        self.refuse(target)?;
        self.put_back(qmp).await?;
        if let Some(target) = target {
            let path = self.device_path(target, drives)?;
            set_boot_index(qmp, &path, 0).await?;
            self.set_on = Some(path);
        }
        self.pending = target;
        Ok(())
    }

    /// The machine reset: an override it boots with is spent; its device goes back in the
    /// boot order once the firmware has read it.
    pub fn on_reset(&mut self) {
        if self.pending.take().is_some() {
            self.put_back_at = Some(Instant::now() + PUT_BACK_AFTER);
        }
    }

    /// When the spent override's device is to be put back, if it is.
    pub fn put_back_due(&self) -> Option<Instant> {
        self.put_back_at.filter(|_| self.set_on.is_some())
    }

    /// Puts the spent override's device back in the boot order.
    pub async fn put_back_now(&mut self, qmp: &mut Qmp) {
        if let Err(why) = self.put_back(qmp).await {
            tracing::warn!(reason = %why, "could not put the boot order back after a one-time boot");
        }
    }

    /// The USB disk came out: an override to boot from it has nothing left to boot.
    pub fn usb_gone(&mut self) {
        if self.pending == Some(BootTarget::Usb) {
            (self.pending, self.set_on, self.put_back_at) = (None, None, None);
        }
    }

    /// The machine stopped: the device paths belong to its QEMU process, and its USB disk is
    /// gone with it.
    pub fn machine_stopped(&mut self) {
        self.usb_gone();
        (self.set_on, self.put_back_at) = (None, None);
    }

    /// The machine starts, paused: its network card is found, and a pending override is used
    /// now, by a reset with the device first (the firmware reads the boot order at reset).
    pub async fn at_start(&mut self, qmp: &mut Qmp, drives: &Drives) -> Result<(), String> {
        self.nic = nic_path(qmp).await;
        let Some(target) = self.pending else { return Ok(()) };
        self.set(qmp, Some(target), drives).await?;
        qmp.execute("system_reset", json!({})).await.map_err(|e| e.to_string())?;
        // The firmware reads the order once the machine runs.
        self.on_reset();
        Ok(())
    }

    /// What this machine can boot from once: its CD drive, and while it runs (`drives`) the
    /// USB disk plugged in and its network card, if it has them.
    pub fn targets(&self, drives: Option<&Drives>) -> Vec<BootTarget> {
        if self.refusal().is_some() {
            return Vec::new();
        }
        let mut targets = vec![BootTarget::Cd];
        if let Some(drives) = drives {
            if drives.usb.device_path().is_some() {
                targets.push(BootTarget::Usb);
            }
            if self.nic.is_some() {
                targets.push(BootTarget::Pxe);
            }
        }
        targets
    }

    fn device_path(&self, target: BootTarget, drives: &Drives) -> Result<String, String> {
        let path = match target {
            BootTarget::Cd => drives.cd.device_path(),
            BootTarget::Usb => drives.usb.device_path(),
            BootTarget::Pxe => self.nic.clone(),
        };
        path.ok_or_else(|| match target {
            BootTarget::Usb => "the USB disk drive is empty: attach a medium to boot from first".into(),
            _ => "this machine has no network card to boot from".into(),
        })
    }

    async fn put_back(&mut self, qmp: &mut Qmp) -> Result<(), String> {
        self.put_back_at = None;
        if let Some(path) = self.set_on.take() {
            set_boot_index(qmp, &path, -1).await?;
        }
        Ok(())
    }
}

async fn set_boot_index(qmp: &mut Qmp, path: &str, index: i64) -> Result<(), String> {
    let arguments = json!({ "path": path, "property": "bootindex", "value": index });
    qmp.execute("qom-set", arguments).await.map(|_| ()).map_err(|e| e.to_string())
}

/// The first network card of the machine, named or not.
async fn nic_path(qmp: &mut Qmp) -> Option<String> {
    for parent in ["/machine/peripheral", "/machine/peripheral-anon"] {
        let Ok(Value::Array(children)) = qmp.execute("qom-list", json!({ "path": parent })).await else { continue };
        for child in children {
            let (Some(name), Some(kind)) = (child["name"].as_str(), child["type"].as_str()) else { continue };
            let model = kind.strip_prefix("child<").and_then(|k| k.strip_suffix('>')).unwrap_or_default();
            if is_nic(model) {
                return Some(format!("{parent}/{name}"));
            }
        }
    }
    None
}

/// QEMU's network card models (those with a boot ROM).
fn is_nic(model: &str) -> bool {
    model.contains("-net-")
        || model.ends_with("-net")
        || ["e1000", "e1000e", "rtl8139", "ne2k_pci", "pcnet", "vmxnet3"].contains(&model)
}
