//! `kafka-cli produce`, `consume` and `perf`, driven as subprocesses against the companion
//! broker: a keyed round trip with headers, every start-offset form, groups committing only
//! what was printed, `offsets` after producing, the perf commands' text and JSON output, and
//! a consumer that stops cleanly on SIGTERM while `groups reset-offsets` refuses its group,
//! and one that stops when the reader of its output goes away.

mod support;

use std::time::{Duration, Instant};

use support::{Background, bootstrap, cli, cli_with_input, unique};

/// A topic with `partitions` partitions, created through the CLI.
fn topic(prefix: &str, partitions: u32) -> String {
    let t = unique(prefix);
    cli(&[
        "topics",
        "create",
        &t,
        "--partitions",
        &partitions.to_string(),
    ])
    .ok();
    t
}

#[test]
fn round_trip_with_keys_and_headers() {
    let t = topic("roundtrip", 1);
    let r = cli_with_input(
        &[
            "produce",
            "-t",
            &t,
            "--key-delimiter",
            ":",
            "--header",
            "source=test",
            "-H",
            "n=1",
        ],
        "k1:hello\nk2:world: with colon\nno key here\n",
    )
    .ok();
    assert!(r.stderr.contains("produced 3 record(s)"), "{r:?}");
    let c = cli(&["consume", "-t", &t, "-e", "--format", "%p|%o|%k|%s|%h"]).ok();
    assert_eq!(
        c.lines(),
        [
            "0|0|k1|hello|source=test,n=1",
            "0|1|k2|world: with colon|source=test,n=1",
            "0|2||no key here|source=test,n=1",
        ]
    );
    // %t, %T (a plausible epoch-ms timestamp), lengths, escapes.
    let c = cli(&["consume", "-t", &t, "-c", "1", "-f", r"%t\t%T\t%K\t%S"]).ok();
    let fields: Vec<&str> = c.stdout.trim_end().split('\t').collect();
    assert_eq!(fields[0], t);
    assert!(
        fields[1].parse::<i64>().unwrap() > 1_600_000_000_000,
        "{c:?}"
    );
    assert_eq!(&fields[2..], ["2", "5"]);
    // The default format is the value alone.
    let c = cli(&["consume", "-t", &t, "-e"]).ok();
    assert_eq!(c.lines(), ["hello", "world: with colon", "no key here"]);
}

#[test]
fn fixed_key_partition_and_file_input() {
    let t = topic("fixed", 3);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("lines.txt");
    std::fs::write(&file, "a\r\nb\nc").unwrap();
    cli(&[
        "produce",
        "-t",
        &t,
        "-k",
        "same",
        "-p",
        "2",
        "--file",
        file.to_str().unwrap(),
    ])
    .ok();
    let c = cli(&["consume", "-t", &t, "-e", "-f", "%p %k %s"]).ok();
    assert_eq!(c.lines(), ["2 same a", "2 same b", "2 same c"]);
    let o = cli(&["offsets", &t]).ok();
    assert!(
        o.lines().contains(&"2          0         3       3"),
        "{o:?}"
    );
    // Keyed records land where the key hashes, every time.
    cli_with_input(&["produce", "-t", &t, "-k", "user-7"], "x\ny\n").ok();
    let c = cli(&["consume", "-t", &t, "-e", "-f", "%k %p"]).ok();
    let partitions: std::collections::BTreeSet<&str> = c
        .lines()
        .into_iter()
        .filter(|l| l.starts_with("user-7"))
        .collect();
    assert_eq!(partitions.len(), 1, "{c:?}");
    // Errors: no such partition, no such file, no such topic.
    cli_with_input(&["produce", "-t", &t, "-p", "9"], "x\n").fails(1, "partition 9");
    cli(&["produce", "-t", &t, "--file", "/no/such/input"]).fails(1, "/no/such/input");
    cli(&["produce", "-t", &t, "-k", "k", "--key-delimiter", ":"]).fails(2, "cannot be used");
}

