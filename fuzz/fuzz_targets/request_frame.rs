//! Arbitrary bytes as a request frame (without the size prefix). Decoding must never panic;
//! whatever decodes must re-encode, decode again to an equal frame, and re-encode to the same
//! bytes.
#![no_main]

use bytes::Bytes;
use kafka_protocol::frame::{RequestFrame, decode_request, encode_request};
use kafka_protocol_fuzz::{request_seeds, write_seeds_if_requested};
use libfuzzer_sys::fuzz_target;

fn same(a: &RequestFrame, b: &RequestFrame) -> bool {
    // Debug as a fallback: float fields may hold NaN, which is never `==` itself.
    a == b || format!("{a:?}") == format!("{b:?}")
}

fuzz_target!(
    init: write_seeds_if_requested("request_frame", request_seeds),
    |data: &[u8]| {
        let frame = Bytes::copy_from_slice(data);
        let Ok(req) = decode_request(&frame) else {
            return;
        };
        let wire = encode_request(&req.header, &req.body).unwrap_or_else(|e| {
            panic!("decoded {:?} v{} does not re-encode: {e}\n{req:?}", req.api_key, req.api_version())
        });
        let size = i32::from_be_bytes([wire[0], wire[1], wire[2], wire[3]]);
        assert_eq!(size as usize, wire.len() - 4, "size prefix");
        let wire = wire.freeze();
        let again = decode_request(&wire.slice(4..)).unwrap_or_else(|e| {
            panic!("re-encoded {:?} v{} does not decode: {e}\n{req:?}", req.api_key, req.api_version())
        });
        assert!(same(&req, &again), "round trip changed the frame:\n{req:?}\n{again:?}");
        let wire2 = encode_request(&again.header, &again.body).expect("second encode");
        assert_eq!(wire, wire2.freeze(), "re-encoding is not stable");
    }
);
