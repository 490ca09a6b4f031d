//! RFC 5424 messages for audit records and host events, and RFC 6587 octet-counting frames.
//!
//! A collector routes on the header (facility, severity, APP-NAME `lantern`, MSGID `audit` or
//! `event`) and a SIEM reads the structured data: `[audit@N id actor action target hash]` and
//! the record's details as `[detail@N ...]`, or `[event@N id host severity]`. N is the
//! enterprise number of the SD-IDs (RFC 5424 §7.2.2), 32473 unless configured: the number IANA
//! keeps for examples (RFC 5612), as Lantern has none of its own.

use std::fmt::Write as _;

use serde_json::Value;
use shared::text::truncated;

use crate::store::audit::AuditRecord;
use crate::store::events::HostEvent;

/// What every message from this controller says about where it comes from.
#[derive(Debug, Clone)]
pub struct Origin {
    /// 0 to 23 (RFC 5424 §6.2.1).
    facility: u8,
    /// PRINTUSASCII only, at most 255 (see [`Origin::new`]).
    hostname: String,
    procid: u32,
    enterprise: u32,
    /// Whole messages longer than this are cut (the collector would cut them anyway, where it
    /// might break the structured data).
    max_message: usize,
}

/// A parameter value longer than this is cut (less for a small `max_message`): the record
/// itself is in the trail, by its id.
const MAX_VALUE: usize = 1024;

/// The smallest message limit: what every receiver must take (RFC 5424 §6.1).
pub const MIN_MESSAGE: usize = 480;

impl Origin {
    pub fn new(facility: u8, hostname: &str, enterprise: u32, max_message: usize) -> Self {
        let hostname: String =
            hostname.chars().map(|c| if ('!'..='~').contains(&c) { c } else { '_' }).take(255).collect();
        let hostname = if hostname.is_empty() { "-".to_string() } else { hostname };
        let max_message = max_message.max(MIN_MESSAGE);
        Self { facility: facility.min(23), hostname, procid: std::process::id(), enterprise, max_message }
    }

    /// The audit record as one message: a warning for what failed or was refused, a notice
    /// otherwise.
    pub fn audit(&self, record: &AuditRecord) -> String {
        let outcome = record.action.rsplit('.').next().unwrap_or_default();
        let refused = ["failed", "denied", "refused", "locked", "not-permitted", "unavailable"];
        let severity = if refused.iter().any(|word| outcome.ends_with(word)) { 4 } else { 5 };
        let mut sd = self.element(
            "audit",
            &[
                ("id", &record.id.to_string()),
                ("actor", &record.actor),
                ("action", &record.action),
                ("target", &record.target),
                ("hash", &record.hash),
            ],
        );
        let detail = detail_params(&record.detail);
        if !detail.is_empty() {
            let params: Vec<(&str, &str)> = detail.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            let element = self.element("detail", &params);
            // Room is kept for the header and some text; details that do not fit are left to
            // the trail, where the record's id finds them.
            if sd.len() + element.len() + 200 < self.max_message {
                sd.push_str(&element);
            }
        }
        let text = if record.target.is_empty() {
            format!("{} {}", record.actor, record.action)
        } else {
            format!("{} {} {}", record.actor, record.action, record.target)
        };
        self.message(severity, record.at, "audit", &sd, &text)
    }

    /// The host event as one message, at its own severity.
    pub fn event(&self, event: &HostEvent) -> String {
        let severity = match event.severity.as_str() {
            "critical" => 2,
            "warning" => 4,
            _ => 6,
        };
        let id = event.id.to_string();
        let mut params =
            vec![("id", id.as_str()), ("host", event.host.as_str()), ("severity", event.severity.as_str())];
        if let Some(attachment) = &event.attachment {
            params.push(("attachment", attachment));
        }
        let sd = self.element("event", &params);
        self.message(severity, event.at, "event", &sd, &event.message)
    }

