//! Arbitrary bytes as a request frame handed to the companion broker's request handler
//! (`BrokerState::handle_frame`, what a connection calls for every frame it reads). The handler
//! must never panic or hang: it answers or asks for the connection to be closed. Seeds are the
//! request seeds, so most inputs start as valid requests of every API and version.
#![no_main]

use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use kafka_broker::{Broker, BrokerState};
use kafka_protocol_fuzz::{request_seeds, write_seeds_if_requested};
use libfuzzer_sys::fuzz_target;
use parking_lot::Mutex;

struct Harness {
    rt: tokio::runtime::Runtime,
    state: Mutex<(Arc<BrokerState>, u32)>,
}

fn new_state() -> Arc<BrokerState> {
    Broker::builder()
        .build_state()
        .expect("an in-memory broker state builds")
}

fn harness() -> &'static Harness {
    static H: OnceLock<Harness> = OnceLock::new();
    H.get_or_init(|| Harness {
        // Paused time: long-poll fetches and group timers advance instantly when idle, so a
        // hostile max-wait cannot stall the fuzzer.
        rt: tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .expect("runtime"),
        state: Mutex::new((new_state(), 0)),
    })
}

fuzz_target!(
    init: write_seeds_if_requested("broker_frame", request_seeds),
    |data: &[u8]| {
        let h = harness();
        let state = {
            let mut guard = h.state.lock();
            // A fresh broker now and then, so topics created by earlier inputs do not pile up.
            guard.1 += 1;
            if guard.1 % 2000 == 0 {
                guard.0 = new_state();
            }
            Arc::clone(&guard.0)
        };
        let frame = Bytes::copy_from_slice(data);
        let _reply = h.rt.block_on(state.handle_frame(frame));
    }
);
