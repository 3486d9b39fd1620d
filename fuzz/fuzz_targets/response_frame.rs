//! The first 4 bytes choose an (api, version) from `ApiKey::ALL` and its version range; the
//! rest is a response frame (without the size prefix). Decoding must never panic; whatever
//! decodes must re-encode, decode again to an equal frame, and re-encode to the same bytes.
#![no_main]

use bytes::Bytes;
use kafka_protocol::frame::{decode_response, encode_response};
use kafka_protocol_fuzz::{response_seeds, select_response, write_seeds_if_requested};
use libfuzzer_sys::fuzz_target;

fuzz_target!(
    init: write_seeds_if_requested("response_frame", response_seeds),
    |data: &[u8]| {
        let Some((api, version, rest)) = select_response(data) else {
            return;
        };
        let frame = Bytes::copy_from_slice(rest);
        let Ok((header, body)) = decode_response(&frame, api, version) else {
            return;
        };
        assert_eq!(body.api_key(), api);
        let wire = encode_response(header.correlation_id, version, &body).unwrap_or_else(|e| {
            panic!("decoded {api:?} v{version} response does not re-encode: {e}\n{body:?}")
        });
        let size = i32::from_be_bytes([wire[0], wire[1], wire[2], wire[3]]);
        assert_eq!(size as usize, wire.len() - 4, "size prefix");
        let wire = wire.freeze();
        let (header2, body2) = decode_response(&wire.slice(4..), api, version).unwrap_or_else(|e| {
            panic!("re-encoded {api:?} v{version} response does not decode: {e}\n{body:?}")
        });
        // The response header's unknown tagged fields are not re-encoded by encode_response.
        assert_eq!(header2.correlation_id, header.correlation_id);
        // Debug as a fallback: float fields may hold NaN, which is never `==` itself.
        assert!(
            body == body2 || format!("{body:?}") == format!("{body2:?}"),
            "round trip changed the {api:?} v{version} response:\n{body:?}\n{body2:?}"
        );
        let wire2 = encode_response(header2.correlation_id, version, &body2).expect("second encode");
        assert_eq!(wire, wire2.freeze(), "re-encoding is not stable");
    }
);
