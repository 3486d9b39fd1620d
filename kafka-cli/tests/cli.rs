//! The `kafka-cli` binary, driven as a subprocess against the companion broker: every admin
//! subcommand, client properties from `-X` and `--config`, usage errors (exit 2), an
//! unreachable cluster (exit 1, promptly, with a clear message) and the `broker` command.
//! Producing and consuming are in `records.rs`.

mod support;

use std::time::Duration;

use support::{Background, bootstrap, cli, closed_port, raw, unique};

#[test]
fn topics_lifecycle() {
    let topic = unique("topics");
    cli(&["topics", "create", &topic, "--partitions", "3"])
        .ok()
        .stdout
        .contains(&format!("created topic {topic}"))
        .then_some(())
        .expect("create says so");
    cli(&["topics", "create", &topic]).fails(1, "TOPIC_ALREADY_EXISTS");
    cli(&["topics", "create", &topic, "--if-not-exists"]).ok();
    assert!(
        cli(&["topics", "list"])
            .ok()
            .lines()
            .contains(&topic.as_str())
    );

    let d = cli(&["topics", "describe", &topic]).ok();
    assert!(d.stdout.contains("PartitionCount: 3"), "{d:?}");
    assert_eq!(
        d.lines().len(),
        1 + 1 + 3,
        "summary, header, 3 partitions: {d:?}"
    );

    cli(&[
        "topics",
        "alter",
        &topic,
        "--config",
        "retention.ms=3600000",
        "--partitions",
        "5",
    ])
    .ok();
    let d = cli(&["topics", "describe", &topic]).ok();
    assert!(d.stdout.contains("PartitionCount: 5"), "{d:?}");
    assert!(d.stdout.contains("retention.ms=3600000"), "{d:?}");
    cli(&["topics", "alter", &topic, "--delete-config", "retention.ms"]).ok();
    let d = cli(&["topics", "describe", &topic]).ok();
    assert!(!d.stdout.contains("retention.ms=3600000"), "{d:?}");
    let all = cli(&["topics", "describe", &topic, "--all-configs"]).ok();
    assert!(all.stdout.contains("retention.ms="), "{all:?}");

    cli(&["topics", "alter", &topic, "--partitions", "2"]).fails(1, "INVALID_PARTITIONS");
    cli(&["topics", "delete", &topic]).ok();
    cli(&["topics", "delete", &topic]).fails(1, "UNKNOWN_TOPIC_OR_PARTITION");
    cli(&["topics", "delete", &topic, "--if-exists"]).ok();
    cli(&["topics", "describe", &topic]).fails(1, "UNKNOWN_TOPIC_OR_PARTITION");
}

#[test]
fn topics_create_with_configs_and_several_failures() {
    let topic = unique("configured");
    cli(&[
        "topics",
        "create",
        &topic,
        "--partitions",
        "2",
        "--replication-factor",
        "1",
        "--config",
        "retention.ms=120000",
    ])
    .ok();
    let d = cli(&["topics", "describe", &topic]).ok();
    assert!(d.stdout.contains("Configs: retention.ms=120000"), "{d:?}");
    // Two failures: each reported, then a summary, exit 1.
    let missing = [unique("missing"), unique("missing")];
    let r = cli(&["topics", "delete", &missing[0], &missing[1]]).fails(1, "2 of 2 failed");
    assert!(r.stderr.contains(&missing[0]) && r.stderr.contains(&missing[1]));
    cli(&["topics", "create", &unique("bad"), "--partitions", "0"]).fails(2, "--partitions");
    cli(&[
        "topics",
        "create",
        &unique("bad"),
        "--replication-factor",
        "3",
    ])
    .fails(1, "INVALID_REPLICATION_FACTOR");
}

#[test]
fn cluster_describe_names_the_broker() {
    let r = cli(&["cluster", "describe"]).ok();
    let port = bootstrap().rsplit(':').next().unwrap();
    assert!(r.stdout.starts_with("Cluster id: "), "{r:?}");
    assert!(r.stdout.contains("Controller: 0"), "{r:?}");
    assert!(r.stdout.contains(port), "{r:?}");
}

