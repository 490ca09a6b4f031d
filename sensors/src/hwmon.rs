//! Linux sensors from sysfs: hwmon chips (`class/hwmon/hwmon*/{temp,fan,in,power}N_*`) and
//! thermal zones (`class/thermal/thermal_zone*`), in the kernel's documented units
//! (millidegrees, RPM, millivolts, microwatts). Missing or unreadable files are skipped: a
//! machine without sensors simply has none.

use std::fs;
use std::path::Path;

use crate::{Reading, SensorKind, Thresholds};

/// Every sensor under `root` (normally `/sys`), in a stable order.
pub fn read(root: &Path) -> Vec<Reading> {
    let mut readings = Vec::new();
    for chip in sorted_entries(&root.join("class/hwmon")) {
        readings.extend(read_chip(&chip));
    }
    for zone in sorted_entries(&root.join("class/thermal")) {
        if let Some(reading) = read_zone(&zone) {
            readings.push(reading);
        }
    }
    readings
}

fn sorted_entries(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut entries: Vec<_> = fs::read_dir(dir).into_iter().flatten().flatten().map(|e| e.path()).collect();
    entries.sort();
    entries
}

fn text(path: &Path) -> Option<String> {
    fs::read_to_string(path).ok().map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
}

fn number(path: &Path) -> Option<f64> {
    text(path)?.parse::<f64>().ok().filter(|v| v.is_finite())
}

/// Letters, digits, `-` and `_` only: ids go into URLs.
fn url_safe(s: &str) -> String {
    s.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' }).collect()
}

/// A channel prefix's kind and the divisor from sysfs units to ours.
fn kind_of(prefix: &str) -> Option<(SensorKind, f64)> {
    match prefix {
        "temp" => Some((SensorKind::Temperature, 1000.0)),
        "fan" => Some((SensorKind::Fan, 1.0)),
        "in" => Some((SensorKind::Voltage, 1000.0)),
        "power" => Some((SensorKind::Power, 1_000_000.0)),
        _ => None,
    }
}

fn read_chip(dir: &Path) -> Vec<Reading> {
    let chip = text(&dir.join("name")).unwrap_or_else(|| "hwmon".into());
    let dir_name = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let mut channels: Vec<(String, String)> = sorted_entries(dir)
        .iter()
        .filter_map(|p| p.file_name()?.to_str()?.strip_suffix("_input").map(str::to_string))
        .filter_map(|channel| {
            let split = channel.find(|c: char| c.is_ascii_digit())?;
            let (prefix, n) = channel.split_at(split);
            n.chars().all(|c| c.is_ascii_digit()).then(|| (prefix.to_string(), channel.clone()))
        })
        .collect();
    channels.sort_by_key(|(prefix, channel)| (prefix.clone(), channel[prefix.len()..].parse::<u32>().unwrap_or(0)));
    channels
        .into_iter()
        .filter_map(|(prefix, channel)| {
            let (kind, divisor) = kind_of(&prefix)?;
            let file = |suffix: &str| number(&dir.join(format!("{channel}_{suffix}"))).map(|v| v / divisor);
            let value = file("input")?;
            let thresholds = match kind {
                // A fan below its minimum is a failing fan.
                SensorKind::Fan => Thresholds { lower_critical: file("min"), ..Default::default() },
                _ => Thresholds {
                    lower_critical: file("lcrit"),
                    lower_caution: file("min"),
                    upper_caution: file("max"),
                    upper_critical: file("crit"),
                },
            };
            let label = text(&dir.join(format!("{channel}_label"))).unwrap_or_else(|| channel.clone());
            Some(Reading {
                id: url_safe(&format!("{chip}-{dir_name}-{channel}")),
                name: format!("{chip} {label}"),
                kind,
                value,
                thresholds,
            })
        })
        .collect()
}

