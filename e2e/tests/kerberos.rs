//! Kerberos against a real MIT KDC started here from a temporary folder: password login on
//! the web page for `user@REALM`, the ticket-granting ticket handed to the browser sealed, and
//! nothing of it left in the controller's memory or database.

use controller_server::secret::hex;
use std::time::Duration;

use base64::Engine;
use controller_server::directory::seal::{self, Sealer};
use e2e::browser::Browser;
use e2e::client::set_cookie;
use e2e::kdc::{Kdc, REALM};
use e2e::process::{serve_from_env, ControllerProcess};
use lantern_gss::Credential;
use serde_json::{json, Value};

const ALICE: &str = "alice's kerberos password";
const BOB: &str = "bob's kerberos password";
const ADMIN: &str = "the local administrator's password";
/// The controller process seals with this key (a debug build's test hook), so that this test
/// can open what it handed out and look for its contents.
const SEAL_KEY: [u8; 32] = [0x5a; 32];
const KERBEROS_SECTION: &str = "LANTERN_TEST_KERBEROS";

fn helper() -> std::path::PathBuf {
    Kdc::helper().unwrap()
}

fn alice() -> String {
    format!("alice@{REALM}")
}

/// The controller process of these tests (run by `ControllerProcess::start`).
#[test]
fn controller_process_for_kerberos_tests() {
    serve_from_env(|config| {
        let section = std::env::var(KERBEROS_SECTION)?;
        config.auth.kerberos = Some(toml::from_str(&section)?);
        config.hosts = vec![e2e::local_shell_host()];
        config.auth.failed_login_delay_ms = 50;
        Ok(())
    })
    .unwrap();
}