#[test]
fn offsets_of_an_empty_topic() {
    let topic = unique("offsets");
    cli(&["topics", "create", &topic, "--partitions", "2"]).ok();
    let r = cli(&["offsets", &topic]).ok();
    assert_eq!(
        r.lines(),
        [
            "PARTITION  EARLIEST  LATEST  RECORDS",
            "0          0         0       0",
            "1          0         0       0"
        ]
    );
    cli(&["offsets", &unique("nope")]).fails(1, "UNKNOWN_TOPIC_OR_PARTITION");
}

#[test]
fn groups_reset_describe_list_delete() {
    let topic = unique("grouped");
    let group = unique("group");
    cli(&["topics", "create", &topic, "--partitions", "2"]).ok();
    // Resetting an unknown group creates its offsets.
    let r = cli(&[
        "groups",
        "reset-offsets",
        &group,
        "--topic",
        &topic,
        "--to-latest",
    ])
    .ok();
    assert!(r.stdout.contains("NEW-OFFSET"), "{r:?}");
    let dry = cli(&[
        "groups",
        "reset-offsets",
        &group,
        "--topic",
        &topic,
        "--to-offset",
        "7",
        "--dry-run",
    ])
    .ok();
    // Clamped to the (empty) log.
    assert!(
        dry.stdout.contains(&format!("{topic}  0          0")),
        "{dry:?}"
    );
    cli(&[
        "groups",
        "reset-offsets",
        &group,
        "--topic",
        &topic,
        "--to-datetime",
        "2024-01-01T00:00:00Z",
    ])
    .ok();
    let list = cli(&["groups", "list"]).ok();
    assert!(list.stdout.contains(&group), "{list:?}");
    let d = cli(&["groups", "describe", &group]).ok();
    assert!(d.stdout.contains("State: Empty"), "{d:?}");
    assert!(d.stdout.contains("CURRENT-OFFSET"), "{d:?}");
    assert_eq!(
        d.lines().iter().filter(|l| l.starts_with(&topic)).count(),
        2,
        "{d:?}"
    );
    cli(&["groups", "delete", &group]).ok();
    cli(&["groups", "describe", &group]).fails(1, &group);
    cli(&["groups", "reset-offsets", &group, "--topic", &topic]).fails(2, "required");
    cli(&[
        "groups",
        "reset-offsets",
        &group,
        "--topic",
        &topic,
        "--to-datetime",
        "yesterday",
    ])
    .fails(2, "yesterday");
}

#[test]
fn client_properties_from_flags_and_files() {
    // A valid property is applied (client.id shows up nowhere we can see, so check it is
    // accepted) and a file supplies the bootstrap servers.
    cli(&[
        "-X",
        "client.id=cli-test",
        "-X",
        "request.timeout.ms=5000",
        "topics",
        "list",
    ])
    .ok();
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("client.properties");
    std::fs::write(
        &good,
        format!(
            "# comment\nbootstrap.servers={}\nclient.id=from-file\n",
            bootstrap()
        ),
    )
    .unwrap();
    raw(&["--config", good.to_str().unwrap(), "topics", "list"]).ok();
    raw(&["topics", "list", "--command-config", good.to_str().unwrap()]).ok();

    cli(&["-X", "no.such.property=1", "topics", "list"]).fails(2, "no.such.property");
    cli(&["-X", "request.timeout.ms=soon", "topics", "list"]).fails(2, "request.timeout.ms");
    cli(&[
        "-X",
        "security.protocol=CARRIER_PIGEON",
        "cluster",
        "describe",
    ])
    .fails(2, "security.protocol");
    cli(&["-X", "noequals", "topics", "list"]).fails(2, "NAME=VALUE");
    let bad = dir.path().join("bad.properties");
    std::fs::write(&bad, "client.id=x\nbootstrap.servrs=localhost:9092\n").unwrap();
    let r =
        cli(&["--config", bad.to_str().unwrap(), "topics", "list"]).fails(2, "bootstrap.servrs");
    assert!(r.stderr.contains("line 2"), "{r:?}");
    cli(&["--config", "/no/such/file.properties", "topics", "list"])
        .fails(1, "/no/such/file.properties");
    // A secret's value is never echoed.
    let r = cli(&[
        "-X",
        "sasl.password=hunter2",
        "-X",
        "sasl.mechanism=NOPE",
        "topics",
        "list",
    ])
    .fails(2, "sasl.mechanism");
    assert!(!r.stderr.contains("hunter2"), "{r:?}");
}

