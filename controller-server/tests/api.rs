//! The HTTP API as a client sees it, driven through the real router without a socket:
//! login, cookie flags, CSRF and Origin checks, the forced password change, console keys.

mod common;

use axum::body::Body;
use axum::http::{header, HeaderMap, Method, Request, StatusCode};
use base64::Engine;
use common::{api, api_with, new_user, Api, ORIGIN};
use controller_server::config::SavedDirective;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use shared::wire::KeyId;
use tower::ServiceExt;

#[tokio::test]
async fn login_sets_a_hardened_cookie_and_wrong_passwords_are_refused() {
    let api = api().await;
    let (status, _, body) =
        api.call(Method::POST, "/api/login", &[], Some(json!({"username": "admin", "password": "guess"}))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"], "wrong user name or password");
    let (status, _, _) =
        api.call(Method::POST, "/api/login", &[], Some(json!({"username": "root", "password": api.password}))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let (status, headers, body) =
        api.call(Method::POST, "/api/login", &[], Some(json!({"username": "admin", "password": api.password}))).await;
    assert_eq!(status, StatusCode::OK);
    let cookie = headers.get(header::SET_COOKIE).unwrap().to_str().unwrap();
    for flag in ["Secure", "HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(cookie.contains(flag), "{cookie}");
    }
    assert_eq!(body["must_change_password"], true);
    assert!(!body.to_string().contains(&api.password));
}

#[tokio::test]
async fn login_from_a_foreign_origin_is_refused() {
    let api = api().await;
    let (status, _, _) = api
        .call(
            Method::POST,
            "/api/login",
            &[("origin", "https://evil.example")],
            Some(json!({"username": "admin", "password": api.password})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn the_first_run_password_must_be_changed_before_anything_else() {
    let api = api().await;
    let (cookie, csrf) = api.login(&api.password).await;
    let (status, _, body) = api.call(Method::GET, "/api/hosts", &[("cookie", &cookie)], None).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::FORBIDDEN, Some("password change required")));
    let (status, _, _) = api
        .call(Method::POST, "/api/hosts/local/console-key", &[("cookie", &cookie), ("x-csrf-token", &csrf)], None)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // Too short, and wrong current password.
    let (status, _, _) = api
        .call(
            Method::POST,
            "/api/password",
            &[("cookie", &cookie), ("x-csrf-token", &csrf)],
            Some(json!({"current_password": api.password, "new_password": "short"})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _, _) = api
        .call(
            Method::POST,
            "/api/password",
            &[("cookie", &cookie), ("x-csrf-token", &csrf)],
            Some(json!({"current_password": "not it at all", "new_password": "a long new password"})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn state_changing_requests_need_the_csrf_token_and_an_allowed_origin() {
    let api = api().await;
    let (cookie, csrf) = api.ready_session().await;
    let key_uri = "/api/hosts/local/console-key";
    let (status, _, body) = api.call(Method::POST, key_uri, &[("cookie", &cookie)], None).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::FORBIDDEN, Some("missing or wrong CSRF token")));
    let (status, _, _) =
        api.call(Method::POST, key_uri, &[("cookie", &cookie), ("x-csrf-token", "forged")], None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _, body) = api
        .call(
            Method::POST,
            key_uri,
            &[("cookie", &cookie), ("x-csrf-token", &csrf), ("origin", "https://evil.example")],
            None,
        )
        .await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::FORBIDDEN, Some("request from a foreign origin")));
    let (status, _, _) = api.call(Method::POST, "/api/logout", &[("cookie", &cookie)], None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "logout is state-changing too");
}

#[tokio::test]
async fn a_console_key_is_issued_uncached_bound_and_single_use() {
    let api = api().await;
    let (cookie, csrf) = api.ready_session().await;
    let (status, headers, key) = api
        .call(
            Method::POST,
            "/api/hosts/local/console-key",
            &[("cookie", &cookie), ("x-csrf-token", &csrf), ("origin", ORIGIN)],
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{key}");
    assert_eq!(headers.get(header::CACHE_CONTROL).unwrap(), "no-store");
    assert_eq!(key["suites"], json!(["chacha20-poly1305", "rc4-hmac-sha1"]), "ChaCha20-Poly1305 preferred");
    assert_eq!(key["ws_path"], "/console/ws");
    let pms = base64::engine::general_purpose::STANDARD.decode(key["pms"].as_str().unwrap()).unwrap();
    assert_eq!(pms.len(), 32);
    let key_id = KeyId::from_hex(key["key_id"].as_str().unwrap()).unwrap();
    let (claimed, binding) = api.state.keys.claim(&key_id, None).unwrap();
    assert_eq!(claimed.expose().as_slice(), pms.as_slice());
    assert_eq!((binding.username.as_str(), binding.host_id.as_str()), ("admin", "local"));
    assert!(api.state.keys.claim(&key_id, None).is_err());

    let (status, _, _) = api
        .call(Method::POST, "/api/hosts/nope/console-key", &[("cookie", &cookie), ("x-csrf-token", &csrf)], None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn logout_ends_the_session_and_its_unused_keys() {
    let api = api().await;
    let (cookie, csrf) = api.ready_session().await;
    let (_, _, key) = api
        .call(Method::POST, "/api/hosts/local/console-key", &[("cookie", &cookie), ("x-csrf-token", &csrf)], None)
        .await;
    let (status, headers, _) =
        api.call(Method::POST, "/api/logout", &[("cookie", &cookie), ("x-csrf-token", &csrf)], None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(headers.get(header::SET_COOKIE).unwrap().to_str().unwrap().contains("Max-Age=0"));
    let (status, _, _) = api.call(Method::GET, "/api/session", &[("cookie", &cookie)], None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let key_id = KeyId::from_hex(key["key_id"].as_str().unwrap()).unwrap();
    assert!(api.state.keys.claim(&key_id, None).is_err());
}

#[tokio::test]
async fn pages_carry_the_security_headers() {
    let api = api().await;
    let (status, headers, _) = api.call(Method::GET, "/", &[], None).await;
    assert_eq!(status, StatusCode::OK);
    let csp = headers.get(header::CONTENT_SECURITY_POLICY).unwrap().to_str().unwrap();
    assert!(csp.contains("frame-ancestors 'none'") && csp.contains("script-src 'self' 'wasm-unsafe-eval'"), "{csp}");
    assert!(headers.get(header::STRICT_TRANSPORT_SECURITY).is_some());
    assert_eq!(headers.get(header::X_CONTENT_TYPE_OPTIONS).unwrap(), "nosniff");
    assert_eq!(headers.get(header::X_FRAME_OPTIONS).unwrap(), "DENY", "no framing unless configured");
}

#[tokio::test]
async fn static_files_are_compressed_for_browsers_that_accept_it() {
    let api = api().await;
    let (status, headers, _) = api.call(Method::GET, "/index.html", &[("accept-encoding", "br, gzip")], None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers.get(header::CONTENT_ENCODING).unwrap(), "br");
    let (_, headers, _) = api.call(Method::GET, "/index.html", &[], None).await;
    assert!(headers.get(header::CONTENT_ENCODING).is_none());
}

#[tokio::test]
async fn the_audit_trail_records_who_did_what_and_verifies() {
    let api = api().await;
    let (status, _, _) =
        api.call(Method::POST, "/api/login", &[], Some(json!({"username": "admin", "password": "wrong guess"}))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (cookie, csrf) = api.ready_session().await;
    let (_, _, _) = api
        .call(Method::POST, "/api/hosts/local/console-key", &[("cookie", &cookie), ("x-csrf-token", &csrf)], None)
        .await;

    let (status, _, records) = api.call(Method::GET, "/api/audit?limit=10", &[("cookie", &cookie)], None).await;
    assert_eq!(status, StatusCode::OK);
    let actions: Vec<(&str, &str)> = records
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["actor"].as_str().unwrap(), r["action"].as_str().unwrap()))
        .collect();
    assert_eq!(
        actions,
        vec![("admin", "console.key"), ("admin", "user.password"), ("admin", "login.ok"), ("admin", "login.failed")]
    );
    assert!(!records.to_string().contains("wrong guess"), "no password in the trail");

    let (_, _, verdict) = api.call(Method::GET, "/api/audit/verify", &[("cookie", &cookie)], None).await;
    assert_eq!((verdict["intact"].as_bool(), verdict["records"].as_u64()), (Some(true), Some(4)));
    let (status, headers, _) = api.call(Method::GET, "/api/audit/export", &[("cookie", &cookie)], None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers.get(header::CONTENT_TYPE).unwrap(), "application/x-ndjson");
    let (status, _, _) = api.call(Method::GET, "/api/audit", &[], None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn repeated_failures_lock_the_account_until_the_configured_time_has_passed() {
    let api = api_with(|c| {
        c.auth.failed_login_delay_ms = 10;
        c.auth.lockout_after = 3;
        // Long enough that a loaded machine's slow password hashing cannot outlast it.
        c.auth.lockout_seconds = 4;
    })
    .await;
    let login = |password: &str| {
        api.call(Method::POST, "/api/login", &[], Some(json!({"username": "admin", "password": password})))
    };
    assert_eq!(login("guess 1").await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(login("guess 2").await.0, StatusCode::UNAUTHORIZED);
    let (status, headers, body) = login("guess 3").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(headers.get(header::RETRY_AFTER).unwrap(), "4");
    assert_eq!(body["error"], "too many failed logins; try again in 4 s");
    // The right password does not get through a lock ...
    let (status, _, _) = login(&api.password).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    // ... and does once the configured time has passed.
    tokio::time::sleep(std::time::Duration::from_millis(4100)).await;
    let (status, _, body) = login(&api.password).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let actions: Vec<String> = api.state.audit.all().unwrap().into_iter().map(|r| r.action).collect();
    assert_eq!(actions, ["login.failed", "login.failed", "login.locked", "login.refused-locked", "login.ok"]);
}

/// A user the administrator made, logged in with a password of their own.
#[tokio::test]
async fn only_administrators_manage_users_and_roles_set_what_a_user_may_do() {
    let api = api().await;
    let admin = api.ready_session().await;
    let (vera_id, vera_cookie, vera_csrf) = new_user(&api, &admin, "vera", "ReadOnly").await;
    let (_, otto_cookie, otto_csrf) = new_user(&api, &admin, "otto", "Operator").await;

    // An operator may not manage users.
    let (status, _, body) = api.call(Method::GET, "/api/users", &[("cookie", &otto_cookie)], None).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::FORBIDDEN, Some("administrators only")));
    let (status, _, _) = api
        .call(
            Method::POST,
            "/api/users",
            &[("cookie", &otto_cookie), ("x-csrf-token", &otto_csrf)],
            Some(json!({"username": "eve", "password": "a long password", "role": "Administrator"})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // A viewer sees the host and gets a key that may only watch; an operator's may control.
    let (_, _, hosts) = api.call(Method::GET, "/api/hosts", &[("cookie", &vera_cookie)], None).await;
    assert_eq!(
        hosts[0]["rights"],
        json!({"view": true, "control": false, "power": false, "run": false, "media": false})
    );
    let key_uri = "/api/hosts/local/console-key";
    let (_, _, key) =
        api.call(Method::POST, key_uri, &[("cookie", &vera_cookie), ("x-csrf-token", &vera_csrf)], None).await;
    assert_eq!(key["control"], false);
    // The local shell runs as the controller's own user: an operator only watches it unless an
    // administrator grants more.
    let (_, _, key) =
        api.call(Method::POST, key_uri, &[("cookie", &otto_cookie), ("x-csrf-token", &otto_csrf)], None).await;
    assert_eq!(key["control"], false);
    let otto_id = api.state.users.list().unwrap().into_iter().find(|u| u.username == "otto").unwrap().id;
    common::grant_all(&api, &admin, "local", otto_id).await;
    let (_, _, key) =
        api.call(Method::POST, key_uri, &[("cookie", &otto_cookie), ("x-csrf-token", &otto_csrf)], None).await;
    assert_eq!(key["control"], true);

    // Taken off the host's access list, the viewer no longer sees it at all.
    take_off_local_host(&api, &admin, vera_id).await;
    let (_, _, hosts) = api.call(Method::GET, "/api/hosts", &[("cookie", &vera_cookie)], None).await;
    assert_eq!(hosts, json!([]));
    let (status, _, _) =
        api.call(Method::POST, key_uri, &[("cookie", &vera_cookie), ("x-csrf-token", &vera_csrf)], None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, _, list) = api.call(Method::GET, "/api/hosts/local/access", &[("cookie", &admin.0)], None).await;
    let vera = list.as_array().unwrap().iter().find(|e| e["username"] == "vera").unwrap();
    assert_eq!(vera["rights"]["view"], false);

    // The last administrator stays.
    let admin_id = api.state.users.list().unwrap().into_iter().find(|u| u.username == "admin").unwrap().id;
    let (status, _, body) = api
        .call(
            Method::PUT,
            &format!("/api/users/{admin_id}"),
            &[("cookie", &admin.0), ("x-csrf-token", &admin.1)],
            Some(json!({"role": "Operator"})),
        )
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::CONFLICT, Some("the last administrator cannot be demoted or deleted"))
    );
    let (status, _, _) = api
        .call(
            Method::DELETE,
            &format!("/api/users/{admin_id}"),
            &[("cookie", &admin.0), ("x-csrf-token", &admin.1)],
            None,
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);

    let actions: Vec<String> = api.state.audit.all().unwrap().into_iter().map(|r| r.action).collect();
    assert!(
        actions.iter().filter(|a| *a == "user.create").count() == 2 && actions.contains(&"host.access".to_string()),
        "{actions:?}"
    );
}

#[tokio::test]
async fn a_portal_back_end_uses_an_api_token_with_its_owners_rights_until_it_is_revoked() {
    let api = api().await;
    let admin = api.ready_session().await;
    let (otto_id, _, _) = new_user(&api, &admin, "portal", "ReadOnly").await;
    let (status, _, made) = api
        .call(
            Method::POST,
            "/api/tokens",
            &[("cookie", &admin.0), ("x-csrf-token", &admin.1)],
            Some(json!({"name": "vendor portal", "user_id": otto_id})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{made}");
    let token = made["token"].as_str().unwrap().to_string();
    let bearer = format!("Bearer {token}");

    // No cookie, no CSRF token: a program's request.
    let (status, _, hosts) = api.call(Method::GET, "/api/hosts", &[("authorization", &bearer)], None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(hosts[0]["rights"]["control"], false, "the owner's rights, not more");
    let (status, _, key) =
        api.call(Method::POST, "/api/hosts/local/console-key", &[("authorization", &bearer)], None).await;
    assert_eq!((status, key["control"].as_bool()), (StatusCode::OK, Some(false)));
    let (status, _, _) = api.call(Method::GET, "/api/users", &[("authorization", &bearer)], None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "a read-only owner manages nothing");

    let (_, _, listed) = api.call(Method::GET, "/api/tokens", &[("cookie", &admin.0)], None).await;
    assert_eq!(listed[0]["owner"], "portal");
    assert!(listed[0]["last_used_at"].is_i64());
    assert!(!listed.to_string().contains(&token), "tokens are never shown again");

    let (status, _, body) = api.call(Method::GET, "/api/hosts", &[("authorization", "Bearer lnt_made-up")], None).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::UNAUTHORIZED, Some("unknown or revoked API token")));
    let id = made["id"].as_i64().unwrap();
    let (status, _, _) = api
        .call(Method::DELETE, &format!("/api/tokens/{id}"), &[("cookie", &admin.0), ("x-csrf-token", &admin.1)], None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _, _) = api.call(Method::GET, "/api/hosts", &[("authorization", &bearer)], None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let trail: Vec<String> = api.state.audit.all().unwrap().into_iter().map(|r| r.action).collect();
    assert!(trail.contains(&"token.create".into()) && trail.contains(&"token.revoke".into()));
}

#[tokio::test]
async fn a_launch_is_scoped_single_use_and_its_page_fetches_keys_without_cookies() {
    let api = api().await;
    let admin = api.ready_session().await;
    let (_, vera_cookie, vera_csrf) = new_user(&api, &admin, "vera", "ReadOnly").await;
    let headers = [("cookie", vera_cookie.as_str()), ("x-csrf-token", vera_csrf.as_str())];
    // A viewer may launch a view, not control.
    let (status, _, _) =
        api.call(Method::POST, "/api/launches", &headers, Some(json!({"host": "local", "control": true}))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _, made) =
        api.call(Method::POST, "/api/launches", &headers, Some(json!({"host": "local", "ttl_seconds": 9999}))).await;
    assert_eq!(status, StatusCode::OK, "{made}");
    assert_eq!(made["expires_in_ms"], 300_000, "capped");
    let path = made["path"].as_str().unwrap().to_string();

    let (status, headers, _) = api.call(Method::GET, &path, &[], None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers.get(header::CACHE_CONTROL).unwrap(), "no-store");
    // The page holds the session secret; read it as the page's script would.
    let page = api
        .app
        .clone()
        .oneshot(Request::builder().uri("/launch/again-unknown").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::GONE);
    let (status, _, _) = api.call(Method::GET, &path, &[], None).await;
    assert_eq!(status, StatusCode::GONE, "a launch opens once");

    let (status, _, _) =
        api.call(Method::POST, "/api/launch-session/console-key", &[("authorization", "Launch forged")], None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn the_launch_page_carries_its_secret_and_gets_view_only_keys() {
    let api = api().await;
    let admin = api.ready_session().await;
    let (_, _, made) = api
        .call(
            Method::POST,
            "/api/launches",
            &[("cookie", &admin.0), ("x-csrf-token", &admin.1)],
            Some(json!({"host": "local"})),
        )
        .await;
    let req = Request::builder()
        .uri(made["path"].as_str().unwrap())
        .header(header::HOST, "127.0.0.1:8443")
        .body(Body::empty())
        .unwrap();
    let res = api.app.clone().oneshot(req).await.unwrap();
    let html = String::from_utf8(res.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap();
    let secret =
        html.split("name=\"lantern-launch\" content=\"").nth(1).unwrap().split('"').next().unwrap().to_string();
    assert!(html.contains("View only") && html.contains("/launch.js"));
    let (status, _, key) = api
        .call(Method::POST, "/api/launch-session/console-key", &[("authorization", &format!("Launch {secret}"))], None)
        .await;
    assert_eq!((status, key["control"].as_bool()), (StatusCode::OK, Some(false)));
}

#[tokio::test]
async fn power_needs_the_power_right_and_is_audited() {
    let api = api().await;
    let admin = api.ready_session().await;
    let (_, vera_cookie, vera_csrf) = new_user(&api, &admin, "vera", "ReadOnly").await;
    let (status, _, body) = press(&api, &vera_cookie, &vera_csrf, "off").await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::FORBIDDEN, Some("you may not power this host")));
    let (status, _, _) = press(&api, &admin.0, &admin.1, "sideways").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "unknown actions are refused");
    let (status, _, _) = press(&api, &admin.0, &admin.1, "reset").await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let last = api.state.audit.page(None, 1).unwrap().remove(0);
    let detail: Value = serde_json::from_str(&last.detail).unwrap();
    assert_eq!((last.actor.as_str(), last.action.as_str()), ("admin", "host.power"));
    assert_eq!((detail["action"].as_str(), detail["via"].as_str()), (Some("reset"), Some("web")));
}

#[tokio::test]
async fn a_screenshot_is_for_viewers_audited_and_a_text_screen_comes_as_png_or_text() {
    let api = api().await;
    let admin = api.ready_session().await;
    let cookie = [("cookie", admin.0.as_str())];
    // The local host is `cat` on an 80x24 terminal: what it is given shows on its screen.
    let host = api.state.hosts.get("local").unwrap();
    host.input.send(shared::wire::InputEvent::Paste("shot-text ✓".into())).await.unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let (status, headers, body) = api.get_bytes("/api/hosts/local/screenshot?format=text", &cookie).await;
        let text = String::from_utf8(body).unwrap();
        if status == StatusCode::OK && text.contains("shot-text ✓") {
            assert_eq!(headers[header::CONTENT_TYPE], "text/plain; charset=utf-8");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the text never showed: {status} {text:?}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }

    let (status, headers, png) = api.get_bytes("/api/hosts/local/screenshot", &cookie).await;
    assert_eq!(
        (status, &headers[header::CONTENT_TYPE]),
        (StatusCode::OK, &"image/png".parse::<header::HeaderValue>().unwrap())
    );
    assert_eq!(headers[header::CACHE_CONTROL], "no-store");
    let decoder = png::Decoder::new(std::io::Cursor::new(png));
    let info = decoder.read_info().unwrap().info().clone();
    assert_eq!((info.width, info.height), (80 * 8, 24 * 16), "the console's font, cell for cell");
    let last = api.state.audit.page(None, 1).unwrap().remove(0);
    assert_eq!(
        (last.actor.as_str(), last.action.as_str(), last.target.as_str()),
        ("admin", "host.screenshot", "local")
    );

    let (status, _, _) = api.get_bytes("/api/hosts/local/screenshot?format=jpeg", &cookie).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _, _) = api.get_bytes("/api/hosts/local/screenshot", &[]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // Without the view right the host is not there at all.
    let (vera_id, vera_cookie, _) = new_user(&api, &admin, "vera", "ReadOnly").await;
    take_off_local_host(&api, &admin, vera_id).await;
    let (status, _, _) = api.get_bytes("/api/hosts/local/screenshot", &[("cookie", &vera_cookie)]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// Takes user `id` off the `local` host's access list: it no longer sees the host.
async fn take_off_local_host(api: &Api, admin: &(String, String), id: i64) {
    let (status, _, _) = api
        .call(
            Method::PUT,
            &format!("/api/hosts/local/access/{id}"),
            &[("cookie", &admin.0), ("x-csrf-token", &admin.1)],
            Some(json!({"view": false, "control": false, "power": false})),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
}

async fn press(api: &Api, cookie: &str, csrf: &str, action: &str) -> (StatusCode, HeaderMap, Value) {
    api.call(
        Method::POST,
        "/api/hosts/local/power",
        &[("cookie", cookie), ("x-csrf-token", csrf)],
        Some(json!({ "action": action })),
    )
    .await
}

#[tokio::test]
async fn a_hosts_event_log_records_what_happened_to_it() {
    let api = api().await;
    let admin = api.ready_session().await;
    let (status, _, _) = press(&api, &admin.0, &admin.1, "off").await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let mut messages = Vec::new();
    for _ in 0..100 {
        let (_, _, events) =
            api.call(Method::GET, "/api/hosts/local/events?limit=10", &[("cookie", &admin.0)], None).await;
        messages = events.as_array().unwrap().iter().map(|e| e["message"].as_str().unwrap().to_string()).collect();
        // The button press and the state it led to, in whichever order they were written.
        if messages.iter().take(2).any(|m| m == "powered off")
            && messages.iter().take(2).any(|m| m == "Power action 'off' by admin (web)")
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(messages.iter().take(2).any(|m| m == "powered off"), "{messages:?}");
    assert!(messages.iter().take(2).any(|m| m == "Power action 'off' by admin (web)"), "{messages:?}");
    assert!(messages.iter().any(|m| m.starts_with("running /bin/cat")), "{messages:?}");
    let (status, _, _) = api.call(Method::GET, "/api/hosts/nope/events", &[("cookie", &admin.0)], None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_demoted_or_deleted_administrator_loses_their_rights_on_the_next_request() {
    let api = api().await;
    let admin = api.ready_session().await;
    let (eve, eve_cookie, _) = new_user(&api, &admin, "eve", "Administrator").await;
    let (status, _, _) = api.call(Method::GET, "/api/users", &[("cookie", &eve_cookie)], None).await;
    assert_eq!(status, StatusCode::OK);
    let headers = [("cookie", admin.0.as_str()), ("x-csrf-token", admin.1.as_str())];
    let (status, _, _) =
        api.call(Method::PUT, &format!("/api/users/{eve}"), &headers, Some(json!({"role": "ReadOnly"}))).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, body) = api.call(Method::GET, "/api/users", &[("cookie", &eve_cookie)], None).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::FORBIDDEN, Some("administrators only")));
    let (_, _, session) = api.call(Method::GET, "/api/session", &[("cookie", &eve_cookie)], None).await;
    assert_eq!(session["role"], "ReadOnly", "the session shows the role the account has now");
    let (status, _, _) = api.call(Method::DELETE, &format!("/api/users/{eve}"), &headers, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _, _) = api.call(Method::GET, "/api/session", &[("cookie", &eve_cookie)], None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_launch_gives_no_key_once_its_token_is_revoked_or_its_right_removed() {
    let api = api().await;
    let admin = api.ready_session().await;
    let admin_headers = [("cookie", admin.0.as_str()), ("x-csrf-token", admin.1.as_str())];
    let (owner, _, _) = new_user(&api, &admin, "portal", "Operator").await;
    common::grant_all(&api, &admin, "local", owner).await;
    let (_, _, made) =
        api.call(Method::POST, "/api/tokens", &admin_headers, Some(json!({"name": "portal", "user_id": owner}))).await;
    let bearer = format!("Bearer {}", made["token"].as_str().unwrap());
    let secret = |api: &Api, bearer: String| {
        let api_app = api.app.clone();
        async move {
            let req = Request::builder()
                .method(Method::POST)
                .uri("/api/launches")
                .header(header::HOST, "127.0.0.1:8443")
                .header(header::AUTHORIZATION, bearer)
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(json!({"host": "local", "control": true}).to_string()))
                .unwrap();
            let made: Value = serde_json::from_slice(
                &api_app.clone().oneshot(req).await.unwrap().into_body().collect().await.unwrap().to_bytes(),
            )
            .unwrap();
            let page = Request::builder().uri(made["path"].as_str().unwrap()).body(Body::empty()).unwrap();
            let html = api_app.oneshot(page).await.unwrap().into_body().collect().await.unwrap().to_bytes();
            let html = String::from_utf8(html.to_vec()).unwrap();
            html.split("name=\"lantern-launch\" content=\"").nth(1).unwrap().split('"').next().unwrap().to_string()
        }
    };
    let key = |secret: String| {
        let api = &api;
        async move {
            let auth = format!("Launch {secret}");
            api.call(Method::POST, "/api/launch-session/console-key", &[("authorization", &auth)], None).await.0
        }
    };
    // Control taken away on the host: the launch that asked for control gets no more keys.
    let launched = secret(&api, bearer.clone()).await;
    assert_eq!(key(launched.clone()).await, StatusCode::OK);
    let view_only = json!({"view": true, "control": false, "power": false});
    let (status, _, _) =
        api.call(Method::PUT, &format!("/api/hosts/local/access/{owner}"), &admin_headers, Some(view_only)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(key(launched).await, StatusCode::FORBIDDEN);
    common::grant_all(&api, &admin, "local", owner).await;

    // The token that made the launch revoked: no more keys either.
    let launched = secret(&api, bearer).await;
    assert_eq!(key(launched.clone()).await, StatusCode::OK);
    let id = made["id"].as_i64().unwrap();
    let (status, _, _) = api.call(Method::DELETE, &format!("/api/tokens/{id}"), &admin_headers, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(key(launched).await, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn only_administrators_read_the_trail_and_a_typed_secret_never_lands_in_it() {
    let api = api().await;
    let admin = api.ready_session().await;
    // Someone types their password into the name field.
    let (status, _, _) =
        api.call(Method::POST, "/api/login", &[], Some(json!({"username": "hunter2-secret", "password": "x"}))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (_, otto_cookie, _) = new_user(&api, &admin, "otto", "Operator").await;
    for path in ["/api/audit", "/api/audit/export", "/api/audit/verify"] {
        let (status, _, _) = api.call(Method::GET, path, &[("cookie", &otto_cookie)], None).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
    }
    let (status, _, _) = api.call(Method::GET, "/api/audit", &[("cookie", &admin.0)], None).await;
    assert_eq!(status, StatusCode::OK);
    let trail = api.state.audit.all().unwrap();
    assert!(trail.iter().all(|r| !r.actor.contains("hunter2") && !r.detail.contains("hunter2")), "{trail:?}");
    let failed = trail.iter().find(|r| r.action == "login.failed").unwrap();
    assert!(failed.actor.is_empty() && failed.detail.contains("\"name_known\":false"), "{failed:?}");
}

#[tokio::test]
async fn malformed_bodies_unknown_api_paths_and_huge_passwords_get_json_errors() {
    let api = api().await;
    let (cookie, csrf) = api.ready_session().await;
    let auth = [("cookie", cookie.as_str()), ("x-csrf-token", csrf.as_str()), ("origin", ORIGIN)];
    let cases = [
        ("application/json", "{not json", StatusCode::BAD_REQUEST, "the body is not valid JSON"),
        (
            "text/plain",
            "{}",
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "the body must be JSON (Content-Type: application/json)",
        ),
        (
            "application/json",
            r#"{"current_password": 12345678901}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
            "the body does not fit: a field has the wrong type or value",
        ),
        (
            "application/json",
            r#"{"current_password": "x"}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
            "the body does not fit: missing field `new_password`",
        ),
    ];
    for (content_type, body, status, message) in cases {
        let (got, _, answer) = api.call_raw(Method::POST, "/api/password", &auth, content_type, body).await;
        assert_eq!((got, answer["error"].as_str()), (status, Some(message)), "{body}");
        assert!(!answer.to_string().contains("12345678901"), "a value sent is never echoed");
    }
    let (status, headers, body) = api.call(Method::GET, "/api/no-such-thing", &[("cookie", &cookie)], None).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::NOT_FOUND, Some("no such API endpoint")));
    assert!(headers[header::CONTENT_TYPE].to_str().unwrap().starts_with("application/json"));
    let huge = "p".repeat(1025);
    let change = json!({"current_password": "correct horse battery", "new_password": huge});
    let (status, _, body) = api.call(Method::POST, "/api/password", &auth, Some(change)).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("passwords must be at most 1024 bytes"))
    );
    let (status, _, body) = api
        .call(
            Method::POST,
            "/api/login",
            &[("origin", ORIGIN)],
            Some(json!({"username": "admin", "password": "p".repeat(1_000_000)})),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "a 1 MB password is refused unhashed: {body}");
}

#[tokio::test]
async fn security_actions_are_refused_when_the_audit_trail_cannot_record_them() {
    let api = common::api_on_disk().await;
    let admin = api.ready_session().await;
    let headers = [("cookie", admin.0.as_str()), ("x-csrf-token", admin.1.as_str())];
    // The trail's file refuses writes (a full disk, a broken volume).
    let db = rusqlite::Connection::open(api.dir().join("lantern.db")).unwrap();
    db.execute_batch("CREATE TRIGGER no_audit BEFORE INSERT ON audit BEGIN SELECT RAISE(ABORT, 'disk full'); END;")
        .unwrap();
    let refused = Some("the audit trail cannot be written, so the action is refused");
    let (status, _, body) = api.call(Method::POST, "/api/tokens", &headers, Some(json!({"name": "unrecorded"}))).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::SERVICE_UNAVAILABLE, refused));
    assert!(api.state.users.tokens().unwrap().is_empty(), "no token exists that the trail does not know of");
    let (status, _, _) = api.call(Method::POST, "/api/hosts/local/console-key", &headers, None).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    let (status, _, _) = press(&api, &admin.0, &admin.1, "reset").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    let new = json!({"username": "ghost", "password": "a long password", "role": "Administrator"});
    let (status, _, _) = api.call(Method::POST, "/api/users", &headers, Some(new)).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(api.state.users.list().unwrap().iter().all(|u| u.username != "ghost"));
    let (status, _, _) = api
        .call(Method::POST, "/api/login", &[], Some(json!({"username": "admin", "password": "correct horse battery"})))
        .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "a login the trail cannot record does not happen");
    // Once the trail takes records again, everything works.
    db.execute_batch("DROP TRIGGER no_audit;").unwrap();
    let (status, _, _) = api.call(Method::POST, "/api/tokens", &headers, Some(json!({"name": "recorded"}))).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn only_administrators_save_directives_and_the_configurations_own_stay_fixed() {
    let api = api_with(|c| {
        c.agents.saved = vec![SavedDirective { name: "collect logs".into(), command: "journalctl -n 1000".into() }];
    })
    .await;
    let admin = api.ready_session().await;
    let (_, op_cookie, op_csrf) = new_user(&api, &admin, "olga", "Operator").await;
    let save = |cookie: String, csrf: String, name: &'static str, command: &'static str| {
        let api = &api;
        async move {
            let path = format!("/api/directives/saved/{}", name.replace(' ', "%20"));
            let headers = [("cookie", cookie.as_str()), ("x-csrf-token", csrf.as_str())];
            api.call(Method::PUT, &path, &headers, Some(json!({ "command": command }))).await
        }
    };
    let (status, _, _) = save(op_cookie.clone(), op_csrf.clone(), "disk", "df -h").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "an operator may not save one");
    let (status, _, body) = save(admin.0.clone(), admin.1.clone(), "collect logs", "true").await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let (status, _, _) = save(admin.0.clone(), admin.1.clone(), "disk", "df -h").await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _, _) = save(admin.0.clone(), admin.1.clone(), "disk", "df -hT").await;
    assert_eq!(status, StatusCode::NO_CONTENT, "saving again replaces it");
    let (status, _, _) = save(admin.0.clone(), admin.1.clone(), "disk", " ").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (_, _, listed) = api.call(Method::GET, "/api/directives/saved", &[("cookie", &op_cookie)], None).await;
    let names: Vec<_> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["name"].as_str().unwrap(), s["command"].as_str().unwrap(), s["saved_by"].as_str()))
        .collect();
    assert_eq!(names, [("collect logs", "journalctl -n 1000", None), ("disk", "df -hT", Some("admin"))]);
    let last = api.state.audit.page(None, 1).unwrap().remove(0);
    assert_eq!((last.actor.as_str(), last.action.as_str(), last.target.as_str()), ("admin", "directive.save", "disk"));
    let headers = [("cookie", admin.0.as_str()), ("x-csrf-token", admin.1.as_str())];
    let (status, _, _) = api.call(Method::DELETE, "/api/directives/saved/disk", &headers, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _, _) = api.call(Method::DELETE, "/api/directives/saved/collect%20logs", &headers, None).await;
    assert_eq!(status, StatusCode::CONFLICT, "the configuration's own is changed there");
}

#[tokio::test]
async fn an_administrator_lists_and_ends_sessions_and_others_may_not() {
    let api = common::api().await;
    let admin = api.ready_session().await;
    let (_, op_cookie, op_csrf) = common::new_user(&api, &admin, "otto", "Operator").await;
    let as_admin = [("cookie", admin.0.as_str()), ("x-csrf-token", admin.1.as_str())];
    let as_otto = [("cookie", op_cookie.as_str()), ("x-csrf-token", op_csrf.as_str())];

    let (status, _, _) = api.call(Method::GET, "/api/sessions", &as_otto, None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "only administrators see who is here");
    let (status, _, everyone) = api.call(Method::GET, "/api/sessions", &as_admin, None).await;
    assert_eq!(status, StatusCode::OK);
    let web = everyone["web"].as_array().unwrap();
    let otto = web.iter().find(|s| s["user"] == "otto").expect("otto's session is listed");
    assert!(web.iter().any(|s| s["user"] == "admin" && s["yours"] == true), "{everyone}");
    assert!(otto["since"].as_i64().unwrap() > 0 && otto["yours"] == false);
    let id = otto["id"].as_str().unwrap();

    let (status, _, _) = api.call(Method::DELETE, &format!("/api/sessions/web/{id}"), &as_otto, None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _, _) = api.call(Method::DELETE, "/api/sessions/tea/1", &as_admin, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, _) = api.call(Method::DELETE, "/api/sessions/console/99", &as_admin, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, _) = api.call(Method::DELETE, &format!("/api/sessions/web/{id}"), &as_admin, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _, _) = api.call(Method::GET, "/api/session", &as_otto, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "the ended session opens nothing");
    let (status, _, _) = api.call(Method::DELETE, &format!("/api/sessions/web/{id}"), &as_admin, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "ended once");

    let (_, _, trail) = api.call(Method::GET, "/api/audit?limit=20", &as_admin, None).await;
    let ended = trail.as_array().unwrap().iter().find(|r| r["action"] == "session.end").expect("audited");
    assert_eq!((ended["actor"].as_str(), ended["target"].as_str()), (Some("admin"), Some(id)));
    assert!(ended["detail"].as_str().unwrap().contains("\"user\":\"otto\""), "{ended}");
}

#[tokio::test]
async fn the_audit_trail_is_filtered_and_exported_as_filtered() {
    let api = common::api().await;
    let admin = api.ready_session().await;
    let as_admin = [("cookie", admin.0.as_str()), ("x-csrf-token", admin.1.as_str())];
    let (status, _, _) = api.call(Method::POST, "/api/tokens", &as_admin, Some(json!({"name": "=HYPERLINK(1)"}))).await;
    assert_eq!(status, StatusCode::OK);

    let (_, _, page) = api.call(Method::GET, "/api/audit?action=token", &as_admin, None).await;
    let actions: Vec<&str> = page.as_array().unwrap().iter().filter_map(|r| r["action"].as_str()).collect();
    assert_eq!(actions, ["token.create"]);
    let (_, _, page) = api.call(Method::GET, "/api/audit?actor=admin&action=password", &as_admin, None).await;
    assert!(page.as_array().unwrap().iter().all(|r| r["action"].as_str().unwrap().starts_with("password")), "{page}");
    let (_, _, page) = api.call(Method::GET, "/api/audit?from=4102444800000", &as_admin, None).await;
    assert_eq!(page, json!([]), "nothing after 2100");
    let (_, _, actions) = api.call(Method::GET, "/api/audit/actions", &as_admin, None).await;
    assert!(actions.as_array().unwrap().iter().any(|a| a == "token.create"), "{actions}");

    let (status, headers, csv) = api.get_bytes("/api/audit/export?format=csv&action=token", &as_admin).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CONTENT_TYPE], "text/csv; charset=utf-8");
    let csv = String::from_utf8(csv).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 2, "{csv}");
    assert!(lines[1].contains(",admin,token.create,admin,,"), "{csv}");
    assert!(lines[1].contains(r#""{""id"":1,""name"":""=HYPERLINK(1)""}""#), "the detail, quoted: {csv}");
    let (_, _, filtered) = api.get_bytes("/api/audit/export?action=token", &as_admin).await;
    let filtered = String::from_utf8(filtered).unwrap();
    assert_eq!(filtered.lines().count(), 1, "a filtered export has no checkpoints: {filtered}");
    let (status, _, _) = api.get_bytes("/api/audit/export?format=xml", &as_admin).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}
