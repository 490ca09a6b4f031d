//! `EventService` (DSP0266 §10): subscriptions that get events by HTTPS POST, Server-Sent
//! Events at `ServerSentEventUri`, and `Registries`, where the `Lantern` message registry the
//! events' `MessageId`s name is served. Subscriptions and the stream are for administrators:
//! events name every host and every failed login.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};

use super::accounts::string_property;
use super::auth::{json_object, Body, Caller};
use super::error::RedfishError;
use super::{collection_body, created, link, resource, status};
use crate::app::AppState;
use crate::notify::delivery::{AddError, Counts};
use crate::notify::registry;
use crate::notify::subscriptions::Subscription;
use crate::notify::{Draft, Notice};
use crate::store::audit::now_ms;
use crate::web::principal::Credential;

const SERVICE: &str = "/redfish/v1/EventService";
const SUBSCRIPTIONS: &str = "/redfish/v1/EventService/Subscriptions";
const SSE: &str = "/redfish/v1/EventService/SSE";
const REGISTRIES: &str = "/redfish/v1/Registries";
const REGISTRY_FILE: &str = "/redfish/v1/Registries/Lantern";
pub const REGISTRY: &str = "/redfish/v1/Registries/Lantern/Lantern";
/// The longest `Context` and `Destination` kept.
const MAX_TEXT: usize = 1024;
/// Headers a subscription may carry, at most.
const MAX_HEADERS: usize = 16;

fn subscription_uri(id: i64) -> String {
    format!("{SUBSCRIPTIONS}/{id}")
}

/// The schemas our events concern, for `ResourceTypes`.
fn resource_types() -> Vec<&'static str> {
    let mut types: Vec<&str> = registry::ALL.iter().map(|m| m.resource_type).collect();
    types.sort_unstable();
    types.dedup();
    types
}

pub async fn service(State(state): State<AppState>, caller: Caller) -> Result<Response, RedfishError> {
    caller.ready()?;
    let events = state.subscriptions.config();
    Ok(resource(json!({
        "@odata.id": SERVICE,
        "@odata.type": "#EventService.v1_10_0.EventService",
        "Id": "EventService",
        "Name": "Event Service",
        "ServiceEnabled": true,
        "Status": status("Enabled", "OK"),
        "DeliveryRetryAttempts": events.retry_attempts,
        "DeliveryRetryIntervalSeconds": events.retry_interval_seconds,
        "EventFormatTypes": ["Event"],
        "RegistryPrefixes": [registry::PREFIX],
        "ResourceTypes": resource_types(),
        "ServerSentEventUri": SSE,
        "SSEFilterPropertiesSupported": {
            "EventFormatType": false,
            "MessageId": true,
            "MetricReportDefinition": false,
            "OriginResource": true,
            "RegistryPrefix": true,
            "ResourceType": true,
        },
        "Subscriptions": link(SUBSCRIPTIONS),
        "Actions": {
            "#EventService.SubmitTestEvent": {
                "target": format!("{SERVICE}/Actions/EventService.SubmitTestEvent"),
            },
        },
    })))
}

pub async fn subscriptions(State(state): State<AppState>, caller: Caller) -> Result<Response, RedfishError> {
    caller.require_admin()?;
    let members: Vec<String> = state.subscriptions.list().iter().map(|(s, _)| subscription_uri(s.id)).collect();
    Ok(resource(collection_body(SUBSCRIPTIONS, "EventDestinationCollection", "Event Subscriptions", &members)))
}

/// A subscription whose last delivery failed shows `Health: Warning` until one succeeds.
fn subscription_body(s: &Subscription, counts: &Counts) -> Value {
    let failing = crate::sync::Locked::locked(&counts.last_error).is_some();
    json!({
        "@odata.id": subscription_uri(s.id),
        "@odata.type": "#EventDestination.v1_13_0.EventDestination",
        "Id": s.id.to_string(),
        "Name": format!("Event Subscription {}", s.id),
        "Destination": s.destination,
        "Context": s.context,
        "Protocol": "Redfish",
        "SubscriptionType": "RedfishEvent",
        "EventFormatType": "Event",
        "RegistryPrefixes": s.registry_prefixes,
        "ResourceTypes": s.resource_types,
        // DSP0266: never shown back (they may hold the subscriber's credentials).
        "HttpHeaders": [],
        "Status": status("Enabled", if failing { "Warning" } else { "OK" }),
    })
}