/// Every readable, writable mapping of process `pid` (heap, stacks, anonymous memory).
fn process_memory(pid: u32) -> Vec<u8> {
    use std::io::{Read, Seek, SeekFrom};
    let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).unwrap();
    let mut mem = std::fs::File::open(format!("/proc/{pid}/mem")).unwrap();
    let mut all = Vec::new();
    for line in maps.lines() {
        let mut fields = line.split_whitespace();
        let (Some(range), Some(perms)) = (fields.next(), fields.next()) else { continue };
        if !perms.starts_with("rw") {
            continue;
        }
        let Some((start, end)) = range.split_once('-') else { continue };
        let (Ok(start), Ok(end)) = (u64::from_str_radix(start, 16), u64::from_str_radix(end, 16)) else { continue };
        let mut chunk = vec![0u8; (end - start) as usize];
        if mem.seek(SeekFrom::Start(start)).is_ok() && mem.read_exact(&mut chunk).is_ok() {
            all.extend_from_slice(&chunk);
        }
    }
    all
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kerberos_password_login_hands_the_ticket_to_the_browser_and_keeps_none() {
    let mut kdc = Kdc::start(&[("alice", ALICE), ("bob", BOB)]).await.unwrap();
    let keytab = kdc.service_keytab(&format!("HTTP/localhost@{REALM}")).unwrap();
    let helper = helper();
    let section = format!(
        r#"realm = "{REALM}"
           helper = "{}"
           keytab = "{}"
           [[roles]]
           principal = "alice@{REALM}"
           role = "Operator""#,
        helper.display(),
        keytab.display()
    );
    let mut env: Vec<(String, String)> =
        kdc.env().into_iter().map(|(k, v)| (k.to_string(), v.display().to_string())).collect();
    env.push((KERBEROS_SECTION.into(), section));
    env.push(("LANTERN_TEST_SEAL_KEY".into(), hex(&SEAL_KEY)));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let data = tempfile::tempdir().unwrap();
    let listen = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let controller = ControllerProcess::start("controller_process_for_kerberos_tests", None, data.path(), listen, &env)
        .await
        .unwrap();
    let mut admin = controller.admin(ADMIN).await.unwrap();

    // In the browser: alice@REALM with her Kerberos password; the sealed ticket is an
    // HttpOnly cookie for the API only.
    let browser = Browser::start().await.unwrap();
    browser.login_as(&controller.url, &alice(), ALICE).await.unwrap().expect("alice logs in");
    let session = browser.api("GET", "/api/session", Value::Null).await.unwrap()["body"].clone();
    assert_eq!(session["role"], "Operator", "{session}");
    // WebDriver lists the cookies of the page it is on: one under /api.
    browser.client.goto(&format!("{}/api/session", controller.url)).await.unwrap();
    let cookies = browser.client.get_all_cookies().await.unwrap();
    let sealed = cookies.iter().find(|c| c.name() == seal::COOKIE).expect("the sealed credentials cookie");
    assert_eq!((sealed.http_only(), sealed.secure(), sealed.path()), (Some(true), Some(true), Some("/api")));

    // The same login through the API, to look inside what was handed out.
    let cert = reqwest::Certificate::from_pem(&std::fs::read(controller.cert_path()).unwrap()).unwrap();
    let http = reqwest::Client::builder().add_root_certificate(cert).timeout(Duration::from_secs(30)).build().unwrap();
    let response = http
        .post(format!("{}/api/login", controller.url))
        .json(&json!({"username": alice(), "password": ALICE}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let session_token = set_cookie(&response, "lantern_session").unwrap();
    let sealed = set_cookie(&response, seal::COOKIE).unwrap();
    let token = Sealer::from_key(SEAL_KEY).open(&session_token, &sealed).expect("sealed for this session");
    assert!(Sealer::from_key(SEAL_KEY).open("another session", &sealed).is_none());
    // It is alice's ticket-granting ticket, usable as it is.
    let credential = Credential::import(&token).unwrap();
    assert_eq!(credential.principal().unwrap(), alice());
    // MIT's export: JSON after a mechanism header, keys as [enctype, base64].
    let text = String::from_utf8_lossy(&token).into_owned();
    let at = text.find("krbtgt/").expect("a TGT in the token");
    let key_b64 = text[at..].split("[18,\"").nth(1).and_then(|k| k.split('"').next()).expect("its session key");
    let key = base64::engine::general_purpose::STANDARD.decode(key_b64).unwrap();
    assert_eq!(key.len(), 32);

    // Nowhere in the controller: not in its memory, not in its database.
    let pid = controller.child.id().unwrap();
    let memory = process_memory(pid);
    assert!(memory.len() > 1 << 20, "read the controller's memory ({} bytes)", memory.len());
    assert!(!contains(&memory, &key), "the TGT's session key is in the controller's memory");
    assert!(!contains(&memory, key_b64.as_bytes()), "the exported token is in the controller's memory");
    for file in ["lantern.db", "lantern.db-wal"] {
        let bytes = std::fs::read(data.path().join(file)).unwrap_or_default();
        assert!(!contains(&bytes, &key) && !contains(&bytes, key_b64.as_bytes()), "{file}");
    }

    // Single sign-on: a browser holding alice's (forwardable) ticket logs in with no password,
    // and the ticket it delegates comes back sealed. Chromium's first Negotiate in a fresh
    // process is known to fail: the button is pressed until it works, within a deadline.
    let ccache = kdc.folder().join("alice-ccache");
    kdc.kinit_forwardable(&alice(), ALICE, &ccache).unwrap();
    let krb5_conf = kdc.env()[0].1.clone();
    // Delegation has no switch: it is a browser-wide preference (the policy's).
    let delegate = json!({ "auth": { "negotiate_delegate_whitelist": "localhost" } });
    let sso_browser = Browser::start_with_env(
        &["--auth-server-allowlist=localhost"],
        &[("KRB5CCNAME", &ccache), ("KRB5_CONFIG", &krb5_conf)],
        Some(&delegate),
    )
    .await
    .unwrap();
    let localhost = controller.url.replace("127.0.0.1", "localhost");
    sso_browser.client.goto(&localhost).await.unwrap();
    e2e::wait_for("single sign-on", Duration::from_secs(60), || async {
        if sso_browser.client.find(fantoccini::Locator::Id("open-local")).await.is_ok() {
            return Ok(Ok(()));
        }
        if let Ok(button) = sso_browser.client.find(fantoccini::Locator::Id("sso-button")).await {
            let _ = button.click().await;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
        Ok(Err(sso_browser.text_of("login-error").await.unwrap_or_default()))
    })
    .await
    .unwrap();
    let session = sso_browser.api("GET", "/api/session", Value::Null).await.unwrap()["body"].clone();
    assert_eq!((session["username"].as_str(), session["role"].as_str()), (Some(alice().as_str()), Some("Operator")));
    sso_browser.client.goto(&format!("{localhost}/api/session")).await.unwrap();
    let cookies = sso_browser.client.get_all_cookies().await.unwrap();
    assert!(cookies.iter().any(|c| c.name() == seal::COOKIE), "the delegated ticket, sealed");
    sso_browser.close().await;
    let (_, trail) = admin.call("GET", "/api/audit?limit=100", None).await.unwrap();
    let detail = |r: &Value| match &r["detail"] {
        Value::String(text) => serde_json::from_str(text).unwrap_or_default(),
        other => other.clone(),
    };
    let negotiated = trail.as_array().into_iter().flatten().map(detail).find(|d| d["method"] == "negotiate");
    assert_eq!(negotiated.map(|d| d["delegated"].clone()), Some(Value::Bool(true)), "{trail}");

    // Negotiate from a client without a ticket, with a forged one, with one that is no base64.
    let negotiate = format!("{}/api/login/negotiate", controller.url);
    let bare = http.post(&negotiate).send().await.unwrap();
    assert_eq!(bare.status().as_u16(), 401);
    assert_eq!(bare.headers().get("www-authenticate").and_then(|v| v.to_str().ok()), Some("Negotiate"));
    let forged = base64::engine::general_purpose::STANDARD.encode(b"\x60\x10 not a kerberos token at all");
    let refused = http.post(&negotiate).header("authorization", format!("Negotiate {forged}")).send().await.unwrap();
    assert_eq!(refused.status().as_u16(), 401);
    let junk = http.post(&negotiate).header("authorization", "Negotiate ***").send().await.unwrap();
    assert_eq!(junk.status().as_u16(), 400);

    // Wrong password; a principal with no role; the KDC down while the local admin logs in.
    let wrong = browser.login_as(&controller.url, &alice(), "not alice's password").await.unwrap();
    assert!(wrong.as_ref().is_err_and(|e| e.contains("wrong user name or password")), "{wrong:?}");
    let bob = browser.login_as(&controller.url, &format!("bob@{REALM}"), BOB).await.unwrap();
    assert!(bob.as_ref().is_err_and(|e| e.contains("no group that gives a role")), "{bob:?}");
    kdc.stop();
    let down = browser.login_as(&controller.url, &alice(), ALICE).await.unwrap();
    assert!(down.as_ref().is_err_and(|e| e.contains("directory cannot be reached")), "{down:?}");
    admin.login("admin", ADMIN).await.expect("the local administrator logs in while the KDC is down");
    browser.close().await;
}

/// The helper on its own: a login's token imports back into credentials for the same
/// principal; wrong passwords and unknown principals have their own exit status; malformed
/// requests and tokens are refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_kerberos_helper_logs_in_exports_and_refuses_bad_input() {
    use directory_wire::kinit;
    use std::io::Write;
    let kdc = Kdc::start(&[("carol", "carol's password")]).await.unwrap();
    let principal = format!("carol@{REALM}");
    let run = |command: &str, request: &[u8]| {
        let mut child = kdc
            .command(helper().to_str().unwrap())
            .arg(command)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(request).unwrap();
        let out = child.wait_with_output().unwrap();
        (out.status.code(), out.stdout, String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let (status, answer, said) = run("login", &kinit::login_request(&principal, "carol's password"));
    assert_eq!(status, Some(0), "{said}");
    let (lifetime, token) = kinit::read_login_answer(&answer).unwrap();
    assert!(lifetime > Duration::from_secs(3600));
    assert_eq!(Credential::import(&token).unwrap().principal().unwrap(), principal);
    // Delegation to the controller's HTTP service, as a browser does inside SPNEGO: the
    // helper accepts the token and hands back carol's forwarded credentials.
    let keytab = kdc.service_keytab(&format!("HTTP/localhost@{REALM}")).unwrap();
    std::env::set_var("KRB5_CONFIG", &kdc.env()[0].1);
    let imported = Credential::import(&token).unwrap();
    let target = libgssapi::name::Name::new(b"HTTP@localhost", Some(libgssapi::oid::GSS_NT_HOSTBASED_SERVICE)).unwrap();
    let flags = libgssapi::context::CtxFlags::GSS_C_DELEG_FLAG | libgssapi::context::CtxFlags::GSS_C_MUTUAL_FLAG;
    let mut client = libgssapi::context::ClientCtx::new(
        Some(imported.cred().clone()),
        target,
        flags,
        Some(libgssapi::oid::GSS_MECH_KRB5),
    );
    let first = client.step(None, None).unwrap().unwrap().to_vec();
    let mut child = std::process::Command::new(helper())
        .arg("accept")
        .envs(kdc.env())
        .env("KRB5_KTNAME", &keytab)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&kinit::accept_request(&first)).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let accepted = kinit::read_accept_answer(&out.stdout).unwrap();
    assert_eq!(accepted.principal, principal);
    let (_, forwarded) = accepted.delegated.expect("carol's delegated credentials");
    assert_eq!(Credential::import(&forwarded).unwrap().principal().unwrap(), principal);

    let (status, _, _) = run("login", &kinit::login_request(&principal, "wrong"));
    assert_eq!(status, Some(kinit::EXIT_WRONG_PASSWORD));
    let (status, _, _) = run("login", &kinit::login_request(&format!("nobody@{REALM}"), "x"));
    assert_eq!(status, Some(kinit::EXIT_WRONG_PASSWORD));
    let (status, _, _) = run("login", b"\xff\xff\xff\xff");
    assert_eq!(status, Some(kinit::EXIT_BAD_REQUEST));
    let (status, _, _) = run("accept", &kinit::accept_request(&[0x60, 0x03, 0x06, 0x01, 0x00]));
    assert_eq!(status, Some(kinit::EXIT_REFUSED));
    for bad in [&b"garbage"[..], &[0u8; 64][..], &[]] {
        assert!(Credential::import(bad).is_err());
    }
}

/// With `[auth.ldap]` beside the realm, a Kerberos user the role map does not name gets the
/// role of their directory entry's groups (found by the service account, no password asked);
/// a principal with no entry and no default role is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kerberos_user_gets_the_role_of_their_directory_groups() {
    use e2e::slapd::{group_dn, Person, Slapd, ROOT_DN, SUFFIX};
    let kdc = Kdc::start(&[("dora", "dora's kerberos password"), ("nemo", "nemo's kerberos password")]).await.unwrap();
    let people = [Person { uid: "dora", password: "dora's directory password, not asked" }];
    let groups: [(&str, &[&str]); 1] = [("lantern-operators", &["dora"])];
    let slapd = Slapd::start(&people, &groups).await.unwrap();
    let secret = slapd.folder().join("service-password");
    std::fs::write(&secret, "directory root secret").unwrap();
    let ldap = toml::from_str(&format!(
        r#"url = "{}"
           ca_file = "{}"
           bind_dn = "{ROOT_DN}"
           bind_password_file = "{}"
           search_base = "ou=people,{SUFFIX}"
           group_base = "ou=groups,{SUFFIX}"
           [[roles]]
           group = "{}"
           role = "Operator""#,
        slapd.ldaps_url,
        slapd.ca_file().display(),
        secret.display(),
        group_dn("lantern-operators")
    ))
    .unwrap();
    let kerberos = toml::from_str(&format!(
        r#"realm = "{REALM}"
           kdc = ["127.0.0.1:{}"]
           helper = "{}""#,
        kdc.port,
        helper().display()
    ))
    .unwrap();
    let controller = e2e::Controller::start(|c| {
        c.auth.ldap = Some(ldap);
        c.auth.kerberos = Some(kerberos);
    })
    .await
    .unwrap();
    let login = |user: String, password: &'static str| {
        let client = e2e::client::ApiClient::new(&controller).unwrap();
        async move { client.call("POST", "/api/login", Some(json!({"username": user, "password": password}))).await }
    };
    let (status, body) = login(format!("dora@{REALM}"), "dora's kerberos password").await.unwrap();
    assert_eq!((status, body["role"].as_str()), (200, Some("Operator")), "{body}");
    let (status, body) = login(format!("nemo@{REALM}"), "nemo's kerberos password").await.unwrap();
    assert_eq!(status, 403, "{body}");
}

/// A KDC that takes connections and never answers: the login fails within its deadline with
/// a clear answer, and local accounts log in meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_kdc_fails_kerberos_logins_in_time_and_holds_up_nothing_else() {
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = silent.local_addr().unwrap().port();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = silent.accept().await {
            held.push(socket);
        }
    });
    let kerberos = toml::from_str(&format!(
        r#"realm = "{REALM}"
           kdc = ["127.0.0.1:{port}"]
           timeout_seconds = 2
           default_role = "ReadOnly"
           helper = "{}""#,
        helper().display()
    ))
    .unwrap();
    let controller = e2e::Controller::start(|c| c.auth.kerberos = Some(kerberos)).await.unwrap();
    let mut admin = e2e::client::ApiClient::new(&controller).unwrap();
    admin.first_login("admin", &controller.first_password, ADMIN).await.unwrap();
    let started = std::time::Instant::now();
    let pending = {
        let client = e2e::client::ApiClient::new(&controller).unwrap();
        tokio::spawn(async move {
            let body = json!({"username": format!("alice@{REALM}"), "password": ALICE});
            client.call("POST", "/api/login", Some(body)).await
        })
    };
    admin.login("admin", ADMIN).await.expect("a local login while the KDC is silent");
    let (status, body) = pending.await.unwrap().unwrap();
    assert_eq!(status, 503, "{body}");
    assert!(body["error"].as_str().unwrap_or_default().contains("directory cannot be reached"), "{body}");
    // The helper's own KDC time-out, or ours (three times the configured one).
    assert!(started.elapsed() < Duration::from_secs(20), "answered after {:?}", started.elapsed());
}