#[test]
fn usage_errors_exit_2_with_one_line() {
    for args in [
        &["topics", "lst"][..],
        &["topics", "create"],
        &["topics", "create", "t", "--partitions", "many"],
        &["topics", "alter", "t"],
        &["groups", "describe"],
        &["nonsense"],
        &["offsets"],
        &["--no-such-flag", "topics", "list"],
    ] {
        let r = cli(args);
        assert_eq!(r.code, 2, "{args:?}: {r:#?}");
        let first = r.stderr.lines().next().unwrap_or("");
        assert!(first.starts_with("kafka-cli: error: "), "{args:?}: {r:#?}");
        assert!(
            first.len() > "kafka-cli: error: ".len() + 5,
            "{args:?}: {r:#?}"
        );
    }
    raw(&["topics", "list"]).fails(2, "-b HOST:PORT");
    let help = raw(&["--help"]).ok();
    assert!(help.stdout.contains("Usage: kafka-cli"));
    assert!(raw(&["--version"]).ok().stdout.starts_with("kafka-cli "));
}

#[test]
fn unreachable_cluster_fails_within_the_timeout() {
    let addr = format!("127.0.0.1:{}", closed_port());
    // The CLI's default timeout (10 s), not Kafka's minute.
    let r = raw(&["-b", &addr, "topics", "list"]);
    let r = r.fails(1, &format!("cannot reach the cluster at {addr}"));
    assert!(r.elapsed < Duration::from_secs(20), "took {:?}", r.elapsed);
    assert_eq!(r.stderr.lines().count(), 1, "{r:?}");
    // And a shorter one when asked for.
    let r = raw(&[
        "-b",
        &addr,
        "-X",
        "default.api.timeout.ms=1000",
        "cluster",
        "describe",
    ]);
    let r = r.fails(1, "cannot reach the cluster");
    assert!(r.elapsed < Duration::from_secs(6), "took {:?}", r.elapsed);
    // The producing and consuming commands say the same.
    for cmd in [
        &["produce", "-t", "t"][..],
        &["consume", "-t", "t"],
        &["consume", "-t", "t", "-g", "g"],
        &["perf", "produce", "-t", "t", "--num-records", "1"],
        &["perf", "consume", "-t", "t", "--num-records", "1"],
    ] {
        let mut args = vec!["-b", addr.as_str(), "-X", "default.api.timeout.ms=1000"];
        args.extend_from_slice(cmd);
        let r = raw(&args).fails(1, "cannot reach the cluster");
        assert!(
            r.elapsed < Duration::from_secs(6),
            "{cmd:?} took {:?}",
            r.elapsed
        );
    }
}

#[test]
fn broker_command_serves_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let mut broker = Background::start(&[
        "broker",
        "--listen",
        "127.0.0.1:0",
        "--default-partitions",
        "4",
        "--data-dir",
        dir.path().to_str().unwrap(),
    ]);
    let line = broker.wait_for_line(|l| l.starts_with("listening on "));
    let addr = line.trim_start_matches("listening on ").to_owned();
    let topic = unique("own-broker");
    raw(&["-b", &addr, "topics", "create", &topic]).ok();
    let d = raw(&["-b", &addr, "topics", "describe", &topic]).ok();
    assert!(d.stdout.contains("PartitionCount: 4"), "{d:?}");
    assert_eq!(broker.terminate(), 0);
    // Several replicating brokers: the line is a bootstrap list.
    let mut cluster = Background::start(&["broker", "--listen", "127.0.0.1:0", "--brokers", "3"]);
    let line = cluster.wait_for_line(|l| l.starts_with("listening on "));
    let addrs = line.trim_start_matches("listening on ").to_owned();
    assert_eq!(addrs.split(',').count(), 3, "{line}");
    let replicated = unique("replicated");
    raw(&[
        "-b",
        &addrs,
        "topics",
        "create",
        &replicated,
        "--replication-factor",
        "3",
    ])
    .ok();
    let d = raw(&["-b", &addrs, "topics", "describe", &replicated]).ok();
    assert!(d.stdout.contains("ReplicationFactor: 3"), "{d:?}");
    assert_eq!(cluster.terminate(), 0);
    raw(&["broker", "--default-partitions", "zero"]).fails(2, "zero");
    raw(&["broker", "--tls-cert", "/x.pem"]).fails(2, "tls-key");
}
