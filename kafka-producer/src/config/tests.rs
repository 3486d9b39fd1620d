use super::*;

fn base() -> ProducerConfig {
    ProducerConfig::new()
        .set("bootstrap.servers", "localhost:9092")
        .unwrap()
}

#[test]
fn defaults_are_kafkas() {
    let mut c = base();
    c.validate().unwrap();
    assert_eq!(c.acks(), Acks::All);
    assert_eq!(c.batch_size(), 16_384);
    assert_eq!(c.linger(), Duration::from_millis(5));
    assert_eq!(c.buffer_memory(), 32 * 1024 * 1024);
    assert_eq!(c.max_block(), Duration::from_secs(60));
    assert_eq!(c.max_in_flight(), 5);
    assert_eq!(c.retries(), i32::MAX as u32);
    assert_eq!(c.delivery_timeout(), Duration::from_secs(120));
    assert!(c.idempotence());
    assert_eq!(c.compression(), Compression::None);
    assert_eq!(c.max_request_size(), 1 << 20);
    assert!(c.adaptive_partitioning() && !c.partitioner_ignore_keys());
    // The table's defaults say the same.
    for def in PRODUCER_CONFIGS {
        let mut fresh = ProducerConfig::new();
        let before = fresh.clone();
        fresh
            .set_property(
                def.name,
                def.default.expect("every producer property has one"),
            )
            .unwrap();
        fresh.explicit.clear();
        assert_eq!(fresh, before, "default of {}", def.name);
    }
}

#[test]
fn every_property_applies() {
    let values = [
        ("acks", "1"),
        ("batch.size", "100"),
        ("linger.ms", "7"),
        ("buffer.memory", "4096"),
        ("max.block.ms", "10"),
        ("max.in.flight.requests.per.connection", "3"),
        ("retries", "4"),
        ("delivery.timeout.ms", "40000"),
        ("enable.idempotence", "false"),
        ("compression.type", "zstd"),
        ("compression.gzip.level", "6"),
        ("compression.lz4.level", "3"),
        ("compression.zstd.level", "-5"),
        ("max.request.size", "2000"),
        (
            "partitioner.class",
            "org.apache.kafka.clients.producer.RoundRobinPartitioner",
        ),
        ("partitioner.ignore.keys", "true"),
        ("partitioner.adaptive.partitioning.enable", "false"),
        ("partitioner.availability.timeout.ms", "30"),
        ("transactional.id", ""),
    ];
    assert_eq!(values.len(), PRODUCER_CONFIGS.len());
    let mut c = base();
    for (k, v) in values {
        c.set_property(k, v).unwrap();
    }
    c.validate().unwrap();
    assert_eq!(c.acks(), Acks::Leader);
    assert_eq!(c.batch_size(), 100);
    assert_eq!(c.linger(), Duration::from_millis(7));
    assert_eq!(c.buffer_memory(), 4096);
    assert_eq!(c.max_block(), Duration::from_millis(10));
    assert_eq!(c.max_in_flight(), 3);
    assert_eq!(c.retries(), 4);
    assert_eq!(c.delivery_timeout(), Duration::from_secs(40));
    assert!(!c.idempotence());
    assert_eq!(c.compression(), Compression::Zstd);
    assert_eq!(c.compression_level(), Some(-5));
    assert_eq!(c.max_request_size(), 2000);
    assert!(matches!(c.partitioner(), PartitionerKind::Custom(_)));
    assert!(c.partitioner_ignore_keys() && !c.adaptive_partitioning());
    assert_eq!(c.availability_timeout(), Duration::from_millis(30));
    // Client-core properties pass through.
    c.set_property("request.timeout.ms", "1234").unwrap();
    assert_eq!(c.client().request_timeout(), Duration::from_millis(1234));
}

#[test]
fn unknown_and_invalid_properties_are_refused_by_name() {
    let mut c = base();
    let e = c.set_property("lingr.ms", "5").unwrap_err();
    assert_eq!(e.property(), Some("lingr.ms"));
    assert!(e.to_string().contains("unknown"), "{e}");
    for (k, v) in [
        ("acks", "2"),
        ("batch.size", "-1"),
        ("compression.type", "brotli"),
        ("max.in.flight.requests.per.connection", "0"),
        ("enable.idempotence", "yes"),
        ("compression.gzip.level", "0"),
        ("compression.zstd.level", "23"),
        ("partitioner.class", "com.example.Mine"),
    ] {
        let e = c.set_property(k, v).unwrap_err();
        assert_eq!(e.property(), Some(k), "{e}");
    }
    let e = c.set_property("transactional.id", "tx").unwrap_err();
    assert!(matches!(e, ConfigError::Unsupported { .. }), "{e}");
    let e = ProducerConfig::from_properties_str("acks=all\nbogus=1\n").unwrap_err();
    assert!(e.to_string().contains("line 2"), "{e}");
}

#[test]
fn explicit_idempotence_conflicts_are_errors_like_java() {
    for (k, v, needle) in [
        ("acks", "1", "acks"),
        ("retries", "0", "retries"),
        (
            "max.in.flight.requests.per.connection",
            "6",
            "max.in.flight",
        ),
    ] {
        let mut c = base()
            .set("enable.idempotence", "true")
            .unwrap()
            .set(k, v)
            .unwrap();
        let e = c.validate().unwrap_err();
        assert_eq!(e.property(), Some(k));
        assert!(e.to_string().contains(needle), "{e}");
        // Without the explicit setting, idempotence quietly turns off.
        let mut c = base().set(k, v).unwrap();
        c.validate().unwrap();
        assert!(!c.idempotence(), "{k}={v}");
    }
}

#[test]
fn delivery_timeout_must_cover_linger_and_request_timeout() {
    let mut c = base()
        .set("delivery.timeout.ms", "1000")
        .unwrap()
        .set("request.timeout.ms", "2000")
        .unwrap();
    let e = c.validate().unwrap_err();
    assert_eq!(e.property(), Some("delivery.timeout.ms"));
    assert!(e.to_string().contains("2005"), "{e}");
    // A default that is too small is raised instead.
    let mut c = base().set("request.timeout.ms", "200000").unwrap();
    c.validate().unwrap();
    assert_eq!(c.delivery_timeout(), Duration::from_millis(200_005));
}

#[test]
fn typed_builder_matches_properties() {
    let typed = ProducerConfig::builder()
        .bootstrap_servers(["a:1", "b:2"])
        .acks(Acks::None)
        .enable_idempotence(false)
        .compression(Compression::Gzip)
        .gzip_level(9)
        .linger(Duration::from_millis(1))
        .request_timeout(Duration::from_secs(3))
        .build()
        .unwrap();
    let mut named = ProducerConfig::from_properties_str(
        "bootstrap.servers=a:1,b:2\nacks=0\nenable.idempotence=false\ncompression.type=gzip\ncompression.gzip.level=9\nlinger.ms=1\nrequest.timeout.ms=3000\n",
    )
    .unwrap();
    named.validate().unwrap();
    assert_eq!(typed.client(), named.client());
    assert_eq!(typed.compression_level(), Some(9));
    assert_eq!(typed.acks(), named.acks());
    assert_eq!(typed.linger(), named.linger());
    let e = ProducerConfig::builder()
        .bootstrap_servers(["a:1"])
        .request_timeout(Duration::from_secs(1 << 40))
        .build()
        .unwrap_err();
    assert_eq!(e.property(), Some("request.timeout.ms"));
    assert!(
        ProducerConfig::builder().build().is_err(),
        "bootstrap.servers is required"
    );
}
