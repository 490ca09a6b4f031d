//! Directory login against a real OpenLDAP `slapd` (started here from a temporary folder):
//! in headless Chromium and through Redfish, with the role and rights that the user's groups
//! give at each login; wrong passwords, users in no mapped group and injected filters are
//! refused; with the directory down or hanging, directory logins fail clearly and local
//! accounts still log in.

use std::time::Duration;

use controller_server::directory::LdapConfig;
use e2e::browser::Browser;
use e2e::client::ApiClient;
use e2e::slapd::{group_dn, Person, Slapd, ROOT_DN, SUFFIX};
use e2e::Controller;
use serde_json::{json, Value};

const DORA: &str = "dora's directory password";
const NEMO: &str = "nemo's directory password";
const RITA: &str = "rita's directory password";
const ADMIN: &str = "the local administrator's password";

/// `[auth.ldap]` for `url`, with `how` choosing how users are found.
fn ldap_config(url: &str, ca_file: &std::path::Path, how: &str) -> LdapConfig {
    let text = format!(
        r#"url = "{url}"
           ca_file = "{ca}"
           timeout_seconds = 3
           group_base = "ou=groups,{SUFFIX}"
           {how}
           [[roles]]
           group = "{admins}"
           role = "Administrator"
           [[roles]]
           group = "{operators}"
           role = "Operator"
           [[rights]]
           group = "{shell}"
           host = "local"
           rights = ["control"]"#,
        ca = ca_file.display(),
        admins = group_dn("lantern-admins"),
        // Written the way an operator might copy it from a directory browser.
        operators = group_dn("Lantern-Operators").replace(',', ", "),
        shell = group_dn("shell-users"),
    );
    toml::from_str(&text).expect("a valid [auth.ldap]")
}

fn redfish_client(controller: &Controller) -> reqwest::Client {
    let cert = reqwest::Certificate::from_pem(&std::fs::read(controller.cert_path()).unwrap()).unwrap();
    reqwest::Client::builder().add_root_certificate(cert).timeout(Duration::from_secs(60)).build().unwrap()
}

async fn api_login(controller: &Controller, user: &str, password: &str) -> anyhow::Result<(u16, Value)> {
    let client = ApiClient::new(controller)?;
    client.call("POST", "/api/login", Some(json!({"username": user, "password": password}))).await
}

