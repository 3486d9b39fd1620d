//! Process statistics from /proc (the broker's RSS and CPU time, and this process's CPU
//! time), and the latency percentiles every latency measurement is reported as.

use serde::Serialize;

// ---------------------------------------------------------------------------------------------
// /proc sampling

pub(crate) fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// utime + stime of the process, in seconds.
pub(crate) fn cpu_secs(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the parenthesised command name (which may contain spaces).
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // rest starts at field 3 (state); utime is field 14, stime 15.
    let utime: u64 = f.get(11)?.parse().ok()?;
    let stime: u64 = f.get(12)?.parse().ok()?;
    let tck = unsafe_free_clk_tck();
    Some((utime + stime) as f64 / tck)
}

/// USER_HZ: 100 on every Linux target that matters; `getconf CLK_TCK` to be sure.
fn unsafe_free_clk_tck() -> f64 {
    static TCK: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *TCK.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(100.0)
    })
}

// ---------------------------------------------------------------------------------------------
// Percentiles

#[derive(Debug, Clone, Serialize)]
pub(crate) struct Percentiles {
    pub(crate) count: usize,
    pub(crate) min_us: f64,
    pub(crate) p50_us: f64,
    pub(crate) p90_us: f64,
    pub(crate) p99_us: f64,
    pub(crate) p999_us: f64,
    pub(crate) max_us: f64,
    pub(crate) mean_us: f64,
}

pub(crate) fn percentiles(mut ns: Vec<u64>) -> Percentiles {
    ns.sort_unstable();
    let n = ns.len();
    if n == 0 {
        return Percentiles {
            count: 0,
            min_us: 0.0,
            p50_us: 0.0,
            p90_us: 0.0,
            p99_us: 0.0,
            p999_us: 0.0,
            max_us: 0.0,
            mean_us: 0.0,
        };
    }
    // Nearest-rank percentile.
    let at = |q: f64| {
        let rank = ((q * n as f64).ceil() as usize).clamp(1, n);
        ns[rank - 1] as f64 / 1000.0
    };
    Percentiles {
        count: n,
        min_us: ns[0] as f64 / 1000.0,
        p50_us: at(0.50),
        p90_us: at(0.90),
        p99_us: at(0.99),
        p999_us: at(0.999),
        max_us: ns[n - 1] as f64 / 1000.0,
        mean_us: ns.iter().map(|&x| x as f64).sum::<f64>() / n as f64 / 1000.0,
    }
}

pub(crate) fn cpu_delta(pid: Option<u32>, before: Option<f64>) -> Option<f64> {
    Some(cpu_secs(pid?)? - before?)
}
