//! A configured rule's series: any series the store records (the names
//! `GET /api/history` answers with, `shared::series`), read from a tick as
//! the store would record it, so a rule and the chart it is drawn on agree.

use crate::sampling::{HostSample, TreeReading};
use crate::store::schema::{self, Metric, Named};

/// Where a series' value is in a tick.
#[derive(Debug, Clone)]
pub enum Series {
    /// The machine's (`cpu.percent`, `memory.used_gb`, `pressure.io.some_percent`).
    Host(usize),
    /// One core's busy share (`cpu.core.3`).
    Core(usize),
    /// A GPU device's (`gpu.0.temperature_c`): its index and field.
    Device(u32, usize),
    /// A disk's or interface's (`disks.vda.util_percent`): the kind, name and field.
    Named(Named, String, usize),
    /// A run's tree (`run.rss_mb`): evaluated for each live run.
    Run(usize),
}

impl Series {
    /// The series `name` names, if the store records it.
    pub fn parse(name: &str) -> Option<Series> {
        let field = |metrics: &[Metric], f: &str| metrics.iter().position(|m| m.series == f);
        if let Some(i) = field(schema::host_metrics(), name) {
            return Some(Series::Host(i));
        }
        if let Some(core) = name.strip_prefix(shared::series::CPU_CORE_PREFIX) {
            return core.parse().ok().map(Series::Core);
        }
        if let Some(f) = name.strip_prefix(shared::series::RUN_PREFIX) {
            return field(schema::RUN, f).map(Series::Run);
        }
        for kind in schema::NAMED {
            if let Some(rest) = name.strip_prefix(kind.prefix) {
                let (device, f) = rest.rsplit_once('.')?;
                if device.is_empty() {
                    return None;
                }
                return field(kind.metrics, f).map(|i| Series::Named(kind, device.to_owned(), i));
            }
        }
        let rest = name.strip_prefix(shared::series::GPU_DEVICE_PREFIX)?;
        let (index, f) = rest.split_once('.')?;
        Some(Series::Device(index.parse().ok()?, field(schema::device_metrics(), f)?))
    }

    /// Whether it is a run's series (evaluated per live run).
    pub fn is_run(&self) -> bool {
        matches!(self, Series::Run(_))
    }

    /// Its value at this tick, in the series' unit; `None` where the tick has
    /// none. `host` caches the machine's figures for the rules of one tick.
    pub fn read(
        &self,
        sample: &HostSample,
        host: &mut Option<Vec<Option<f64>>>,
        tree: Option<&TreeReading>,
    ) -> Option<f64> {
        let unit = |m: &Metric, v: Option<f64>| v.map(|v| v / m.divisor);
        match self {
            Series::Host(i) => {
                let values = host.get_or_insert_with(|| schema::host_values(sample));
                unit(&schema::host_metrics()[*i], values.get(*i).copied().flatten())
            }
            Series::Core(i) => sample.cpu.per_core.get(*i).copied(),
            Series::Device(index, i) => {
                let device = sample.gpu.devices.iter().find(|d| d.index == *index)?;
                let values = schema::device_values(device)?;
                unit(&schema::device_metrics()[*i], values.get(*i).copied().flatten())
            }
            Series::Named(kind, name, i) => {
                let rows = (kind.rows)(&sample.depth);
                let (_, values) = rows.into_iter().find(|(n, _)| n == name)?;
                unit(&kind.metrics[*i], values.get(*i).copied().flatten())
            }
            Series::Run(i) => {
                let values = schema::tree_values(tree?);
                unit(&schema::RUN[*i], values.get(*i).copied().flatten())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_recorded_series_name_is_understood_and_others_are_not() {
        for name in ["cpu.percent", "memory.used_gb", "pressure.io.some_percent", "cpu.core.3", "run.rss_mb"]
        {
            assert!(Series::parse(name).is_some(), "{name}");
        }
        assert!(matches!(Series::parse("gpu.0.temperature_c"), Some(Series::Device(0, _))));
        let disk = format!("{}vda.{}", shared::series::DISK_DEVICE_PREFIX, schema::DISKS.metrics[0].series);
        assert!(matches!(Series::parse(&disk), Some(Series::Named(_, name, 0)) if name == "vda"));
        for name in ["cpu", "cpu.percentage", "run.nope", "gpu.x.percent", "gpu.0.nope", "cpu.core.x", ""] {
            assert!(Series::parse(name).is_none(), "{name}");
        }
    }

    #[test]
    fn values_are_read_in_the_series_unit() {
        let mut sample = HostSample::default();
        sample.cpu.percent = Some(42.0);
        sample.cpu.per_core = vec![10.0, 20.0];
        let tree = TreeReading { rss_bytes: 3 * 1024 * 1024, ..TreeReading::default() };
        let mut host = None;
        let read = |name: &str, host: &mut Option<Vec<Option<f64>>>| {
            Series::parse(name).expect(name).read(&sample, host, Some(&tree))
        };
        assert_eq!(read("cpu.percent", &mut host), Some(42.0));
        assert_eq!(read("cpu.core.1", &mut host), Some(20.0));
        assert_eq!(read("run.rss_mb", &mut host), Some(3.0));
        assert_eq!(read("gpu.0.percent", &mut host), None);
    }

    #[test]
    fn a_sensor_a_filesystem_and_a_cores_detail_are_watched_by_name() {
        use shared::depth::cpu::{CpuModes, Temperature};
        let mut sample = HostSample::default();
        let package = Temperature { name: "coretemp Package id 0".into(), temperature_c: Some(91.5) };
        sample.depth.cpu_detail.sensors.temperatures.sensors = vec![package];
        sample.depth.cpu_detail.per_core =
            vec![None, Some(CpuModes { iowait_percent: Some(35.5), ..CpuModes::default() })];
        sample.depth.filesystems.filesystems = vec![shared::depth::disks::Filesystem {
            device: "vda1".into(),
            used_percent: Some(96.2),
            ..Default::default()
        }];
        let mut host = None;
        let read = |name: &str, host: &mut Option<Vec<Option<f64>>>| {
            Series::parse(name).expect(name).read(&sample, host, None)
        };
        assert_eq!(read("temperatures.coretemp Package id 0.temperature_c", &mut host), Some(91.5));
        assert_eq!(read("filesystems.vda1.used_percent", &mut host), Some(96.2));
        assert_eq!(read("cores.1.iowait_percent", &mut host), Some(35.5));
        assert_eq!(read("cores.0.iowait_percent", &mut host), None, "no reading: no value, not 0");
        assert!(Series::parse("cores.1.nope").is_none());
    }
}
