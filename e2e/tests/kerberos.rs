//! Kerberos against a real MIT KDC started here from a temporary folder: password login on
//! the web page for `user@REALM`, the ticket-granting ticket handed to the browser sealed, and
//! nothing of it left in the controller's memory or database.

use std::time::Duration;

use base64::Engine;
use controller_server::directory::seal::{self, Sealer};
use e2e::browser::Browser;
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

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
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

/// A `Set-Cookie` value's `name=value`, from a response.
fn cookie_of(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.split(';').next()?.trim().strip_prefix(name)?.strip_prefix('=').map(str::to_string))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kerberos_password_login_hands_the_ticket_to_the_browser_and_keeps_none() {
    let mut kdc = Kdc::start(&[("alice", ALICE), ("bob", BOB)]).await.unwrap();
    let helper = e2e::workspace_root().join("target/debug/lantern-kinit");
    assert!(helper.exists(), "{} is missing: `cargo build -p lantern-gss --bins` first", helper.display());
    let section = format!(
        r#"realm = "{REALM}"
           helper = "{}"
           [[roles]]
           principal = "alice@{REALM}"
           role = "Operator""#,
        helper.display()
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
    let session_token = cookie_of(&response, "lantern_session").unwrap();
    let sealed = cookie_of(&response, seal::COOKIE).unwrap();
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exported_credentials_import_and_bad_tokens_are_refused() {
    let kdc = Kdc::start(&[("carol", "carol's password")]).await.unwrap();
    let principal = format!("carol@{REALM}");
    let (config, cache) = (kdc.env()[0].1.clone(), kdc.folder().join("unused-cache"));
    let outcome = tokio::task::spawn_blocking(move || {
        // Only this test's thread would read it: the library reads KRB5_CONFIG per context.
        std::env::set_var("KRB5_CONFIG", config);
        std::env::set_var("KRB5CCNAME", cache);
        let cred = Credential::with_password(&principal, "carol's password")?;
        let token = cred.export()?;
        let back = Credential::import(&token)?;
        let wrong = Credential::with_password(&principal, "wrong").unwrap_err();
        let nobody = Credential::with_password(&format!("nobody@{REALM}"), "x").unwrap_err();
        anyhow::Ok((back.principal()?, wrong.is_wrong_password(), nobody.is_wrong_password()))
    })
    .await
    .unwrap()
    .unwrap();
    assert_eq!(outcome, (format!("carol@{REALM}"), true, true));
    for bad in [&b"garbage"[..], &[0u8; 64][..], &[]] {
        assert!(Credential::import(bad).is_err());
    }
}
