//! Property test: every message of every spec, at every valid version, round-trips:
//! `decode(encode(m, v), v) == m` for random values that version can carry, and
//! `encoded_size` equals the bytes written. Failing seeds are kept in
//! `proptest-regressions/` and replayed first.

use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn every_message_every_version_round_trips(seed in any::<u64>()) {
        let checked = kafka_protocol::messages::roundtrip_every_message(seed)
            .map_err(TestCaseError::fail)?;
        // 88 APIs x 2 plus headers and data messages, each at several versions.
        prop_assert!(checked > 600, "only {checked} message versions checked");
    }
}
