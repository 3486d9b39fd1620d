//! The human-readable output: the table printed at the end of a run, and workload labels.

use crate::Summary;
use crate::stats::Percentiles;

pub(crate) fn size_label(size: usize) -> String {
    if size.is_multiple_of(1024) {
        format!("{}KiB", size / 1024)
    } else {
        format!("{size}B")
    }
}

pub(crate) fn print_table(s: &Summary) {
    println!(
        "== {} ({}), librdkafka {}, {} cores",
        s.label, s.bootstrap, s.librdkafka, s.machine_cores
    );
    println!(
        "{:<22} {:>12} {:>10} {:>8} {:>10} {:>10} {:>7}",
        "workload", "records/s", "MB/s", "secs", "broker cpu", "client cpu", "errors"
    );
    for (kind, map) in [("produce", &s.produce), ("fetch", &s.fetch)] {
        for (k, t) in map {
            println!(
                "{:<22} {:>12.0} {:>10.1} {:>8.2} {:>10} {:>10} {:>7}",
                format!("{kind} {k} x{}", t.records),
                t.records_per_sec,
                t.mb_per_sec,
                t.secs,
                t.broker_cpu_secs
                    .map(|c| format!("{c:.2}s"))
                    .unwrap_or_default(),
                t.client_cpu_secs
                    .map(|c| format!("{c:.2}s"))
                    .unwrap_or_default(),
                t.errors
            );
        }
    }
    let row = |name: &str, p: &Percentiles| {
        println!(
            "{:<34} {:>9.1} {:>9.1} {:>9.1} {:>9.1} {:>10.1}",
            name, p.p50_us, p.p90_us, p.p99_us, p.p999_us, p.max_us
        )
    };
    println!(
        "{:<34} {:>9} {:>9} {:>9} {:>9} {:>10}",
        "latency (us)", "p50", "p90", "p99", "p99.9", "max"
    );
    if let Some(l) = &s.loopback {
        row("loopback TCP echo RTT", l);
    }
    if let Some(l) = &s.loopback_paced {
        row("loopback echo RTT, paced", l);
    }
    if let Some(l) = &s.latency {
        row(
            &format!("produce delivery @{}/s ({:.0}/s)", l.rate, l.achieved_rate),
            &l.delivery,
        );
        if let Some(lb) = &s.loopback {
            println!(
                "  produce p99 - loopback p99 = {:.1} us (target <= 1000 us)",
                l.delivery.p99_us - lb.p99_us
            );
        }
    }
    if let Some(u) = &s.sustain {
        let mib = |k: Option<u64>| {
            k.map(|k| format!("{:.1}", k as f64 / 1024.0))
                .unwrap_or_default()
        };
        println!(
            "sustain {} s @ {:.0}/s x {} B: delivered {}, consumed {}, errors {}, trims {} ({} failed); RSS MiB start {} end {} min {} max {} (max first 10% {}, last 10% {}); RSS - retained data MiB first {} last {} max {}; broker cpu {}",
            u.secs,
            u.achieved_rate,
            u.value_bytes,
            u.delivered,
            u.consumed,
            u.errors,
            u.trims,
            u.trim_errors,
            mib(u.rss_start_kib),
            mib(u.rss_end_kib),
            mib(u.rss_min_kib),
            mib(u.rss_max_kib),
            mib(u.rss_max_first_tenth_kib),
            mib(u.rss_max_last_tenth_kib),
            mib(u.overhead_first_kib.map(|k| k.max(0) as u64)),
            mib(u.overhead_last_kib.map(|k| k.max(0) as u64)),
            mib(u.overhead_max_kib.map(|k| k.max(0) as u64)),
            u.broker_cpu_secs
                .map(|c| format!("{c:.1}s"))
                .unwrap_or_default()
        );
    }
    for e in &s.errors {
        println!("ERROR: {e}");
    }
}
