//! What the controller keeps on disk is its own user's only: the data directory, the database,
//! the TLS key and the node signing key. Checked on a controller started for real.
#![cfg(unix)]

use std::os::unix::fs::PermissionsExt;

use controller_server::config::Config;

#[tokio::test]
async fn the_data_directory_and_every_secret_file_are_private() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    // Made open, as an operator's `mkdir` under a loose umask would leave it.
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    let config = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        console_plain_listen: None,
        data_dir: data.clone(),
        web_root: dir.path().to_path_buf(),
        hosts: vec![],
        ..Config::default()
    };
    let mut running = controller_server::start(config).await.unwrap();
    let mode = |name: &str| std::fs::metadata(data.join(name)).unwrap().permissions().mode() & 0o777;
    assert_eq!(std::fs::metadata(&data).unwrap().permissions().mode() & 0o777, 0o700, "data directory");
    for file in ["lantern.db", "tls-key.pem", "node-key"] {
        assert_eq!(mode(file), 0o600, "{file}");
    }
    running.shutdown();
    running.stopped().await;
}
