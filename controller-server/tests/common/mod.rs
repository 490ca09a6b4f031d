//! The test harness shared by the API tests: the real router without a socket, a fresh
//! database with its first-run administrator, and a client that speaks JSON to it.
#![allow(dead_code)] // each test binary uses its own part of it

pub mod binary;
pub mod live;
pub mod subscriber;

use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, HeaderMap, Method, Request, StatusCode};
use axum::Router;
use controller_server::app::AppState;
use controller_server::config::{BackendConfig, Config, HostConfig};
use controller_server::store::{AuditLog, UserStore};
use controller_server::web::router;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;

pub const ORIGIN: &str = "https://127.0.0.1:8443";

pub struct Api {
    pub app: Router,
    pub state: AppState,
    pub password: String,
    _dir: tempfile::TempDir,
}

/// The `local` host of the tests: `/bin/cat` on an 80x24 terminal, its sysfs under `dir`.
pub fn cat_host(dir: &std::path::Path) -> HostConfig {
    HostConfig {
        recovery: None,
        id: "local".into(),
        name: "Local".into(),
        backend: BackendConfig::Local {
            command: Some("/bin/cat".into()),
            args: vec![],
            run_as: None,
            cols: 80,
            rows: 24,
            sysfs: dir.join("sys"),
        },
    }
}

pub async fn api() -> Api {
    api_with(|_| {}).await
}

/// The API over a database file in its data directory (`lantern.db`), as a running controller
/// keeps it, so a test can reach into the file.
pub async fn api_on_disk() -> Api {
    build(|_| {}, true).await
}

pub async fn api_with(adjust: impl FnOnce(&mut Config)) -> Api {
    build(adjust, false).await
}

async fn build(adjust: impl FnOnce(&mut Config), on_disk: bool) -> Api {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("index.html"), format!("<html><body>{}</body></html>", "app ".repeat(100))).unwrap();
    let config = Config {
        web_root: dir.path().to_path_buf(),
        data_dir: dir.path().to_path_buf(),
        hosts: vec![cat_host(dir.path())],
        ..Config::default()
    };
    let mut config = config;
    adjust(&mut config);
    let (users, audit) = if on_disk {
        let db = dir.path().join("lantern.db");
        (UserStore::open(&db).unwrap(), AuditLog::open(&db).unwrap())
    } else {
        (UserStore::in_memory().unwrap(), AuditLog::in_memory().unwrap())
    };
    let users = Arc::new(users);
    let password = users.ensure_first_admin().unwrap().unwrap();
    let audit = Arc::new(audit);
    let state = AppState::new(&config, users, audit).unwrap();
    Api { app: router(state.clone()), state, password, _dir: dir }
}

impl Api {
    /// The data directory (also the web root, and `sys/` there is the local host's sysfs).
    pub fn dir(&self) -> &std::path::Path {
        self._dir.path()
    }

    pub async fn call(
        &self,
        method: Method,
        uri: &str,
        headers: &[(&str, &str)],
        body: Option<Value>,
    ) -> (StatusCode, HeaderMap, Value) {
        let mut req = Request::builder().method(method).uri(uri).header(header::HOST, "127.0.0.1:8443");
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let req = match body {
            Some(b) => req.header(header::CONTENT_TYPE, "application/json").body(Body::from(b.to_string())),
            None => req.body(Body::empty()),
        }
        .unwrap();
        let res = self.app.clone().oneshot(req).await.unwrap();
        let (status, headers) = (res.status(), res.headers().clone());
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        (status, headers, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }

    /// A GET whose answer is not JSON: its status, headers and bytes.
    pub async fn get_bytes(&self, uri: &str, headers: &[(&str, &str)]) -> (StatusCode, HeaderMap, Vec<u8>) {
        let mut req = Request::builder().method(Method::GET).uri(uri).header(header::HOST, "127.0.0.1:8443");
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let res = self.app.clone().oneshot(req.body(Body::empty()).unwrap()).await.unwrap();
        let (status, headers) = (res.status(), res.headers().clone());
        (status, headers, res.into_body().collect().await.unwrap().to_bytes().to_vec())
    }

    /// A request with a body sent as is, under `content_type`.
    pub async fn call_raw(
        &self,
        method: Method,
        uri: &str,
        headers: &[(&str, &str)],
        content_type: &str,
        body: &str,
    ) -> (StatusCode, HeaderMap, Value) {
        let mut req = Request::builder().method(method).uri(uri).header(header::HOST, "127.0.0.1:8443");
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let req = req.header(header::CONTENT_TYPE, content_type).body(Body::from(body.to_string())).unwrap();
        let res = self.app.clone().oneshot(req).await.unwrap();
        let (status, headers) = (res.status(), res.headers().clone());
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        (status, headers, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }

    /// Logs in as admin; returns the cookie header value and the CSRF token.
    pub async fn login(&self, password: &str) -> (String, String) {
        self.login_as("admin", password).await
    }

    pub async fn login_as(&self, username: &str, password: &str) -> (String, String) {
        let (status, headers, body) = self
            .call(
                Method::POST,
                "/api/login",
                &[("origin", ORIGIN)],
                Some(json!({"username": username, "password": password})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let set_cookie = headers.get(header::SET_COOKIE).unwrap().to_str().unwrap().to_string();
        let cookie = set_cookie.split(';').next().unwrap().to_string();
        (cookie, body["csrf_token"].as_str().unwrap().to_string())
    }

    /// Logs in with the first-run password and replaces it.
    pub async fn ready_session(&self) -> (String, String) {
        let (cookie, csrf) = self.login(&self.password).await;
        let (status, _, body) = self
            .call(
                Method::POST,
                "/api/password",
                &[("cookie", &cookie), ("x-csrf-token", &csrf), ("origin", ORIGIN)],
                Some(json!({"current_password": self.password, "new_password": "correct horse battery"})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["must_change_password"], false);
        (cookie, csrf)
    }
}

/// Creates a user through the API and lets them set their own password; returns their id, cookie
/// and CSRF token.
pub async fn new_user(api: &Api, admin: &(String, String), name: &str, role: &str) -> (i64, String, String) {
    let (cookie, csrf) = admin;
    let (status, _, user) = api
        .call(
            Method::POST,
            "/api/users",
            &[("cookie", cookie), ("x-csrf-token", csrf)],
            Some(json!({"username": name, "password": "temporary password", "role": role})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{user}");
    assert_eq!(user["must_change_password"], true);
    let (c, t) = api.login_as(name, "temporary password").await;
    let (status, _, _) = api
        .call(
            Method::POST,
            "/api/password",
            &[("cookie", &c), ("x-csrf-token", &t)],
            Some(json!({"current_password": "temporary password", "new_password": "a password of my own"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    (user["id"].as_i64().unwrap(), c, t)
}

/// Gives `user_id` every right on `host` (the `local` shell is administrators' only by default).
pub async fn grant_all(api: &Api, admin: &(String, String), host: &str, user_id: i64) {
    let (status, _, body) = api
        .call(
            Method::PUT,
            &format!("/api/hosts/{host}/access/{user_id}"),
            &[("cookie", &admin.0), ("x-csrf-token", &admin.1)],
            Some(json!({"view": true, "control": true, "power": true})),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
}