    fn message(&self, severity: u8, at_ms: i64, msgid: &str, sd: &str, text: &str) -> String {
        let pri = u16::from(self.facility) * 8 + u16::from(severity);
        let mut out = format!("<{pri}>1 {} {} lantern {} {msgid} {sd} ", timestamp(at_ms), self.hostname, self.procid);
        let room = self.max_message.saturating_sub(out.len());
        out.push_str(truncated(text, room));
        out
    }

    /// One SD-ELEMENT, `[name@N param="value" ...]`.
    fn element(&self, name: &str, params: &[(&str, &str)]) -> String {
        let mut out = format!("[{name}@{}", self.enterprise);
        for (key, value) in params {
            let _ = write!(out, " {}=\"", param_name(key));
            // Five header parameters at this size leave room for the header and some text.
            for c in truncated(value, MAX_VALUE.min(self.max_message / 8)).chars() {
                // The three characters a PARAM-VALUE must escape (§6.3.3).
                if matches!(c, '"' | '\\' | ']') {
                    out.push('\\');
                }
                out.push(c);
            }
            out.push('"');
        }
        out.push(']');
        out
    }
}

/// RFC 6587 octet counting: `LEN SP MSG`, so a message may hold any byte, newlines included.
pub fn frame(message: &str, out: &mut Vec<u8>) {
    out.extend_from_slice(message.len().to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(message.as_bytes());
}

/// `2026-12-03T11:37:26.123Z`, or the NILVALUE for a time RFC 3339 cannot write.
fn timestamp(at_ms: i64) -> String {
    crate::store::audit::rfc3339_ms(at_ms).unwrap_or_else(|| "-".into())
}

/// The record's details (a JSON object) as parameters: strings as they are, anything else as
/// JSON text; a detail that is not an object is one `value`.
fn detail_params(detail: &str) -> Vec<(String, String)> {
    match serde_json::from_str::<Value>(detail) {
        Ok(Value::Object(fields)) => fields
            .into_iter()
            .map(|(k, v)| match v {
                Value::String(s) => (k, s),
                other => (k, other.to_string()),
            })
            .collect(),
        Ok(Value::Null) | Err(_) if detail.trim().is_empty() => Vec::new(),
        Ok(other) => vec![("value".into(), other.to_string())],
        Err(_) => vec![("value".into(), detail.to_string())],
    }
}

/// An SD-NAME (§6.3.3): 1 to 32 PRINTUSASCII characters but `=`, space, `]` and `"`.
fn param_name(key: &str) -> String {
    let name: String =
        key.chars().filter(|c| ('!'..='~').contains(c) && !matches!(c, '=' | ']' | '"')).take(32).collect();
    if name.is_empty() {
        "_".into()
    } else {
        name
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use syslog_rfc5424::{parse_message, SyslogFacility, SyslogSeverity};

    fn origin() -> Origin {
        Origin::new(16, "bmc-01", 32473, 8192)
    }

    fn record(detail: &str) -> AuditRecord {
        AuditRecord {
            id: 42,
            at: 1_796_304_000_123,
            actor: "alice".into(),
            action: "console.open".into(),
            target: "web1".into(),
            detail: detail.into(),
            hash: "ab".repeat(32),
        }
    }

    #[test]
    fn an_audit_record_parses_with_its_fields() {
        let text = origin().audit(&record(r#"{"source":"10.0.0.7","suite":"chacha20-poly1305","n":3}"#));
        let message = parse_message(&text).unwrap();
        assert_eq!(message.facility, SyslogFacility::LOG_LOCAL0);
        assert_eq!(message.severity, SyslogSeverity::SEV_NOTICE);
        assert_eq!(message.hostname.as_deref(), Some("bmc-01"));
        assert_eq!(message.appname.as_deref(), Some("lantern"));
        assert_eq!(message.msgid.as_deref(), Some("audit"));
        assert_eq!(message.timestamp, Some(1_796_304_000));
        assert_eq!(message.timestamp_nanos, Some(123_000_000));
        let audit = &message.sd["audit@32473"];
        assert_eq!(audit["id"], "42");
        assert_eq!(audit["action"], "console.open");
        assert_eq!(message.sd["detail@32473"]["source"], "10.0.0.7");
        assert_eq!(message.sd["detail@32473"]["n"], "3");
        assert_eq!(message.msg, "alice console.open web1");
    }

    #[test]
    fn failures_are_warnings_and_events_keep_their_severity() {
        let mut failed = record("{}");
        failed.action = "login.failed".into();
        assert_eq!(parse_message(origin().audit(&failed)).unwrap().severity, SyslogSeverity::SEV_WARNING);
        let event = HostEvent {
            id: 7,
            host: "web1".into(),
            at: 0,
            severity: "critical".into(),
            message: "Watchdog reset".into(),
            attachment: Some("7.png".into()),
        };
        let message = parse_message(origin().event(&event)).unwrap();
        assert_eq!(message.severity, SyslogSeverity::SEV_CRIT);
        assert_eq!(message.msgid.as_deref(), Some("event"));
        assert_eq!(message.sd["event@32473"]["attachment"], "7.png");
        assert_eq!(message.msg, "Watchdog reset");
    }

    #[test]
    fn a_long_message_is_cut_to_the_limit_and_still_parses() {
        let origin = Origin::new(16, "bmc", 32473, 2048);
        // One long value is cut (on a character boundary), and the message still fits.
        let mut long = record(&serde_json::json!({ "note": "x".repeat(20_000) }).to_string());
        long.actor = "é".repeat(5000);
        let text = origin.audit(&long);
        assert!(text.len() <= 2048, "{}", text.len());
        let message = parse_message(&text).unwrap();
        assert_eq!(message.sd["audit@32473"]["actor"], "é".repeat(128));
        assert_eq!(message.sd["detail@32473"]["note"], "x".repeat(256));
        // Many fields do not fit: the details are left to the trail, the record's id is given.
        let many: serde_json::Map<_, _> = (0..40).map(|n| (format!("k{n}"), "y".repeat(200).into())).collect();
        let text = origin.audit(&record(&serde_json::Value::Object(many).to_string()));
        assert!(text.len() <= 2048, "{}", text.len());
        let message = parse_message(&text).unwrap();
        assert_eq!(message.sd["audit@32473"]["id"], "42");
        assert!(message.sd.find_sdid("detail@32473").is_none(), "{text}");
    }

    #[test]
    fn frames_count_octets() {
        let mut out = Vec::new();
        frame("<13>1 - - - - - - é\nx", &mut out);
        assert_eq!(out, "22 <13>1 - - - - - - é\nx".as_bytes());
    }

    proptest! {
        /// Whatever a record holds, the message parses as RFC 5424 and gives back its fields.
        #[test]
        fn any_record_parses_back(
            actor in "\\PC{0,40}",
            action in "[a-z]{1,10}\\.[a-z]{1,10}",
            target in "\\PC{0,40}",
            key in "\\PC{0,40}",
            value in "\\PC{0,80}",
            host in "\\PC{0,20}",
            at in 0i64..4_102_444_800_000,
        ) {
            let mut r = record(&serde_json::json!({ key.clone(): value.clone() }).to_string());
            r.actor = actor.clone();
            r.action = action.clone();
            r.target = target.clone();
            r.at = at;
            let text = Origin::new(13, &host, 32473, 8192).audit(&r);
            let message = parse_message(&text).map_err(|e| TestCaseError::fail(format!("{e}: {text}")))?;
            let audit = &message.sd["audit@32473"];
            prop_assert_eq!(&audit["actor"], &actor);
            prop_assert_eq!(&audit["target"], &target);
            prop_assert_eq!(&audit["action"], &action);
            prop_assert_eq!(&message.sd["detail@32473"][param_name(&key).as_str()], &value);
            prop_assert_eq!(message.timestamp, Some(at / 1000));
        }
    }
}
