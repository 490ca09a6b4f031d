//! Health sensors: readings sampled from a host's source, kept with a bounded history, and
//! level changes (a reading crossing its caution or critical threshold, and back) turned into
//! events for the host's event log.
//!
//! The `local` backend reads Linux hwmon and thermal zones (`hwmon`); backends without sensors
//! report none, which the UI and Redfish show as "not available".

pub use sensors::{hwmon, Level, Reading, SensorKind, Thresholds};

use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;

use crate::sync::Locked;

/// A sensor as shown: its last reading, level and past readings (oldest first, Unix ms).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Sensor {
    #[serde(flatten)]
    pub reading: Reading,
    pub unit: &'static str,
    pub level: Level,
    pub history: Vec<(i64, f64)>,
}

/// A sensor's level changed in a sample.
#[derive(Debug, Clone, PartialEq)]
pub struct LevelChange {
    /// The sensor's id (its Redfish `Sensors` member) and name.
    pub id: String,
    pub name: String,
    pub from: Level,
    pub to: Level,
    pub value: f64,
    pub unit: &'static str,
}

impl LevelChange {
    pub fn message(&self) -> String {
        let value = format!("{:.1} {}", self.value, self.unit);
        match self.to {
            Level::Ok => format!("Sensor {} back to normal: {value}", self.name),
            Level::Warning => format!("Sensor {} above its caution threshold: {value}", self.name),
            Level::Critical => format!("Sensor {} at its critical threshold: {value}", self.name),
        }
    }

    /// The event for subscribers, about the sensor's resource.
    pub fn notice(&self, host: &str) -> crate::notify::Draft {
        use crate::notify::registry::{SENSOR_CAUTION, SENSOR_CRITICAL, SENSOR_NORMAL};
        let message = match self.to {
            Level::Ok => SENSOR_NORMAL,
            Level::Warning => SENSOR_CAUTION,
            Level::Critical => SENSOR_CRITICAL,
        };
        let reading = format!("{:.1} {}", self.value, self.unit);
        let origin = format!("{}/Sensors/{}", crate::redfish::chassis::chassis_uri(host), self.id);
        crate::notify::Draft::new(message, &[host, &self.name, &reading], origin)
    }

    /// The host event log's entry for it, with its notice.
    pub fn entry(&self, host: &str) -> crate::store::EventEntry {
        crate::store::EventEntry::new(host, self.to.severity(), &self.message()).with_notice(self.notice(host))
    }
}

struct Track {
    reading: Reading,
    level: Level,
    history: VecDeque<(i64, f64)>,
}

/// A host's sensors and their recent history. Pure bookkeeping: the sampler feeds it.
pub struct Health {
    tracks: Mutex<BTreeMap<String, Track>>,
    keep: usize,
}

impl Health {
    /// Keeps the last `keep` readings of each sensor.
    pub fn new(keep: usize) -> Self {
        Self { tracks: Mutex::new(BTreeMap::new()), keep: keep.max(1) }
    }

    /// Takes one sample, taken at `at_ms`, and says which sensors changed level. A sensor seen
    /// for the first time reports a change only if it is not normal.
    pub fn record(&self, at_ms: i64, readings: Vec<Reading>) -> Vec<LevelChange> {
        let mut tracks = self.tracks.locked();
        let mut changes = Vec::new();
        for reading in readings {
            if !reading.value.is_finite() {
                continue;
            }
            let level = reading.thresholds.level(reading.value);
            let track = tracks.entry(reading.id.clone()).or_insert_with(|| Track {
                reading: reading.clone(),
                level: Level::Ok,
                history: VecDeque::new(),
            });
            if level != track.level {
                changes.push(LevelChange {
                    id: reading.id.clone(),
                    name: reading.name.clone(),
                    from: track.level,
                    to: level,
                    value: reading.value,
                    unit: reading.kind.unit(),
                });
            }
            if track.history.len() == self.keep {
                track.history.pop_front();
            }
            track.history.push_back((at_ms, reading.value));
            track.level = level;
            track.reading = reading;
        }
        changes
    }