fn read_zone(dir: &Path) -> Option<Reading> {
    let dir_name = dir.file_name()?.to_str()?.to_string();
    if !dir_name.starts_with("thermal_zone") {
        return None;
    }
    let value = number(&dir.join("temp"))? / 1000.0;
    let mut thresholds = Thresholds::default();
    for n in 0..16 {
        let Some(kind) = text(&dir.join(format!("trip_point_{n}_type"))) else { break };
        let Some(at) = number(&dir.join(format!("trip_point_{n}_temp"))).map(|t| t / 1000.0) else { continue };
        match kind.as_str() {
            "critical" => thresholds.upper_critical = Some(at),
            "hot" => thresholds.upper_caution = Some(at),
            "passive" if thresholds.upper_caution.is_none() => thresholds.upper_caution = Some(at),
            _ => {}
        }
    }
    let zone_type = text(&dir.join("type")).unwrap_or_else(|| dir_name.clone());
    Some(Reading {
        id: url_safe(&dir_name),
        name: format!("{zone_type} ({dir_name})"),
        kind: SensorKind::Temperature,
        value,
        thresholds,
    })
}

#[cfg(test)]
pub mod tests {
    use super::*;

    /// Writes a small sysfs tree: one hwmon chip with a temperature, a fan and a voltage, and
    /// one thermal zone. Used by the Redfish and UI tests too.
    pub fn fake_sysfs(root: &Path, cpu_millidegrees: i64) {
        let chip = root.join("class/hwmon/hwmon0");
        fs::create_dir_all(&chip).unwrap();
        for (file, value) in [
            ("name", "coretemp".to_string()),
            ("temp1_input", cpu_millidegrees.to_string()),
            ("temp1_label", "Package id 0".into()),
            ("temp1_max", "80000".into()),
            ("temp1_crit", "100000".into()),
            ("fan2_input", "1200".into()),
            ("fan2_min", "300".into()),
            ("in0_input", "1150".into()),
            ("temp3_label", "no input: skipped".into()),
        ] {
            fs::write(chip.join(file), value).unwrap();
        }
        let zone = root.join("class/thermal/thermal_zone0");
        fs::create_dir_all(&zone).unwrap();
        for (file, value) in [
            ("type", "acpitz"),
            ("temp", "27800"),
            ("trip_point_0_type", "critical"),
            ("trip_point_0_temp", "105000"),
            ("trip_point_1_type", "passive"),
            ("trip_point_1_temp", "90000"),
        ] {
            fs::write(zone.join(file), value).unwrap();
        }
        fs::create_dir_all(root.join("class/thermal/cooling_device0")).unwrap();
    }

    #[test]
    fn hwmon_and_thermal_zones_are_read_in_our_units() {
        let dir = tempfile::tempdir().unwrap();
        fake_sysfs(dir.path(), 45500);
        let readings = read(dir.path());
        let names: Vec<_> = readings.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["coretemp fan2", "coretemp in0", "coretemp Package id 0", "acpitz (thermal_zone0)"]);
        let cpu = &readings[2];
        assert_eq!((cpu.id.as_str(), cpu.kind, cpu.value), ("coretemp-hwmon0-temp1", SensorKind::Temperature, 45.5));
        assert_eq!(cpu.thresholds.upper_caution, Some(80.0));
        assert_eq!(cpu.thresholds.upper_critical, Some(100.0));
        assert_eq!(readings[0].thresholds.lower_critical, Some(300.0));
        assert_eq!(readings[1].value, 1.15);
        assert_eq!(readings[3].thresholds.upper_critical, Some(105.0));
        assert_eq!(readings[3].thresholds.upper_caution, Some(90.0));
    }

    #[test]
    fn no_sysfs_means_no_sensors_and_junk_is_skipped() {
        let dir = tempfile::tempdir().unwrap();
        assert!(read(dir.path()).is_empty());
        let chip = dir.path().join("class/hwmon/hwmon1");
        fs::create_dir_all(&chip).unwrap();
        fs::write(chip.join("temp1_input"), "not a number").unwrap();
        fs::write(chip.join("temp2_input"), "inf").unwrap();
        fs::write(chip.join("tempX_input"), "1000").unwrap();
        assert!(read(dir.path()).is_empty());
    }
}
