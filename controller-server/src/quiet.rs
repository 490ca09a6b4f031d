//! Warnings about what peers did wrong, rate-limited: a hostile client can make the
//! controller refuse it as often as it likes, but not make the log grow without bound. Each
//! kind of warning is written at most [`PER_MINUTE`] times a minute; the rest are counted and
//! the count is written with the next one let through.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::sync::Locked;

pub const PER_MINUTE: u32 = 20;

#[derive(Default)]
struct Window {
    started: Option<Instant>,
    written: u32,
    suppressed: u64,
}

static WINDOWS: Mutex<Option<HashMap<&'static str, Window>>> = Mutex::new(None);

/// Whether a warning of `kind` may be written now; when it may, also how many of its kind
/// were held back since the last one written.
pub fn allow(kind: &'static str) -> Option<u64> {
    allow_at(kind, Instant::now())
}

fn allow_at(kind: &'static str, now: Instant) -> Option<u64> {
    let mut windows = WINDOWS.locked();
    let window = windows.get_or_insert_with(HashMap::new).entry(kind).or_default();
    if window.started.is_none_or(|at| now.duration_since(at) >= Duration::from_secs(60)) {
        window.started = Some(now);
        window.written = 0;
    }
    if window.written >= PER_MINUTE {
        window.suppressed += 1;
        return None;
    }
    window.written += 1;
    Some(std::mem::take(&mut window.suppressed))
}

/// `tracing::warn!`, at most [`PER_MINUTE`] times a minute per call site's `kind`.
#[macro_export]
macro_rules! quiet_warn {
    ($kind:expr, $($arg:tt)+) => {
        if let Some(suppressed) = $crate::quiet::allow($kind) {
            tracing::warn!(suppressed, $($arg)+);
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flood_is_cut_to_the_limit_and_the_rest_is_counted() {
        let start = Instant::now();
        let let_through = (0..1000).filter(|_| allow_at("test-flood", start).is_some()).count();
        assert_eq!(let_through, PER_MINUTE as usize);
        // A minute on, the next one says how many were held back.
        assert_eq!(allow_at("test-flood", start + Duration::from_secs(61)), Some(1000 - u64::from(PER_MINUTE)));
    }
}