#[test]
fn start_offsets_and_partitions() {
    let t = topic("offsets", 1);
    let input: String = (0..10).map(|i| format!("v{i}\n")).collect();
    cli_with_input(&["produce", "-t", &t], &input).ok();
    let values = |args: &[&str]| -> Vec<String> {
        let mut full = vec!["consume", "-t", t.as_str(), "-e"];
        full.extend_from_slice(args);
        cli(&full)
            .ok()
            .lines()
            .iter()
            .map(|s| s.to_string())
            .collect()
    };
    assert_eq!(values(&["-o", "beginning"]).len(), 10);
    assert_eq!(values(&["-o", "7"]), ["v7", "v8", "v9"]);
    assert_eq!(values(&["-o", "-2"]), ["v8", "v9"]);
    assert!(values(&["-o", "end"]).is_empty());
    assert_eq!(values(&["-o", "@2000-01-01T00:00:00Z"]).len(), 10);
    assert!(values(&["-o", "@4000000000000"]).is_empty());
    assert_eq!(values(&["-p", "0", "-o", "9"]), ["v9"]);
    assert_eq!(
        cli(&["consume", "-t", &t, "-c", "3"]).ok().lines(),
        ["v0", "v1", "v2"]
    );
    cli(&["consume", "-t", &t, "-p", "5", "-e"]).fails(1, "no partition 5");
    cli(&["consume", "-t", &t, "-o", "middle"]).fails(2, "middle");
    cli(&["consume", "-t", &t, "-f", "%q"]).fails(2, "%q");
    cli(&["consume", "-t", &t, "-g", "g", "-o", "5"]).fails(2, "with -g");
    cli(&["consume", "-t", &t, "-g", "g", "-p", "0"]).fails(2, "cannot be used");
}

#[test]
fn groups_commit_what_was_printed() {
    let t = topic("grouped-consume", 2);
    let input: String = (0..20).map(|i| format!("k{i}:v{i}\n")).collect();
    cli_with_input(&["produce", "-t", &t, "--key-delimiter", ":"], &input).ok();
    let group = unique("printer");
    let first = cli(&["consume", "-t", &t, "-g", &group, "-c", "5"]).ok();
    assert_eq!(first.lines().len(), 5);
    // The group resumes after what was printed: no record twice, none lost.
    let rest = cli(&["consume", "-t", &t, "-g", &group, "-e"]).ok();
    let mut all: Vec<&str> = first.lines();
    all.extend(rest.lines());
    all.sort_unstable();
    let mut expected: Vec<String> = (0..20).map(|i| format!("v{i}")).collect();
    expected.sort_unstable();
    assert_eq!(all, expected);
    let d = cli(&["groups", "describe", &group]).ok();
    let lags: Vec<&str> = d
        .lines()
        .into_iter()
        .filter(|l| l.starts_with(&t))
        .map(|l| l.split_whitespace().nth(4).unwrap())
        .collect();
    assert_eq!(lags, ["0", "0"], "{d:?}");
    // Reset to the start and read everything again.
    cli(&[
        "groups",
        "reset-offsets",
        &group,
        "--topic",
        &t,
        "--to-earliest",
    ])
    .ok();
    let again = cli(&["consume", "-t", &t, "-g", &group, "-e"]).ok();
    assert_eq!(again.lines().len(), 20);
    // -o end for a new group: nothing old.
    let fresh = cli(&[
        "consume",
        "-t",
        &t,
        "-g",
        &unique("late"),
        "-o",
        "end",
        "-e",
    ])
    .ok();
    assert!(fresh.stdout.is_empty(), "{fresh:?}");
}

