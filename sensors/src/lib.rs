//! Linux sensors (hwmon chips and thermal zones in sysfs), read the same way by the controller
//! for its own machine and by `lantern-agent` for the machine it runs on.

pub mod hwmon;
pub mod wire;

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SensorKind {
    Temperature,
    Fan,
    Voltage,
    Power,
}

impl SensorKind {
    /// The unit of readings, as Redfish's `ReadingUnits` (UCUM) spells it.
    pub fn unit(self) -> &'static str {
        match self {
            SensorKind::Temperature => "Cel",
            SensorKind::Fan => "RPM",
            SensorKind::Voltage => "V",
            SensorKind::Power => "W",
        }
    }
}

/// Where a reading stops being normal. Any bound may be missing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Thresholds {
    pub lower_critical: Option<f64>,
    pub lower_caution: Option<f64>,
    pub upper_caution: Option<f64>,
    pub upper_critical: Option<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Ok,
    Warning,
    Critical,
}

impl Level {
    /// The event log's word for it.
    pub fn severity(self) -> &'static str {
        match self {
            Level::Ok => "info",
            Level::Warning => "warning",
            Level::Critical => "critical",
        }
    }
}

impl Thresholds {
    pub fn level(&self, value: f64) -> Level {
        let above = |bound: Option<f64>| bound.is_some_and(|b| value >= b);
        let below = |bound: Option<f64>| bound.is_some_and(|b| value <= b);
        if above(self.upper_critical) || below(self.lower_critical) {
            Level::Critical
        } else if above(self.upper_caution) || below(self.lower_caution) {
            Level::Warning
        } else {
            Level::Ok
        }
    }
}

/// One reading of one sensor.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Reading {
    /// Stable across samples and restarts; safe in a URL.
    pub id: String,
    pub name: String,
    pub kind: SensorKind,
    pub value: f64,
    pub thresholds: Thresholds,
}
