//! Virtual media against a real QEMU: an image from the controller's media folder goes into a
//! running machine's CD drive (QEMU opens it over NBD from the controller), comes out again, and
//! every attempt that should fail does, with a clear answer; each insert and eject is audited and
//! in the host's event log.

mod common;

use std::time::Duration;

use common::live::{free_port, start, Certificate, Client};
use controller_server::config::{BackendConfig, HostConfig};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

fn machine() -> HostConfig {
    HostConfig {
        recovery: None,
        id: "vm".into(),
        name: "Test machine".into(),
        backend: BackendConfig::Qemu {
            program: "qemu-system-x86_64".into(),
            // No disk and no kernel: the firmware waits for a boot device, which is enough for
            // a CD drive to take media.
            args: ["-machine", "pc", "-m", "64", "-net", "none"].map(String::from).to_vec(),
            guest_agent: false,
            serial: false,
            serial_log: None,
        },
    }
}

async fn wait_until<F, Fut>(what: &str, mut check: F) -> Value
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<Value>>,
{
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(std::time::Instant::now() < deadline, "{what} did not happen within 30 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_image_from_the_media_folder_goes_into_a_running_machine_and_out_again() {
    let ca = Certificate::new();
    let media = tempfile::tempdir().unwrap();
    let image: Vec<u8> = (0..2 * 1024 * 1024).map(|i| (i % 253) as u8).collect();
    std::fs::write(media.path().join("rescue.iso"), &image).unwrap();
    std::fs::write(media.path().join("disk.img"), &image[..1024 * 1024]).unwrap();
    std::fs::write(media.path().join("empty.iso"), b"").unwrap();
    std::fs::write(media.path().join("notes.txt"), b"not an image").unwrap();
    std::os::unix::fs::symlink("/etc/hostname", media.path().join("linked.img")).unwrap();
    let folder = media.path().to_path_buf();
    // An image server on loopback (with Range requests), listed for the controller.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let web = listener.local_addr().unwrap();
    let served = axum::Router::new().nest_service("/images", tower_http::services::ServeDir::new(media.path()));
    tokio::spawn(async move { axum::serve(listener, served).await });
    let controller = start("lantern", 1, free_port(), &ca, |c| {
        c.hosts = vec![machine()];
        c.media.folder = Some(folder);
        c.media.url_hosts = vec![format!("127.0.0.1:{}", web.port())];
    })
    .await;
    let admin = Client::admin(&controller, &ca).await;
    wait_until("the machine running", || async {
        let hosts = admin.get("/api/hosts").await;
        (hosts[0]["state"] == "running").then_some(hosts)
    })
    .await;

    let images = admin.get("/api/media").await;
    assert_eq!(
        images,
        json!([{"name": "disk.img", "size": 1024 * 1024}, {"name": "rescue.iso", "size": image.len()}]),
        "only non-empty images, no links"
    );

    // In: QEMU connects to the controller's export of the image.
    let insert = |image: &str| json!({ "image": image });
    let (status, inserted, _) = admin.call(Method::PUT, "/api/hosts/vm/media/cd", Some(insert("rescue.iso"))).await;
    assert_eq!(status, StatusCode::OK, "{inserted}");
    assert_eq!(
        (inserted["cd"]["inserted"].as_str(), inserted["cd"]["size"].as_u64()),
        (Some("rescue.iso"), Some(image.len() as u64))
    );
    assert_eq!(inserted["cd"]["connected"], true, "QEMU holds the medium's NBD connection: {inserted}");
    assert_eq!(admin.get("/api/hosts/vm/media").await["cd"]["inserted"], "rescue.iso");

    // What must fail, fails, and says why.
    for (name, expected) in [
        ("../secret.iso", StatusCode::UNPROCESSABLE_ENTITY),
        ("notes.txt", StatusCode::UNPROCESSABLE_ENTITY),
        ("missing.iso", StatusCode::NOT_FOUND),
        ("empty.iso", StatusCode::UNPROCESSABLE_ENTITY),
        ("linked.img", StatusCode::UNPROCESSABLE_ENTITY),
    ] {
        let (status, body, _) = admin.call(Method::PUT, "/api/hosts/vm/media/cd", Some(insert(name))).await;
        assert_eq!(status, expected, "{name}: {body}");
        assert!(body["error"].as_str().is_some_and(|e| !e.is_empty()), "{name}: {body}");
    }
    let (status, body, _) = admin.call(Method::PUT, "/api/hosts/nope/media/cd", Some(insert("rescue.iso"))).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (_, viewer) = admin.user(&controller, &ca, "vera", "ReadOnly").await;
    let (status, body, _) = viewer.call(Method::PUT, "/api/hosts/vm/media/cd", Some(insert("rescue.iso"))).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::FORBIDDEN, Some("you may not use virtual media on this host"))
    );
    let (status, _, _) = viewer.call(Method::DELETE, "/api/hosts/vm/media/cd", None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body, _) = admin.call(Method::PUT, "/api/hosts/vm/media/floppy", Some(insert("rescue.iso"))).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let writable_cd = json!({ "image": "rescue.iso", "writable": true });
    let (status, body, _) = admin.call(Method::PUT, "/api/hosts/vm/media/cd", Some(writable_cd)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(admin.get("/api/hosts/vm/media").await["cd"]["inserted"], "rescue.iso", "refusals changed nothing");

    // Out: the export goes, and QEMU's connection with it.
    let (status, ejected, _) = admin.call(Method::DELETE, "/api/hosts/vm/media/cd", None).await;
    assert_eq!((status, ejected["cd"]["inserted"].clone()), (StatusCode::OK, Value::Null), "{ejected}");
    let empty = json!({ "inserted": null, "size": 0, "connected": false, "bytes_read": 0, "writable": false, "from_browser": false });
    assert_eq!(
        admin.get("/api/hosts/vm/media").await,
        json!({ "cd": empty, "usb": empty, "boot_once": null, "boot_targets": ["cd"] })
    );

    // A USB disk, writable: plugged into the machine's xHCI port, QEMU connected; it can be
    // booted from once while it is in, and an override to boot from it goes with it.
    let disk = json!({ "image": "disk.img", "writable": true });
    let (status, plugged, _) = admin.call(Method::PUT, "/api/hosts/vm/media/usb", Some(disk)).await;
    assert_eq!(status, StatusCode::OK, "{plugged}");
    assert_eq!(
        (&plugged["usb"]["inserted"], &plugged["usb"]["writable"], &plugged["usb"]["connected"]),
        (&json!("disk.img"), &json!(true), &json!(true)),
        "{plugged}"
    );
    assert_eq!(plugged["boot_targets"], json!(["cd", "usb"]));
    let (status, set, _) = admin.call(Method::PUT, "/api/hosts/vm/boot", Some(json!({ "target": "usb" }))).await;
    assert_eq!((status, &set["boot_once"]), (StatusCode::OK, &json!("usb")), "{set}");
    let (status, unplugged, _) = admin.call(Method::DELETE, "/api/hosts/vm/media/usb", None).await;
    assert_eq!(status, StatusCode::OK, "{unplugged}");
    assert_eq!(
        (&unplugged["usb"], &unplugged["boot_once"], &unplugged["boot_targets"]),
        (&empty, &Value::Null, &json!(["cd"]))
    );
    // In again, read-only this time: QEMU took the node out cleanly the first time.
    let (status, again, _) = admin.call(Method::PUT, "/api/hosts/vm/media/usb", Some(insert("disk.img"))).await;
    assert_eq!((status, &again["usb"]["writable"]), (StatusCode::OK, &json!(false)), "{again}");
    assert_eq!(admin.call(Method::DELETE, "/api/hosts/vm/media/usb", None).await.0, StatusCode::OK);

    // A one-time boot override needs the power right, and is recorded.
    let (status, _, _) = viewer.call(Method::PUT, "/api/hosts/vm/boot", Some(json!({ "target": "cd" }))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, set, _) = admin.call(Method::PUT, "/api/hosts/vm/boot", Some(json!({ "target": "cd" }))).await;
    assert_eq!((status, &set["boot_once"]), (StatusCode::OK, &json!("cd")), "{set}");
    let (status, _, _) = admin.call(Method::PUT, "/api/hosts/vm/boot", Some(json!({ "target": "pxe" }))).await;
    assert_eq!(status, StatusCode::CONFLICT, "the machine has no network card");
    let (status, cleared, _) = admin.call(Method::PUT, "/api/hosts/vm/boot", Some(json!({ "target": null }))).await;
    assert_eq!((status, &cleared["boot_once"]), (StatusCode::OK, &Value::Null), "{cleared}");

    // From a listed web server, read in place; from any other, or both at once, refused.
    let url = format!("http://127.0.0.1:{}/images/rescue.iso", web.port());
    let (status, inserted, _) = admin.call(Method::PUT, "/api/hosts/vm/media/cd", Some(json!({ "url": url }))).await;
    assert_eq!(status, StatusCode::OK, "{inserted}");
    assert_eq!(
        (inserted["cd"]["inserted"].as_str(), inserted["cd"]["connected"].as_bool()),
        (Some(url.as_str()), Some(true))
    );
    let unlisted = format!("http://localhost:{}/images/rescue.iso", web.port());
    let (status, body, _) = admin.call(Method::PUT, "/api/hosts/vm/media/cd", Some(json!({ "url": unlisted }))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body["error"].as_str().unwrap_or_default().contains("not on this controller's list"), "{body}");
    let both = json!({ "url": url, "image": "rescue.iso" });
    let (status, _, _) = admin.call(Method::PUT, "/api/hosts/vm/media/cd", Some(both)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(admin.call(Method::DELETE, "/api/hosts/vm/media/cd", None).await.0, StatusCode::OK);

    let trail: Vec<(String, String, String)> = controller
        .running
        .state
        .audit
        .all()
        .unwrap()
        .into_iter()
        .filter(|r| r.action.starts_with("media."))
        .map(|r| (r.actor, r.action, r.target))
        .collect();
    let expected = [
        ("admin", "media.insert", "vm"),
        ("admin", "media.eject", "vm"),
        ("admin", "media.insert", "vm"),
        ("admin", "media.eject", "vm"),
        ("admin", "media.insert", "vm"),
        ("admin", "media.eject", "vm"),
        ("admin", "media.insert", "vm"),
        ("admin", "media.eject", "vm"),
    ]
    .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()));
    assert_eq!(trail, expected.to_vec(), "refused attempts are not recorded as done");
    let events = admin.get("/api/hosts/vm/events").await.to_string();
    assert!(
        events.contains("Virtual CD: rescue.iso inserted by admin")
            && events.contains("Virtual CD ejected by admin")
            && events.contains("Virtual USB disk: disk.img inserted by admin")
            && events.contains("One-time boot from the USB disk set by admin"),
        "{events}"
    );
}