async fn directory() -> Slapd {
    let people = [
        Person { uid: "dora", password: DORA },
        Person { uid: "nemo", password: NEMO },
        Person { uid: "rita", password: RITA },
    ];
    let groups: [(&str, &[&str]); 4] = [
        ("lantern-operators", &["dora"]),
        ("lantern-admins", &[]),
        ("shell-users", &["rita"]),
        ("unrelated", &["nemo", "dora"]),
    ];
    Slapd::start(&people, &groups).await.expect("slapd starts")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn directory_users_log_in_with_their_groups_and_local_accounts_survive_an_outage() {
    let mut slapd = directory().await;
    let secret = slapd.folder().join("service-password");
    std::fs::write(&secret, "directory root secret\n").unwrap();
    let search = format!(
        r#"bind_dn = "{ROOT_DN}"
           bind_password_file = "{}"
           search_base = "ou=people,{SUFFIX}""#,
        secret.display()
    );
    let ldap = ldap_config(&slapd.ldaps_url, &slapd.ca_file(), &search);
    let controller = Controller::start(|c| {
        c.auth.ldap = Some(ldap);
        c.auth.failed_login_delay_ms = 50;
        c.auth.failed_login_max_delay_ms = 100;
    })
    .await
    .expect("controller starts");
    let mut admin = ApiClient::new(&controller).unwrap();
    admin.first_login("admin", &controller.first_password, ADMIN).await.unwrap();

    // On the web page, with the directory password: an operator, from the group.
    let browser = Browser::start().await.expect("chromium starts");
    browser.login_as(&controller.url, "dora", DORA).await.unwrap().expect("dora logs in");
    let session = browser.api("GET", "/api/session", Value::Null).await.unwrap()["body"].clone();
    assert_eq!((session["username"].as_str(), session["role"].as_str()), (Some("dora"), Some("Operator")), "{session}");

    // Wrong password, an injected filter, and a user in no mapped group: each told why.
    let wrong = browser.login_as(&controller.url, "dora", "not dora's password").await.unwrap();
    assert!(wrong.as_ref().is_err_and(|e| e.contains("wrong user name or password")), "{wrong:?}");
    let injected = browser.login_as(&controller.url, "*)(uid=*", DORA).await.unwrap();
    assert!(injected.as_ref().is_err_and(|e| e.contains("wrong user name or password")), "{injected:?}");
    let nemo = browser.login_as(&controller.url, "nemo", NEMO).await.unwrap();
    assert!(nemo.as_ref().is_err_and(|e| e.contains("no group that gives a role")), "{nemo:?}");

    // The role follows the groups at the next login.
    slapd.add_member("lantern-admins", "dora").unwrap();
    let (status, body) = api_login(&controller, "dora", DORA).await.unwrap();
    assert_eq!((status, body["role"].as_str()), (200, Some("Administrator")), "{body}");

    // A rights group: rita may control the controller's own shell, which her role alone
    // (ReadOnly) would only let her watch.
    let mut rita = ApiClient::new(&controller).unwrap();
    let body = rita.login("rita", RITA).await.unwrap();
    assert_eq!(body["role"].as_str(), Some("ReadOnly"));
    let (_, hosts) = rita.call("GET", "/api/hosts", None).await.unwrap();
    let local = hosts.as_array().and_then(|h| h.iter().find(|h| h["id"] == "local")).cloned().unwrap_or_default();
    assert_eq!(local["rights"]["control"], true, "{hosts}");
    // Her password is the directory's: it is not changed here.
    let change = json!({"current_password": RITA, "new_password": "a new password for rita"});
    let (status, body) = rita.call("POST", "/api/password", Some(change)).await.unwrap();
    assert_eq!(status, 409, "{body}");
    assert!(body["error"].as_str().unwrap_or_default().contains("directory"), "{body}");

    // Redfish: a session, and Basic, with the directory password.
    let http = redfish_client(&controller);
    let created = http
        .post(format!("{}/redfish/v1/SessionService/Sessions", controller.url))
        .json(&json!({"UserName": "dora", "Password": DORA}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status().as_u16(), 201);
    assert!(created.headers().contains_key("x-auth-token"));
    let systems =
        http.get(format!("{}/redfish/v1/Systems", controller.url)).basic_auth("dora", Some(DORA)).send().await.unwrap();
    assert_eq!(systems.status().as_u16(), 200);
    let refused =
        http.get(format!("{}/redfish/v1/Systems", controller.url)).basic_auth("nemo", Some(NEMO)).send().await.unwrap();
    assert_eq!(refused.status().as_u16(), 403);

    // The trail says who came in through the directory, with which groups.
    let (_, trail) = admin.call("GET", "/api/audit?limit=200", None).await.unwrap();
    let text = trail.to_string();
    assert!(text.contains("login.not-permitted"), "{text}");
    assert!(text.contains(&group_dn("lantern-admins")), "{text}");

    // The directory goes down: directory logins fail clearly, local ones work.
    slapd.stop();
    let down = browser.login_as(&controller.url, "dora", DORA).await.unwrap();
    assert!(down.as_ref().is_err_and(|e| e.contains("directory cannot be reached")), "{down:?}");
    let (status, _) = api_login(&controller, "admin", ADMIN).await.unwrap();
    assert_eq!(status, 200, "the local administrator logs in while the directory is down");
    browser.close().await;
}

/// StartTLS, and a direct bind from a DN template (no service account: the user's own bind
/// reads their groups).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starttls_and_a_dn_template_work_too() {
    let slapd = directory().await;
    let template = format!(r#"user_dn_template = "uid={{user}},ou=people,{SUFFIX}""#);
    let mut ldap = ldap_config(&slapd.ldap_url, &slapd.ca_file(), &template);
    ldap.starttls = true;
    let controller = Controller::start(|c| c.auth.ldap = Some(ldap)).await.expect("controller starts");
    let (status, body) = api_login(&controller, "dora", DORA).await.unwrap();
    assert_eq!((status, body["role"].as_str()), (200, Some("Operator")), "{body}");
    let (status, _) = api_login(&controller, "dora", "wrong").await.unwrap();
    assert_eq!(status, 401);
    // A DN-escaped name finds nobody rather than another entry.
    let (status, _) = api_login(&controller, "dora,ou=people", DORA).await.unwrap();
    assert_eq!(status, 401);
}

/// A directory that accepts connections and never answers: directory logins end within their
/// deadline with a clear error, and local logins are not held up meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_directory_holds_up_only_directory_logins() {
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ldaps://127.0.0.1:{}", silent.local_addr().unwrap().port());
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = silent.accept().await {
            held.push(socket);
        }
    });
    let ca = tempfile::NamedTempFile::new().unwrap();
    let cert = rcgen::generate_simple_self_signed(vec!["127.0.0.1".into()]).unwrap();
    std::fs::write(ca.path(), cert.cert.pem()).unwrap();
    let template = format!(r#"user_dn_template = "uid={{user}},ou=people,{SUFFIX}""#);
    let ldap = ldap_config(&url, ca.path(), &template);
    let controller = Controller::start(|c| c.auth.ldap = Some(ldap)).await.expect("controller starts");
    let mut admin = ApiClient::new(&controller).unwrap();
    admin.first_login("admin", &controller.first_password, ADMIN).await.unwrap();

    // More directory logins than the directory has turns, all hanging.
    let waiting: Vec<_> = (0..12)
        .map(|i| {
            let client = ApiClient::new(&controller).unwrap();
            tokio::spawn(async move {
                let body = json!({"username": format!("user{i}"), "password": "some password"});
                client.call("POST", "/api/login", Some(body)).await
            })
        })
        .collect();
    e2e::wait_for("directory logins to be under way", Duration::from_secs(10), || async {
        let busy = controller.running.state.logins.directory_logins_in_progress();
        Ok(if busy > 0 { Ok(()) } else { Err(format!("{busy} in progress")) })
    })
    .await
    .unwrap();
    let (status, _) = api_login(&controller, "admin", ADMIN).await.unwrap();
    assert_eq!(status, 200);
    assert!(
        controller.running.state.logins.directory_logins_in_progress() > 0,
        "the local login finished while directory logins still hung"
    );
    for login in waiting {
        let (status, body) = login.await.unwrap().unwrap();
        assert_eq!(status, 503, "{body}");
        assert!(body["error"].as_str().unwrap_or_default().contains("directory cannot be reached"), "{body}");
    }
}