    pub fn sensors(&self) -> Vec<Sensor> {
        let tracks = self.tracks.locked();
        tracks
            .values()
            .map(|t| Sensor {
                reading: t.reading.clone(),
                unit: t.reading.kind.unit(),
                level: t.level,
                history: t.history.iter().copied().collect(),
            })
            .collect()
    }

    pub fn sensor(&self, id: &str) -> Option<Sensor> {
        self.sensors().into_iter().find(|s| s.reading.id == id)
    }
}

/// Where a host's readings come from.
#[derive(Debug, Clone)]
pub enum Source {
    /// Linux sysfs (`<root>/class/hwmon`, `<root>/class/thermal`), normally `/sys`.
    Sysfs(PathBuf),
}

impl Source {
    fn read(&self) -> Vec<Reading> {
        match self {
            Source::Sysfs(root) => hwmon::read(root),
        }
    }
}

/// Samples `source` every `every` for as long as the controller runs, logging level changes
/// as host events.
pub async fn sample(
    host: String,
    source: Source,
    health: Arc<Health>,
    journal: crate::store::Journal,
    every: Duration,
) {
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let source = source.clone();
        // sysfs reads can block (a slow I2C sensor); keep them off the async workers.
        let Ok(readings) = tokio::task::spawn_blocking(move || source.read()).await else {
            continue;
        };
        for change in health.record(crate::store::audit::now_ms(), readings) {
            tracing::info!(%host, sensor = %change.name, to = ?change.to, "sensor level changed");
            journal.event(change.entry(&host)).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(value: f64) -> Reading {
        Reading {
            id: "cpu".into(),
            name: "CPU".into(),
            kind: SensorKind::Temperature,
            value,
            thresholds: Thresholds { upper_caution: Some(80.0), upper_critical: Some(95.0), ..Default::default() },
        }
    }

    #[test]
    fn levels_follow_the_thresholds_both_ways() {
        let t = Thresholds {
            lower_critical: Some(1.0),
            lower_caution: Some(2.0),
            upper_caution: Some(8.0),
            upper_critical: Some(9.0),
        };
        let levels: Vec<_> = [0.5, 1.5, 5.0, 8.5, 9.5].iter().map(|v| t.level(*v)).collect();
        assert_eq!(levels, [Level::Critical, Level::Warning, Level::Ok, Level::Warning, Level::Critical]);
        assert_eq!(Thresholds::default().level(1e9), Level::Ok);
    }

    #[test]
    fn crossings_are_reported_once_each_and_history_is_bounded() {
        let health = Health::new(3);
        assert!(health.record(0, vec![temp(50.0)]).is_empty(), "normal on first sight: no event");
        assert!(health.record(1, vec![temp(60.0)]).is_empty());
        let up = health.record(2, vec![temp(96.0)]);
        assert_eq!(up.len(), 1);
        assert_eq!((up[0].from, up[0].to), (Level::Ok, Level::Critical));
        assert!(up[0].message().contains("96.0 Cel"), "{}", up[0].message());
        assert!(health.record(3, vec![temp(97.0)]).is_empty(), "still critical: no repeat");
        let down = health.record(4, vec![temp(40.0)]);
        assert_eq!(down[0].to, Level::Ok);
        let sensor = health.sensor("cpu").unwrap();
        assert_eq!(sensor.history, [(2, 96.0), (3, 97.0), (4, 40.0)]);
        assert_eq!(sensor.level, Level::Ok);
        assert!(health.record(5, vec![temp(f64::NAN)]).is_empty(), "a broken reading is skipped");
        assert_eq!(health.sensor("cpu").unwrap().history.len(), 3);
    }

    #[test]
    fn a_sensor_found_abnormal_reports_at_once() {
        let health = Health::new(10);
        let changes = health.record(0, vec![temp(85.0)]);
        assert_eq!(changes[0].to, Level::Warning);
    }
}