fn subscription_id(id: &str) -> Result<i64, RedfishError> {
    id.parse().map_err(|_| RedfishError::not_found("EventDestination", id))
}

pub async fn subscription(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, RedfishError> {
    caller.require_admin()?;
    let (s, counts) = state
        .subscriptions
        .get(subscription_id(&id)?)
        .ok_or_else(|| RedfishError::not_found("EventDestination", &id))?;
    Ok(resource(subscription_body(&s, &counts)))
}

/// `POST .../Subscriptions`: `Destination` (https) and `Protocol: Redfish`, optionally
/// `Context`, `RegistryPrefixes`, `ResourceTypes` and `HttpHeaders`.
pub async fn create_subscription(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Body(body): Body,
) -> Result<Response, RedfishError> {
    caller.require_admin()?;
    let body = json_object(&headers, &body)?;
    let subscription = parse_subscription(&body, &caller.user.username)?;
    let detail = json!({
        "destination": subscription.destination,
        "registry_prefixes": subscription.registry_prefixes,
        "resource_types": subscription.resource_types,
        "via": "redfish",
    });
    state
        .audit_first(&caller.user.username, "events.subscribe", "", detail)
        .await
        .map_err(|_| RedfishError::internal())?;
    let delivery = state.subscriptions.clone();
    let added = tokio::task::spawn_blocking(move || delivery.add(subscription))
        .await
        .map_err(|_| RedfishError::internal())?
        .map_err(|e| match e {
            AddError::TooMany(n) => RedfishError::create_limit_reached(n),
            AddError::Store(e) => e.into(),
        })?;
    let (_, counts) = state.subscriptions.get(added.id).ok_or_else(RedfishError::internal)?;
    created(subscription_body(&added, &counts), &subscription_uri(added.id))
}

fn parse_subscription(body: &Map<String, Value>, creator: &str) -> Result<Subscription, RedfishError> {
    const KNOWN: &[&str] = &[
        "Destination",
        "Protocol",
        "Context",
        "RegistryPrefixes",
        "ResourceTypes",
        "HttpHeaders",
        "EventFormatType",
        "SubscriptionType",
        "EventTypes",
    ];
    if let Some(unknown) = body.keys().find(|k| !KNOWN.contains(&k.as_str())) {
        return Err(RedfishError::property_unknown(unknown));
    }
    let destination =
        string_property(body, "Destination", false)?.ok_or_else(|| RedfishError::property_missing("Destination"))?;
    check_destination(&destination)?;
    let protocol =
        string_property(body, "Protocol", false)?.ok_or_else(|| RedfishError::property_missing("Protocol"))?;
    one_of(&protocol, "Protocol", &["Redfish"])?;
    if let Some(format) = string_property(body, "EventFormatType", false)? {
        one_of(&format, "EventFormatType", &["Event"])?;
    }
    if let Some(kind) = string_property(body, "SubscriptionType", false)? {
        one_of(&kind, "SubscriptionType", &["RedfishEvent"])?;
    }
    // The deprecated EventTypes: every event of ours is an alert.
    string_list(body, "EventTypes", &["Alert", "Other"])?;
    let context = string_property(body, "Context", false)?.unwrap_or_default();
    if context.len() > MAX_TEXT {
        return Err(RedfishError::property_value_format("(too long)", "Context"));
    }
    Ok(Subscription {
        id: 0,
        destination,
        context,
        registry_prefixes: string_list(body, "RegistryPrefixes", &[registry::PREFIX])?,
        resource_types: string_list(body, "ResourceTypes", &resource_types())?,
        headers: http_headers(body)?,
        created_by: creator.to_string(),
        created_at: now_ms(),
    })
}

fn one_of(value: &str, property: &str, allowed: &[&str]) -> Result<(), RedfishError> {
    if allowed.contains(&value) {
        Ok(())
    } else {
        Err(RedfishError::property_value_not_in_list(value, property))
    }
}

/// An array of strings, each one of `allowed`; absent is empty.
fn string_list(body: &Map<String, Value>, property: &str, allowed: &[&str]) -> Result<Vec<String>, RedfishError> {
    let Some(value) = body.get(property) else { return Ok(Vec::new()) };
    let Value::Array(items) = value else {
        return Err(RedfishError::property_value_type(&value.to_string(), property));
    };
    let mut seen = HashSet::new();
    let mut listed = Vec::new();
    for item in items {
        let Value::String(text) = item else {
            return Err(RedfishError::property_value_type(&item.to_string(), property));
        };
        one_of(text, property, allowed)?;
        if seen.insert(text.clone()) {
            listed.push(text.clone());
        }
    }
    Ok(listed)
}

/// An `https` URL with a host and no credentials in it (they would show on every GET).
fn check_destination(destination: &str) -> Result<(), RedfishError> {
    let shown = if destination.len() > 80 { "(too long)" } else { destination };
    let bad = || RedfishError::property_value_format(shown, "Destination");
    if destination.len() > MAX_TEXT {
        return Err(bad());
    }
    // The URL parser reads `https:///x` as `https://x/`: an authority must be written.
    let authority = destination.get(..8).is_some_and(|s| s.eq_ignore_ascii_case("https://"))
        && !destination.get(8..).unwrap_or_default().starts_with('/');
    let url = reqwest::Url::parse(destination).map_err(|_| bad())?;
    if !authority
        || url.scheme() != "https"
        || url.host_str().is_none()
        || !url.username().is_empty()
        || url.password().is_some()
    {
        return Err(bad());
    }
    Ok(())
}

/// `HttpHeaders`: an array of objects of header names to values.
fn http_headers(body: &Map<String, Value>) -> Result<Vec<(String, String)>, RedfishError> {
    let Some(value) = body.get("HttpHeaders") else { return Ok(Vec::new()) };
    let shown = "(hidden)";
    let Value::Array(items) = value else { return Err(RedfishError::property_value_type(shown, "HttpHeaders")) };
    let mut headers = Vec::new();
    for item in items {
        let Value::Object(pairs) = item else { return Err(RedfishError::property_value_type(shown, "HttpHeaders")) };
        for (name, value) in pairs {
            let Value::String(value) = value else {
                return Err(RedfishError::property_value_type(shown, "HttpHeaders"));
            };
            let valid = header::HeaderName::from_bytes(name.as_bytes()).is_ok() && HeaderValue::from_str(value).is_ok();
            let reserved = ["content-type", "content-length", "host", "transfer-encoding", "connection"]
                .contains(&name.to_ascii_lowercase().as_str());
            if !valid || reserved {
                return Err(RedfishError::property_value_format(shown, "HttpHeaders"));
            }
            headers.push((name.clone(), value.clone()));
        }
    }
    if headers.len() > MAX_HEADERS {
        return Err(RedfishError::property_value_format(shown, "HttpHeaders"));
    }
    Ok(headers)
}

/// `PATCH`: a subscriber may change its `Context`; the rest is fixed at creation.
pub async fn update_subscription(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    Body(body): Body,
) -> Result<Response, RedfishError> {
    caller.require_admin()?;
    let number = subscription_id(&id)?;
    state.subscriptions.get(number).ok_or_else(|| RedfishError::not_found("EventDestination", &id))?;
    let body = json_object(&headers, &body)?;
    if let Some(key) = body.keys().find(|k| k.as_str() != "Context") {
        return Err(if KNOWN_FIXED.contains(&key.as_str()) {
            RedfishError::property_not_writable(key)
        } else {
            RedfishError::property_unknown(key)
        });
    }
    let context = string_property(&body, "Context", false)?.unwrap_or_default();
    if context.len() > MAX_TEXT {
        return Err(RedfishError::property_value_format("(too long)", "Context"));
    }
    state
        .audit_first(&caller.user.username, "events.update", &id, json!({ "via": "redfish" }))
        .await
        .map_err(|_| RedfishError::internal())?;
    let delivery = state.subscriptions.clone();
    tokio::task::spawn_blocking(move || delivery.set_context(number, &context))
        .await
        .map_err(|_| RedfishError::internal())??;
    subscription(State(state), caller, Path(id)).await
}

const KNOWN_FIXED: &[&str] = &[
    "Id",
    "Name",
    "Destination",
    "Protocol",
    "RegistryPrefixes",
    "ResourceTypes",
    "HttpHeaders",
    "EventFormatType",
    "SubscriptionType",
    "Status",
];

pub async fn delete_subscription(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, RedfishError> {
    caller.require_admin()?;
    let number = subscription_id(&id)?;
    let (s, _) = state.subscriptions.get(number).ok_or_else(|| RedfishError::not_found("EventDestination", &id))?;
    let detail = json!({ "destination": s.destination, "via": "redfish" });
    state
        .audit_first(&caller.user.username, "events.unsubscribe", &id, detail)
        .await
        .map_err(|_| RedfishError::internal())?;
    let delivery = state.subscriptions.clone();
    tokio::task::spawn_blocking(move || delivery.remove(number)).await.map_err(|_| RedfishError::internal())??;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `EventService.SubmitTestEvent`: an event of ours with the caller's `Message` text, to every
/// subscriber and stream (as DSP0266 has it, to check a subscription end to end).
pub async fn submit_test_event(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Body(body): Body,
) -> Result<Response, RedfishError> {
    const ACTION: &str = "EventService.SubmitTestEvent";
    caller.require_admin()?;
    let body = json_object(&headers, &body)?;
    let known = [
        "Message",
        "MessageId",
        "MessageArgs",
        "Severity",
        "MessageSeverity",
        "OriginOfCondition",
        "EventId",
        "EventTimestamp",
        "EventGroupId",
        "Context",
    ];
    if let Some(unknown) = body.keys().find(|k| !known.contains(&k.as_str())) {
        return Err(RedfishError::action_parameter_unknown(ACTION, unknown));
    }
    let text = match body.get("Message") {
        None => "from an administrator".to_string(),
        Some(Value::String(text)) if text.len() <= MAX_TEXT => text.clone(),
        Some(other) => return Err(RedfishError::action_parameter_type(&other.to_string(), "Message", ACTION)),
    };
    state
        .audit_first(&caller.user.username, "events.test", "", json!({ "via": "redfish" }))
        .await
        .map_err(|_| RedfishError::internal())?;
    state.notices.publish(Draft::new(registry::TEST_EVENT, &[&text], SERVICE.into()));
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// An SSE `$filter`: `Property eq 'value'` terms joined by `or` (DSP0266 §10.4's forms for
/// `MessageId`, `RegistryPrefix`, `ResourceType` and `OriginResource`).
#[derive(Debug, Default, PartialEq)]
pub struct SseFilter {
    terms: Vec<(String, String)>,
}

impl SseFilter {
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut terms = Vec::new();
        for term in text.split(" or ") {
            let words: Vec<&str> = term.split_whitespace().collect();
            let [property, "eq", value] = words.as_slice() else {
                return Err(format!("'{term}' is not 'Property eq value'"));
            };
            if !["MessageId", "RegistryPrefix", "ResourceType", "OriginResource"].contains(property) {
                return Err(format!("{property} cannot be filtered on"));
            }
            let value = value.trim_matches('\'');
            terms.push((property.to_string(), value.to_string()));
        }
        Ok(Self { terms })
    }

    pub fn wants(&self, notice: &Notice) -> bool {
        self.terms.is_empty()
            || self.terms.iter().any(|(property, value)| match property.as_str() {
                "MessageId" => notice.message_id() == *value || notice.message.key == value,
                "RegistryPrefix" => notice.registry_prefix() == value,
                "ResourceType" => notice.message.resource_type == value,
                "OriginResource" => notice.origin == *value,
                _ => false,
            })
    }
}

#[derive(serde::Deserialize)]
pub struct SseQuery {
    #[serde(rename = "$filter")]
    filter: Option<String>,
}

/// How often an open stream checks that its reader may still read it.
const RECHECK: Duration = Duration::from_secs(1);

/// `GET .../SSE`: every event from now on (and those kept since `Last-Event-ID`), as
/// `text/event-stream`. The stream ends within a second of the reader's session ending or
/// their losing the administrator role.
pub async fn sse(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Query(query): Query<SseQuery>,
) -> Result<Response, RedfishError> {
    caller.require_admin()?;
    let filter = match &query.filter {
        Some(text) => SseFilter::parse(text).map_err(|why| RedfishError::query_parameter_format(&why, "$filter"))?,
        None => SseFilter::default(),
    };
    let last_seen = headers.get("last-event-id").and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    // Subscribed before the catch-up is read: nothing falls between them.
    let live = state.notices.subscribe();
    let backlog = last_seen.map(|id| state.notices.since(id)).unwrap_or_default();
    let standing = Standing::of(&state, &caller).await?;
    state.audit(&caller.user.username, "events.stream", "", json!({ "via": "redfish" })).await;
    let reader = Reader { state, standing, filter, live, backlog: backlog.into(), last: last_seen.unwrap_or(0) };
    let stream = futures_util::stream::unfold(reader, |mut reader| async move {
        let notice = reader.next().await?;
        let event = SseEvent::default().id(notice.id.to_string()).data(notice.event("").to_string());
        Some((Ok::<_, std::convert::Infallible>(event), reader))
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))).into_response())
}

/// What the reader's right to the stream rests on, to check again while it is open.
enum Standing {
    Session(Credential),
    /// Basic credentials: the account and the version of its password at the start.
    Basic {
        user_id: i64,
        credential: i64,
    },
}

impl Standing {
    async fn of(state: &AppState, caller: &Caller) -> Result<Self, RedfishError> {
        if matches!(caller.credential, Credential::RedfishBasic) {
            let (users, id) = (state.users.clone(), caller.user.id);
            let found = crate::store::off_runtime(move || users.credentialed_user(id)).await?;
            let (_, credential) = found.ok_or_else(RedfishError::no_valid_session)?;
            return Ok(Self::Basic { user_id: caller.user.id, credential });
        }
        Ok(Self::Session(caller.credential.clone()))
    }

    async fn holds(&self, state: &AppState) -> bool {
        let (state, standing) = (state.clone(), self.clone_parts());
        let checked = crate::store::off_runtime(move || {
            let user = match standing {
                (Some(credential), _) => crate::web::principal::current_user(&state, &credential)?,
                (None, Some((id, version))) => {
                    state.users.credentialed_user(id)?.filter(|(_, c)| *c == version).map(|(u, _)| u)
                }
                (None, None) => None,
            };
            Ok(user.is_some_and(|u| u.role == crate::store::Role::Administrator && !u.must_change_password))
        })
        .await;
        checked.unwrap_or(false)
    }

    fn clone_parts(&self) -> (Option<Credential>, Option<(i64, i64)>) {
        match self {
            Self::Session(credential) => (Some(credential.clone()), None),
            Self::Basic { user_id, credential } => (None, Some((*user_id, *credential))),
        }
    }
}

struct Reader {
    state: AppState,
    standing: Standing,
    filter: SseFilter,
    live: tokio::sync::broadcast::Receiver<Arc<Notice>>,
    backlog: std::collections::VecDeque<Arc<Notice>>,
    /// The last id sent, so the catch-up and the live feed never send one twice.
    last: u64,
}

impl Reader {
    /// The next notice for this reader, or `None` when the stream must end.
    async fn next(&mut self) -> Option<Arc<Notice>> {
        loop {
            let notice = match self.backlog.pop_front() {
                Some(kept) => kept,
                None => {
                    let received = tokio::select! {
                        received = self.live.recv() => received,
                        () = tokio::time::sleep(RECHECK) => {
                            if !self.standing.holds(&self.state).await {
                                return None;
                            }
                            continue;
                        }
                    };
                    match received {
                        Ok(notice) => notice,
                        // A reader that fell behind misses events; it can tell by the ids.
                        Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                        Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
                    }
                }
            };
            if notice.id <= self.last || !self.filter.wants(&notice) {
                continue;
            }
            if !self.standing.holds(&self.state).await {
                return None;
            }
            self.last = notice.id;
            return Some(notice);
        }
    }
}

pub async fn registries(caller: Caller) -> Result<Response, RedfishError> {
    caller.ready()?;
    Ok(resource(collection_body(
        REGISTRIES,
        "MessageRegistryFileCollection",
        "Message Registries",
        &[REGISTRY_FILE.to_string()],
    )))
}

pub async fn registry_file(caller: Caller) -> Result<Response, RedfishError> {
    caller.ready()?;
    Ok(resource(json!({
        "@odata.id": REGISTRY_FILE,
        "@odata.type": "#MessageRegistryFile.v1_1_3.MessageRegistryFile",
        "Id": registry::PREFIX,
        "Name": "Lantern Message Registry File",
        "Registry": format!("{}.{}", registry::PREFIX, registry::VERSION.rsplit_once('.').map_or(registry::VERSION, |(h, _)| h)),
        "Languages": ["en"],
        "Location": [{ "Language": "en", "Uri": REGISTRY }],
    })))
}

pub async fn registry(caller: Caller) -> Result<Response, RedfishError> {
    caller.ready()?;
    Ok(resource(registry::registry_json(REGISTRY)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap()
    }

    #[test]
    fn a_subscription_needs_an_https_destination_and_the_redfish_protocol() {
        let ok = parse_subscription(
            &body(json!({
                "Destination": "https://collector.example:8443/events",
                "Protocol": "Redfish",
                "Context": "rack 4",
                "RegistryPrefixes": ["Lantern"],
                "ResourceTypes": ["Sensor", "Sensor"],
                "HttpHeaders": [{ "Authorization": "Bearer abc" }],
            })),
            "admin",
        )
        .unwrap();
        assert_eq!(ok.resource_types, ["Sensor"]);
        assert_eq!(ok.headers, [("Authorization".to_string(), "Bearer abc".to_string())]);
        let refused = |value: Value| parse_subscription(&body(value), "admin").unwrap_err().key;
        assert_eq!(refused(json!({ "Protocol": "Redfish" })), "PropertyMissing");
        for destination in ["http://c.example/", "https://user:pw@c.example/", "not a url", "https:///x"] {
            assert_eq!(
                refused(json!({ "Destination": destination, "Protocol": "Redfish" })),
                "PropertyValueFormatError",
                "{destination}"
            );
        }
        assert_eq!(
            refused(json!({ "Destination": "https://c.example/", "Protocol": "SNMPv2c" })),
            "PropertyValueNotInList"
        );
        let with = |k: &str, v: Value| {
            let mut b = json!({ "Destination": "https://c.example/", "Protocol": "Redfish" });
            b[k] = v;
            refused(b)
        };
        assert_eq!(with("RegistryPrefixes", json!(["Base"])), "PropertyValueNotInList");
        assert_eq!(with("ResourceTypes", json!("Sensor")), "PropertyValueTypeError");
        assert_eq!(with("HttpHeaders", json!([{ "Content-Type": "text/plain" }])), "PropertyValueFormatError");
        assert_eq!(with("HttpHeaders", json!([{ "X-Bad\n": "v" }])), "PropertyValueFormatError");
        assert_eq!(with("DeliveryRetryPolicy", json!("RetryForever")), "PropertyUnknown");
    }

    #[test]
    fn sse_filters_pick_by_message_registry_type_and_origin() {
        let bus = crate::notify::Bus::default();
        let power = bus.publish(Draft::host(registry::POWER_STATE_CHANGED, "vm", &["On"]));
        let login = bus.publish(Draft::new(registry::LOGIN_FAILED, &["x", "y"], "/redfish/v1/SessionService".into()));
        let filter = SseFilter::parse("MessageId eq 'Lantern.1.0.PowerStateChanged'").unwrap();
        assert!(filter.wants(&power) && !filter.wants(&login));
        let filter =
            SseFilter::parse("ResourceType eq SessionService or OriginResource eq '/redfish/v1/Systems/vm'").unwrap();
        assert!(filter.wants(&power) && filter.wants(&login));
        assert!(SseFilter::parse("Severity eq 'OK'").is_err());
        assert!(SseFilter::parse("MessageId ne x").is_err());
        assert!(SseFilter::default().wants(&login));
    }
}
