//! The Redfish API against real peers: DMTF's `redfish-service-validator` walks the live
//! service and must report no failure, and a client written with DMTF's `redfish` library
//! (both from PyPI, installed by `scripts/setup.sh --tests`) logs in, reads a sensor, inserts an
//! ISO from a web server on loopback into the QEMU guest's virtual CD, sets a one-time boot
//! from it and resets the guest, which boots from the CD (its kernel's command line says so on
//! the serial port), with the reset in the host's event log; the next reset boots from the
//! guest's disk again.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use controller_server::config::{BackendConfig, HostConfig};
use e2e::media::{boots_from, make_boot_iso};
use e2e::qemu::{booted, qemu_host_booting};
use e2e::{wait_for, workspace_root, Controller};
use serde_json::Value;

const NEW_PASSWORD: &str = "redfish-tested-password";

fn venv() -> PathBuf {
    workspace_root().join("target/redfish/venv/bin")
}

/// A sysfs tree with one hwmon temperature (45 °C, caution at 80 °C) for the local host.
fn fake_sysfs(root: &Path) {
    let chip = root.join("class/hwmon/hwmon0");
    std::fs::create_dir_all(&chip).unwrap();
    for (file, value) in
        [("name", "coretemp"), ("temp1_input", "45000"), ("temp1_label", "Package"), ("temp1_max", "80000")]
    {
        std::fs::write(chip.join(file), value).unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dmtf_validator_passes_and_a_python_redfish_client_resets_a_qemu_guest() {
    let dir = tempfile::tempdir().unwrap();
    let serial = dir.path().join("serial.log");
    let sysfs = dir.path().join("sys");
    fake_sysfs(&sysfs);
    // The guest boots from its disk; the image server on loopback holds a CD that boots it
    // too, each saying which it was on the kernel's command line.
    let (disk, cd) = (format!("disk-{}", e2e::marker()), format!("cd-{}", e2e::marker()));
    let images = dir.path().join("images");
    std::fs::create_dir_all(&images).unwrap();
    make_boot_iso(dir.path(), &dir.path().join("disk.iso"), &disk).expect("xorriso and isolinux make the disk");
    make_boot_iso(dir.path(), &images.join("boot.iso"), &cd).expect("xorriso and isolinux make the CD");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let web = listener.local_addr().unwrap();
    let served = axum::Router::new().nest_service("/images", tower_http::services::ServeDir::new(&images));
    tokio::spawn(async move { axum::serve(listener, served).await });
    let image_url = format!("http://{web}/images/boot.iso");
    let vm = qemu_host_booting(&serial, &dir.path().join("disk.iso"));
    let controller = Controller::start(|c| {
        c.media.url_hosts = vec![web.to_string()];
        c.health.interval_seconds = 1;
        c.hosts = vec![
            HostConfig {
                recovery: None,
                id: "local".into(),
                name: "Controller shell".into(),
                backend: BackendConfig::Local {
                    command: Some("/bin/sh".into()),
                    args: vec![],
                    run_as: None,
                    cols: 80,
                    rows: 24,
                    sysfs: sysfs.clone(),
                },
            },
            vm,
        ];
    })
    .await
    .unwrap();
    wait_for("the guest's first boot", Duration::from_secs(60), booted(&serial, 1)).await.unwrap();
    // One sample of the sensors has been taken by now (every second), but make sure.
    tokio::time::sleep(Duration::from_secs(2)).await;

    let cafile = controller.cert_path();
    let url = controller.url.clone();
    let first = controller.first_password.clone();
    let client = workspace_root().join("e2e/redfish/client.py");
    let image = image_url.clone();
    let output = tokio::task::spawn_blocking(move || {
        Command::new(venv().join("python"))
            .arg(client)
            .args([url.as_str(), cafile.to_str().unwrap(), &first, NEW_PASSWORD, "vm", "local", &image])
            .output()
    })
    .await
    .unwrap()
    .expect("run the Python Redfish client (scripts/setup.sh --tests installs it)");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "client failed: {stderr}");
    let seen: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(seen["refused_before_change"], "Base.1.18.PasswordChangeRequired", "{seen}");
    assert_eq!(seen["power_state"], "On");
    assert_eq!(seen["allowed"], serde_json::json!(["On", "ForceOff", "GracefulShutdown", "ForceRestart", "Nmi"]));
    assert_eq!(seen["reset_status"], 204);
    assert_eq!(seen["bad_reset"], serde_json::json!([400, "Base.1.18.ActionParameterValueNotInList"]));
    assert_eq!(seen["sensors"]["coretemp-hwmon0-temp1"]["Reading"], 45.0, "{seen}");
    assert_eq!(seen["newest_event"], "Power action 'reset' by admin (redfish)");
    let inserted = serde_json::json!({
        "Image": image_url, "ImageName": "boot.iso", "Inserted": true, "WriteProtected": true, "ConnectedVia": "URI",
    });
    assert_eq!(seen["inserted"], inserted, "{seen}");
    let usb = serde_json::json!({
        "Id": "USB1", "Image": image_url, "Inserted": true, "WriteProtected": false, "MediaTypes": ["USBStick"],
    });
    assert_eq!((&seen["usb"], &seen["usb_after_eject"]), (&usb, &serde_json::json!(false)), "{seen}");
    assert_eq!(seen["refused_image"][0], 400, "{seen}");
    assert!(seen["refused_image"][1].as_str().unwrap_or_default().contains("10.9.9.9"), "{seen}");
    assert_eq!(
        seen["boot"],
        serde_json::json!({"BootSourceOverrideTarget": "Cd", "BootSourceOverrideEnabled": "Once"})
    );
    wait_for("the guest to boot from the CD after the Redfish reset", Duration::from_secs(90), || async {
        Ok(if boots_from(&serial, &cd) == 1 {
            Ok(())
        } else {
            Err(format!("{} boots from the CD:\n{}", boots_from(&serial, &cd), serial_tail(&serial)))
        })
    })
    .await
    .unwrap();
    wait_for("the CD's guest to come up", Duration::from_secs(60), booted(&serial, 2)).await.unwrap();
    // Once: the override is spent, and the next reset boots from the disk.
    let host = controller.running.state.hosts.get("vm").unwrap();
    let now = host.media(controller_server::hosts::media::MediaAction::Status).await.unwrap();
    assert_eq!(now.boot_once, None, "{now:?}");
    host.press_power(controller_server::hosts::PowerAction::Reset).await.unwrap();
    wait_for("the guest to boot from its disk again", Duration::from_secs(90), || async {
        Ok(if boots_from(&serial, &disk) == 2 {
            Ok(())
        } else {
            Err(format!("{} boots from the disk", boots_from(&serial, &disk)))
        })
    })
    .await
    .unwrap();
    assert_eq!(boots_from(&serial, &cd), 1, "the CD booted once only");
    wait_for("the guest up again", Duration::from_secs(60), booted(&serial, 3)).await.unwrap();

    // DMTF's validator, with DMTF's published schemas (DSP8010) as its cache: it cannot fetch
    // them here, and `--skipschema` keeps it from trying.
    let schemas = dir.path().join("schemas");
    std::fs::create_dir_all(&schemas).unwrap();
    for entry in std::fs::read_dir(nv_redfish_schema::REDFISH_CSDL_DIR).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, schemas.join(path.file_name().unwrap())).unwrap();
    }
    // A subscription, so that the validator checks an EventDestination too. Nothing listens
    // at its destination: its events are tried and given up, as for any subscriber that is down.
    let http = e2e::client::ApiClient::new(&controller).unwrap().http;
    let subscribed = http
        .post(format!("{}/redfish/v1/EventService/Subscriptions", controller.url))
        .basic_auth("admin", Some(NEW_PASSWORD))
        .json(&serde_json::json!({
            "Destination": "https://127.0.0.1:9/events", "Protocol": "Redfish", "Context": "validator",
            "RegistryPrefixes": ["Lantern"],
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(subscribed.status().as_u16(), 201, "{:?}", subscribed.text().await);
    let logs = dir.path().join("validator");
    let url = controller.url.clone();
    let logs_dir = logs.clone();
    let output = tokio::task::spawn_blocking(move || {
        Command::new(venv().join("rf_service_validator"))
            .args(["--user", "admin", "--password", NEW_PASSWORD, "--rhost", &url, "--authtype", "Session"])
            .arg("--schema_directory")
            .arg(&schemas)
            .arg("--skipschema")
            .arg("--logdir")
            .arg(&logs_dir)
            .output()
    })
    .await
    .unwrap()
    .expect("run rf_service_validator (scripts/setup.sh --tests installs it)");
    let report = String::from_utf8_lossy(&output.stdout);
    let tail: String =
        report.lines().rev().take(40).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>().join("\n");
    assert!(output.status.success(), "the validator reports failures:\n{tail}");
    let validated = report.matches("Validating /redfish/v1").count();
    assert!(validated >= 20, "the validator walked only {validated} resources:\n{tail}");
    for uri in [
        "/redfish/v1/Systems/vm",
        "/redfish/v1/Managers/vm/VirtualMedia/CD1",
        "/redfish/v1/Chassis/local/Sensors/coretemp-hwmon0-temp1",
        "/redfish/v1/AccountService/Roles/ReadOnly",
        "/redfish/v1/EventService",
        "/redfish/v1/EventService/Subscriptions/1",
        "/redfish/v1/Registries/Lantern",
        "/redfish/v1/Registries/Lantern/Lantern",
    ] {
        assert!(report.contains(&format!("Validating {uri}...")), "{uri} not validated:\n{tail}");
    }
    let (pass, warn, fail) = summary(&report).unwrap_or_else(|| panic!("no summary:\n{tail}"));
    println!("validator: {pass} pass, {warn} warn, {fail} fail");
    // What the validator warned of, from its debug log: only that DMTF deprecated the
    // manager's place for virtual media (where iLO-style tools look, beside the system's).
    let mut warnings = Vec::new();
    for dir in std::fs::read_dir(&logs).into_iter().flatten().flatten() {
        for file in std::fs::read_dir(dir.path()).into_iter().flatten().flatten() {
            let text = String::from_utf8_lossy(&std::fs::read(file.path()).unwrap_or_default()).into_owned();
            warnings.extend(text.lines().filter(|l| l.contains(" - WARN - ")).map(String::from));
        }
    }
    let expected = |w: &String| w.contains("Deprecated") && w.contains("/redfish/v1/Managers/vm/VirtualMedia");
    assert_eq!(fail, 0, "{tail}");
    assert_eq!(warn as usize, warnings.len(), "{}\n{tail}", warnings.join("\n"));
    assert!(warnings.iter().all(expected), "{}", warnings.join("\n"));
    for uri in ["/redfish/v1/Systems/vm/VirtualMedia/CD1", "/redfish/v1/Managers/vm"] {
        assert!(report.contains(&format!("Validating {uri}...")), "{uri} not validated:\n{tail}");
    }
    assert!(pass >= 200, "{tail}");
}

/// The guest's last lines on its serial port.
fn serial_tail(serial: &Path) -> String {
    let logged = String::from_utf8_lossy(&std::fs::read(serial).unwrap_or_default()).into_owned();
    logged.lines().rev().take(15).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>().join("\n")
}

/// PASS, WARN and FAIL from the validator's summary table (the row after its header).
fn summary(report: &str) -> Option<(u64, u64, u64)> {
    let mut lines = report.lines().skip_while(|l| !l.contains("PASS") || !l.contains("FAIL"));
    let row = lines.nth(2)?;
    let numbers: Vec<u64> = row.split('|').filter_map(|cell| cell.trim().parse().ok()).collect();
    Some((*numbers.first()?, *numbers.get(1)?, *numbers.get(2)?))
}
