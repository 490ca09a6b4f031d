//! Readings on the agent link: thousandths of the unit, kinds by number.

use agent_link::SensorReading;

use crate::{Reading, SensorKind, Thresholds};

fn kind_number(kind: SensorKind) -> u8 {
    match kind {
        SensorKind::Temperature => 0,
        SensorKind::Fan => 1,
        SensorKind::Voltage => 2,
        SensorKind::Power => 3,
    }
}

fn to_milli(value: f64) -> i64 {
    (value * 1000.0).round() as i64
}

fn from_milli(value: i64) -> f64 {
    value as f64 / 1000.0
}

pub fn to_wire(reading: &Reading) -> SensorReading {
    let t = &reading.thresholds;
    SensorReading {
        id: reading.id.clone(),
        name: reading.name.clone(),
        kind: kind_number(reading.kind),
        milli: to_milli(reading.value),
        thresholds: [t.lower_critical, t.lower_caution, t.upper_caution, t.upper_critical].map(|b| b.map(to_milli)),
    }
}

/// A reading an agent sent; `None` for a kind this side does not know, or an id that is not
/// safe in a URL (ids become part of one).
pub fn from_wire(reading: &SensorReading) -> Option<Reading> {
    let kind = match reading.kind {
        0 => SensorKind::Temperature,
        1 => SensorKind::Fan,
        2 => SensorKind::Voltage,
        3 => SensorKind::Power,
        _ => return None,
    };
    let safe = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    if reading.id.is_empty() || reading.id.len() > 128 || !reading.id.chars().all(safe) {
        return None;
    }
    let [lower_critical, lower_caution, upper_caution, upper_critical] = reading.thresholds.map(|b| b.map(from_milli));
    Some(Reading {
        id: reading.id.clone(),
        name: reading.name.chars().take(100).collect(),
        kind,
        value: from_milli(reading.milli),
        thresholds: Thresholds { lower_critical, lower_caution, upper_caution, upper_critical },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reading_crosses_the_link_unchanged_and_unsafe_ids_are_refused() {
        let reading = Reading {
            id: "coretemp-hwmon0-temp1".into(),
            name: "coretemp Package id 0".into(),
            kind: SensorKind::Temperature,
            value: 47.5,
            thresholds: Thresholds { upper_caution: Some(80.0), upper_critical: Some(100.0), ..Thresholds::default() },
        };
        assert_eq!(from_wire(&to_wire(&reading)), Some(reading.clone()));
        let mut bad = to_wire(&reading);
        bad.id = "../x".into();
        assert_eq!(from_wire(&bad), None);
        bad.id = "ok".into();
        bad.kind = 9;
        assert_eq!(from_wire(&bad), None);
    }
}