#[test]
fn perf_produce_and_consume_report_text_and_json() {
    let t = topic("perf", 2);
    let r = cli(&[
        "perf",
        "produce",
        "-t",
        &t,
        "--num-records",
        "3000",
        "--record-size",
        "64",
        "--throughput",
        "-1",
    ])
    .ok();
    let line = r.stdout.trim();
    assert!(line.starts_with("3000 records sent, "), "{r:?}");
    for part in [
        "records/sec",
        "MB/sec",
        "ms avg latency",
        "ms max latency",
        "ms 99.9th.",
    ] {
        assert!(line.contains(part), "{part}: {r:?}");
    }
    let j = cli(&[
        "perf",
        "produce",
        "-t",
        &t,
        "--num-records",
        "500",
        "--record-size",
        "10",
        "--throughput",
        "1000",
        "--json",
    ])
    .ok();
    let v: serde_json::Value = serde_json::from_str(j.stdout.trim()).expect("one JSON object");
    assert_eq!(v["records"], 500);
    assert_eq!(v["bytes"], 5000);
    assert_eq!(v["type"], "produce");
    // Paced to 1000/s: 500 records take about half a second.
    assert!(v["elapsed_secs"].as_f64().unwrap() >= 0.4, "{v}");
    for p in ["avg", "p50", "p95", "p99", "p99_9", "max"] {
        assert!(v["latency_ms"][p].as_f64().unwrap() >= 0.0, "{p}: {v}");
    }

    let c = cli(&[
        "perf",
        "consume",
        "-t",
        &t,
        "--num-records",
        "3500",
        "--json",
    ])
    .ok();
    let v: serde_json::Value = serde_json::from_str(c.stdout.trim()).expect("one JSON object");
    assert_eq!(v["records"], 3500);
    assert_eq!(v["bytes"], 3000 * 64 + 500 * 10);
    assert_eq!(v["type"], "consume");
    let c = cli(&["perf", "consume", "-t", &t, "--num-records", "100"]).ok();
    assert!(c.stdout.starts_with("100 records consumed, "), "{c:?}");
    // More than there is: fails after the idle timeout, still printing the summary.
    let c = cli(&[
        "perf",
        "consume",
        "-t",
        &t,
        "--num-records",
        "4000",
        "--timeout",
        "1500",
    ])
    .fails(1, "only 3500 of 4000");
    assert!(c.stdout.starts_with("3500 records consumed"), "{c:?}");
    cli(&[
        "perf",
        "produce",
        "-t",
        &t,
        "--num-records",
        "1",
        "--throughput",
        "0",
    ])
    .fails(2, "--throughput");
}

#[test]
fn reset_refuses_an_active_group_and_consume_stops_on_sigterm() {
    let t = topic("active", 1);
    cli_with_input(&["produce", "-t", &t], "one\ntwo\n").ok();
    let group = unique("active-group");
    let mut member = Background::start(&["-b", bootstrap(), "consume", "-t", &t, "-g", &group]);
    assert_eq!(member.wait_for_line(|_| true), "one");
    // Wait for the group to be Stable with its member.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let d = cli(&["groups", "describe", &group]);
        if d.code == 0 && d.stdout.contains("State: Stable") {
            assert!(d.stdout.contains("Members: 1"), "{d:?}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the group never became stable: {d:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    cli(&[
        "groups",
        "reset-offsets",
        &group,
        "--topic",
        &t,
        "--to-earliest",
    ])
    .fails(1, "stop its consumers");
    // SIGTERM: the consumer leaves the group cleanly and commits what it printed.
    assert_eq!(member.terminate(), 0);
    let d = cli(&["groups", "describe", &group]).ok();
    assert!(d.stdout.contains("State: Empty"), "{d:?}");
    let row = d
        .lines()
        .into_iter()
        .find(|l| l.starts_with(&t))
        .map(str::to_owned);
    let current = row.as_deref().and_then(|l| l.split_whitespace().nth(2));
    assert_eq!(current, Some("2"), "{d:?}");
    cli(&[
        "groups",
        "reset-offsets",
        &group,
        "--topic",
        &t,
        "--to-earliest",
    ])
    .ok();
}

/// `consume | head -1` on a topic that has gone quiet: the consumer has written everything
/// and waits for more, so no write fails; it must still notice that its reader left.
#[test]
fn consume_stops_when_its_reader_goes_away() {
    let t = topic("reader-gone", 1);
    cli_with_input(&["produce", "-t", &t], "one\ntwo\n").ok();
    let mut consumer = Background::start(&["-b", bootstrap(), "consume", "-t", &t]);
    assert_eq!(consumer.wait_for_line(|_| true), "one");
    consumer.close_stdout();
    assert_eq!(
        consumer.exit_code_within(Duration::from_secs(10)),
        Some(0),
        "the consumer kept waiting after its reader left"
    );
}
