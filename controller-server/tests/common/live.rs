//! Running controllers for the tests that need real sockets (HTTPS with reqwest, QEMU, peers):
//! a certificate they serve, and a browser-like client with its cookie, CSRF token and origin.
#![allow(dead_code)] // each test binary uses its own part of it

use std::net::SocketAddr;

use controller_server::config::Config;
use reqwest::StatusCode;
use serde_json::{json, Value};

pub struct Live {
    pub running: controller_server::Running,
    pub url: String,
    pub password: String,
    pub dir: tempfile::TempDir,
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free port")
}

/// A certificate both controllers serve, and the CA file each uses for the other.
pub struct Certificate {
    pub dir: tempfile::TempDir,
}

impl Certificate {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let made = rcgen::generate_simple_self_signed(vec!["127.0.0.1".into()]).unwrap();
        std::fs::write(dir.path().join("cert.pem"), made.cert.pem()).unwrap();
        std::fs::write(dir.path().join("key.pem"), made.signing_key.serialize_pem()).unwrap();
        Self { dir }
    }
    pub fn cert(&self) -> std::path::PathBuf {
        self.dir.path().join("cert.pem")
    }
}

/// A controller `id` on `port` with node key seed `seed`, serving `ca`'s certificate, with one
/// `local` host (`/bin/cat`); `adjust` may change its configuration first.
pub async fn start(id: &str, seed: u8, port: u16, ca: &Certificate, adjust: impl FnOnce(&mut Config)) -> Live {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("index.html"), "<html></html>").unwrap();
    std::fs::write(dir.path().join("node-key"), [seed; 32]).unwrap();
    let mut config = Config {
        listen: SocketAddr::from(([127, 0, 0, 1], port)),
        data_dir: dir.path().to_path_buf(),
        web_root: dir.path().to_path_buf(),
        node_id: id.into(),
        node_key_file: Some(dir.path().join("node-key")),
        tls_cert: Some(ca.cert()),
        tls_key: Some(ca.dir.path().join("key.pem")),
        hosts: vec![super::cat_host(dir.path())],
        ..Config::default()
    };
    adjust(&mut config);
    config.validate().unwrap();
    let running = controller_server::start(config).await.unwrap();
    let password = running.first_password.clone().unwrap();
    Live { url: format!("https://127.0.0.1:{port}"), running, password, dir }
}

/// A browser-like client of one controller: its own cookie, CSRF token and origin.
pub struct Client {
    pub http: reqwest::Client,
    pub base: String,
    pub cookie: String,
    pub csrf: String,
}

impl Client {
    pub fn anonymous(peer: &Live, ca: &Certificate) -> Self {
        let cert = reqwest::Certificate::from_pem(&std::fs::read(ca.cert()).unwrap()).unwrap();
        let http = reqwest::Client::builder().add_root_certificate(cert).no_proxy().build().unwrap();
        Self { http, base: peer.url.clone(), cookie: String::new(), csrf: String::new() }
    }

    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value, Vec<String>) {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .header("origin", &self.base)
            .header("cookie", &self.cookie)
            .header("x-csrf-token", &self.csrf);
        if let Some(body) = body {
            req = req.json(&body);
        }
        let res = req.send().await.unwrap();
        let status = res.status();
        let cookies = res.headers().get_all("set-cookie").iter().map(|v| v.to_str().unwrap().to_string()).collect();
        let text = res.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null), cookies)
    }

    /// Takes the session the response opened.
    pub fn enter(&mut self, session: &Value, cookies: &[String]) {
        self.cookie = cookies.iter().map(|c| c.split(';').next().unwrap()).collect::<Vec<_>>().join("; ");
        self.csrf = session["csrf_token"].as_str().unwrap().to_string();
    }

    pub async fn log_in(peer: &Live, ca: &Certificate, user: &str, password: &str) -> Self {
        let mut c = Self::anonymous(peer, ca);
        let (status, session, cookies) =
            c.call(reqwest::Method::POST, "/api/login", Some(json!({"username": user, "password": password}))).await;
        assert_eq!(status, StatusCode::OK, "{session}");
        c.enter(&session, &cookies);
        c
    }

    /// The first administrator, past the first-run password change.
    pub async fn admin(peer: &Live, ca: &Certificate) -> Self {
        let c = Self::log_in(peer, ca, "admin", &peer.password).await;
        let body = json!({"current_password": peer.password, "new_password": "correct horse battery"});
        assert_eq!(c.call(reqwest::Method::POST, "/api/password", Some(body)).await.0, StatusCode::OK);
        c
    }

    /// A new user of `role`, logged in with their own password.
    pub async fn user(&self, peer: &Live, ca: &Certificate, name: &str, role: &str) -> (i64, Self) {
        let body = json!({"username": name, "password": "temporary password", "role": role});
        let (status, user, _) = self.call(reqwest::Method::POST, "/api/users", Some(body)).await;
        assert_eq!(status, StatusCode::OK, "{user}");
        let c = Self::log_in(peer, ca, name, "temporary password").await;
        let body = json!({"current_password": "temporary password", "new_password": "a password of my own"});
        assert_eq!(c.call(reqwest::Method::POST, "/api/password", Some(body)).await.0, StatusCode::OK);
        (user["id"].as_i64().unwrap(), c)
    }

    pub async fn token_for(&self, peer: &str) -> String {
        let (status, issued, _) =
            self.call(reqwest::Method::POST, "/api/session-token", Some(json!({"audience": peer}))).await;
        assert_eq!(status, StatusCode::OK, "{issued}");
        issued["token"].as_str().unwrap().to_string()
    }

    /// Arrives at this client's controller with `token`: the response's status and body.
    pub async fn arrive(&mut self, token: &str) -> (StatusCode, Value) {
        let (status, session, cookies) =
            self.call(reqwest::Method::POST, "/api/login/token", Some(json!({"token": token}))).await;
        if status == StatusCode::OK {
            self.enter(&session, &cookies);
        }
        (status, session)
    }

    pub async fn preference(&self, name: &str, value: &str) {
        let path = format!("/api/preferences/{name}");
        let (status, body, _) = self.call(reqwest::Method::PUT, &path, Some(json!({"value": value}))).await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    }

    pub async fn get(&self, path: &str) -> Value {
        let (status, body, _) = self.call(reqwest::Method::GET, path, None).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        body
    }
}
