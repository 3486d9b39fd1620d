//! Unit tests of the record codec: round trips through the owned and borrowed decoders,
//! staged writes, truncations and hostile lengths.

use bytes::BytesMut;

use super::*;

const CTX: RecordContext = RecordContext {
    base_offset: 100,
    base_timestamp: 1000,
    log_append_time: None,
};

fn encode(f: &RecordFields<'_>) -> Bytes {
    let mut buf = BytesMut::new();
    let n = f.body_size().unwrap();
    let written = f.write(&mut buf, n).unwrap();
    assert_eq!(written, buf.len());
    buf.freeze()
}

#[test]
fn round_trip_with_views() {
    let headers = [
        RecordHeader::new("a", Some(Bytes::from_static(b"1"))),
        RecordHeader::new("bé", None),
    ];
    let f = RecordFields {
        timestamp_delta: -5,
        offset_delta: 3,
        key: Some(b"key"),
        value: None,
        headers: &headers,
    };
    let b = encode(&f);
    let (rest, r) = decode_record(&b, &b, &CTX).unwrap();
    assert!(rest.is_empty());
    assert_eq!(r.offset, 103);
    assert_eq!(r.timestamp, 995);
    assert_eq!(r.key.as_deref(), Some(&b"key"[..]));
    assert_eq!(r.value, None);
    assert_eq!(r.headers, headers);
    // The key is a view into the buffer, not a copy.
    let key = r.key.unwrap();
    assert!(b.as_ptr_range().contains(&key.as_ptr()));

    let ctx = RecordContext {
        log_append_time: Some(7),
        ..CTX
    };
    assert_eq!(decode_record(&b, &b, &ctx).unwrap().1.timestamp, 7);
}

#[test]
fn staged_writes_round_trip_at_every_field_size() {
    // Field sizes around the stack buffer's staging limits, many headers, extreme deltas.
    let sizes = [0usize, 1, 15, 16, 17, 40, 63, 64, 200];
    let data = [b'x'; 200];
    for &k in &sizes {
        for &v in &sizes {
            let headers: Vec<RecordHeader> = sizes
                .iter()
                .map(|&n| {
                    let key = "h".repeat(n.min(30));
                    RecordHeader::new(key, (n % 2 == 0).then(|| Bytes::from(vec![b'v'; n])))
                })
                .collect();
            for (ts, off) in [(0i64, 0i32), (i64::MIN, i32::MAX), (i64::MAX, -1)] {
                let f = RecordFields {
                    timestamp_delta: ts,
                    offset_delta: off,
                    key: Some(&data[..k]),
                    value: (v != 63).then(|| &data[..v]),
                    headers: &headers,
                };
                let b = encode(&f);
                let (rest, r) = decode_record(&b, &b, &CTX).unwrap();
                assert!(rest.is_empty());
                assert_eq!(r.key.as_deref(), Some(&data[..k]));
                assert_eq!(r.value.as_deref(), (v != 63).then(|| &data[..v]));
                assert_eq!(r.headers, headers);
                assert_eq!(r.timestamp, CTX.base_timestamp.wrapping_add(ts));
            }
        }
    }
}

#[test]
fn no_headers_no_allocation() {
    let f = RecordFields {
        timestamp_delta: 0,
        offset_delta: 0,
        key: None,
        value: Some(b"v"),
        headers: &[],
    };
    let b = encode(&f);
    let (_, r) = decode_record(&b, &b, &CTX).unwrap();
    assert_eq!(r.headers.capacity(), 0);
}

#[test]
fn every_truncation_is_an_error() {
    let headers = [RecordHeader::new("h", Some(Bytes::from_static(b"vv")))];
    let f = RecordFields {
        timestamp_delta: 300,
        offset_delta: 70000,
        key: Some(b"k"),
        value: Some(b"value"),
        headers: &headers,
    };
    let b = encode(&f);
    for n in 0..b.len() {
        let cut = b.slice(..n);
        assert!(decode_record(&cut, &cut, &CTX).is_err(), "{n}");
    }
}

#[test]
fn hostile_fields_are_refused() {
    // Both decodes refuse the same inputs with the same error (the header key's UTF-8
    // aside, checked in `borrowed_header_keys_are_checked_lazily`).
    let dec = |bytes: &'static [u8]| {
        let b = Bytes::from_static(bytes);
        let owned = match decode_record(&b, &b, &CTX) {
            Err(nom::Err::Error(e)) => e,
            other => panic!("{other:?}"),
        };
        if owned.kind != DecodeErrorKind::InvalidUtf8 {
            match decode_record_ref(&b, &b, &CTX) {
                Err(nom::Err::Error(e)) => assert_eq!(e, owned),
                other => panic!("{other:?}"),
            }
        }
        owned.kind
    };
    // Negative length.
    assert_eq!(dec(&[0x01]), DecodeErrorKind::InvalidLength(-1));
    // Length beyond the input.
    assert!(matches!(
        dec(&[0xfe, 0xff, 0xff, 0xff, 0x07]),
        DecodeErrorKind::LengthTooLarge { .. }
    ));
    // Key length -2.
    assert_eq!(
        dec(&[0x0a, 0, 0, 0, 0x03, 0, 0, 0, 0, 0, 0]),
        DecodeErrorKind::InvalidLength(-2)
    );
    // Header count 2^30 with 2 bytes left.
    assert!(matches!(
        dec(&[0x14, 0, 0, 0, 0x01, 0x01, 0x80, 0x80, 0x80, 0x80, 0x08]),
        DecodeErrorKind::LengthTooLarge {
            declared: 0x4000_0000,
            remaining: 0
        }
    ));
    // Null header key.
    assert_eq!(
        dec(&[0x10, 0, 0, 0, 0x01, 0x01, 0x02, 0x01, 0x01]),
        DecodeErrorKind::InvalidLength(-1)
    );
    // Header key not UTF-8.
    assert_eq!(
        dec(&[0x12, 0, 0, 0, 0x01, 0x01, 0x02, 0x02, 0xff, 0x01]),
        DecodeErrorKind::InvalidUtf8
    );
    // Length longer than the fields.
    assert!(matches!(
        dec(&[0x10, 0, 0, 0, 0x01, 0x01, 0x00, 0x00, 0x00]),
        DecodeErrorKind::InvalidValue(_)
    ));
    // Negative header count.
    assert_eq!(
        dec(&[0x0c, 0, 0, 0, 0x01, 0x01, 0x01]),
        DecodeErrorKind::InvalidLength(-1)
    );
}

/// A record with `headers`, encoded.
fn with_headers(headers: &[RecordHeader]) -> Bytes {
    encode(&RecordFields {
        timestamp_delta: 7,
        offset_delta: 2,
        key: Some(b"key"),
        value: Some(b"value"),
        headers,
    })
}

#[test]
fn borrowed_decode_matches_owned() {
    let headers = [
        RecordHeader::new("a", Some(Bytes::from_static(b"1"))),
        RecordHeader::new("", None),
        RecordHeader::new("bé", Some(Bytes::new())),
    ];
    for hs in [&headers[..], &[]] {
        let b = with_headers(hs);
        let (rest, r) = decode_record_ref(&b, &b, &CTX).unwrap();
        assert!(rest.is_empty());
        let (_, owned) = decode_record(&b, &b, &CTX).unwrap();
        assert_eq!(r, owned);
        assert_eq!(owned, r);
        assert_eq!(r.to_owned_record().unwrap(), owned);
        assert_eq!((r.offset, r.timestamp), (102, 1007));
        assert_eq!((r.key, r.value), (Some(&b"key"[..]), Some(&b"value"[..])));
        assert_eq!(r.header_count(), hs.len());
        assert_eq!(r.headers().len(), hs.len());
        let got: Vec<_> = r.headers().map(Result::unwrap).collect();
        let want: Vec<_> = hs
            .iter()
            .map(|h| (h.key.as_str(), h.value.as_deref()))
            .collect();
        assert_eq!(got, want);
        // Views, not copies: the borrowed slices and the upgraded `Bytes` point into `b`.
        let range = b.as_ptr_range();
        assert!(range.contains(&r.value.unwrap().as_ptr()));
        let up = r.to_owned_record().unwrap();
        assert!(range.contains(&up.value.unwrap().as_ptr()));
        if let Some(h) = up.headers.first() {
            assert!(range.contains(&h.key.as_bytes().as_ptr()));
        }
    }
    // Equality is by content, whatever buffer the record is in.
    let b = with_headers(&headers);
    let copy = Bytes::copy_from_slice(&b);
    let x = decode_record_ref(&b, &b, &CTX).unwrap().1;
    let y = decode_record_ref(&copy, &copy, &CTX).unwrap().1;
    assert_eq!(x, y);
    let other = with_headers(&headers[..2]);
    let z = decode_record_ref(&other, &other, &CTX).unwrap().1;
    assert_ne!(x, z);
    // Log-append time replaces the record's own timestamp in both.
    let ctx = RecordContext {
        log_append_time: Some(9),
        ..CTX
    };
    assert_eq!(decode_record_ref(&b, &b, &ctx).unwrap().1.timestamp, 9);
}

#[test]
fn borrowed_header_keys_are_checked_lazily() {
    // Headers "ok" -> "1", then a key of one 0xff byte -> null, then "z" -> "2".
    let b = Bytes::from_static(&[
        0x24, 0, 0, 0, 0x01, 0x01, 0x06, 0x04, b'o', b'k', 0x02, b'1', 0x02, 0xff, 0x01, 0x02,
        b'z', 0x02, b'2',
    ]);
    assert_eq!(b[0] as usize / 2, b.len() - 1);
    let owned = match decode_record(&b, &b, &CTX) {
        Err(nom::Err::Error(e)) => e,
        other => panic!("{other:?}"),
    };
    assert_eq!(owned.kind, DecodeErrorKind::InvalidUtf8);
    let (rest, r) = decode_record_ref(&b, &b, &CTX).unwrap();
    assert!(rest.is_empty());
    assert_eq!(r.header_count(), 3);
    let hs: Vec<_> = r.headers().collect();
    assert_eq!(hs.len(), 3);
    assert_eq!(hs[0], Ok(("ok", Some(&b"1"[..]))));
    let e = hs[1].clone().unwrap_err();
    assert_eq!(e.kind, DecodeErrorKind::InvalidUtf8);
    assert_eq!(e.offset, Some(12), "{e}");
    assert_eq!((e.message, e.field), ("Record", "headerKey"));
    // The key's framing was checked, so the iterator goes on with the next header.
    assert_eq!(hs[2], Ok(("z", Some(&b"2"[..]))));
    // Upgrading reports what the owned decode reports, at the same place.
    assert_eq!(r.to_owned_record().unwrap_err(), e);
    assert_eq!(owned.with_base(&b), e);
    // Debug shows the error rather than failing.
    let dbg = format!("{r:?}");
    assert!(
        dbg.contains("InvalidUtf8") && dbg.contains("(\"ok\", Some(b\"1\"))"),
        "{dbg}"
    );
}

#[test]
fn borrowed_decode_refuses_every_truncation() {
    let headers = [
        RecordHeader::new("h", Some(Bytes::from_static(b"vv"))),
        RecordHeader::new("i", None),
    ];
    let b = with_headers(&headers);
    for n in 0..b.len() {
        let cut = b.slice(..n);
        assert!(decode_record_ref(&cut, &cut, &CTX).is_err(), "{n}");
    }
    // A record whose length prefix is kept but whose header bytes are short or long: an
    // error, never a header iterator that runs off its record.
    let mut shorter = b.to_vec();
    shorter[0] -= 2; // one byte less (zig-zag)
    let shorter = Bytes::from(shorter);
    let r = decode_record_ref(&shorter, &shorter, &CTX);
    assert!(r.is_err() || !r.unwrap().0.is_empty());
}

#[test]
fn hostile_header_counts_are_refused_without_walking() {
    // A record whose header count is i32::MAX (and 2^30, and 2) with only a few bytes of
    // headers: refused from the count alone, in both forms, before any header is read.
    for count in [i32::MAX, 1 << 30, 3] {
        let mut body = vec![0u8, 0, 0, 0x01, 0x01];
        let mut c = ((count << 1) ^ (count >> 31)) as u32;
        while c >= 0x80 {
            body.push((c as u8) | 0x80);
            c >>= 7;
        }
        body.push(c as u8);
        body.extend_from_slice(&[0x02, b'k', 0x01]); // one header: "k" -> null
        let mut rec = vec![(body.len() as u8) << 1];
        rec.extend_from_slice(&body);
        let b = Bytes::from(rec);
        let e = match decode_record_ref(&b, &b, &CTX) {
            Err(nom::Err::Error(e)) => e,
            other => panic!("{count}: {other:?}"),
        };
        if count == 3 {
            // Small enough to walk: the missing headers are a length error.
            assert!(
                matches!(e.kind, DecodeErrorKind::LengthTooLarge { .. }),
                "{e}"
            );
        } else {
            assert_eq!(
                e.kind,
                DecodeErrorKind::LengthTooLarge {
                    declared: count as u64,
                    remaining: 3
                }
            );
        }
        match decode_record(&b, &b, &CTX) {
            Err(nom::Err::Error(o)) => assert_eq!(o, e),
            other => panic!("{count}: {other:?}"),
        }
    }
}

#[test]
fn views_of_owned_records() {
    let owned = Record {
        offset: 5,
        timestamp: 6,
        key: None,
        value: Some(Bytes::from_static(b"v")),
        headers: vec![RecordHeader::new("k", None)],
    };
    let r = RecordRef::from(&owned);
    assert_eq!(r, owned);
    assert_eq!(r.header_count(), 1);
    assert_eq!(r.headers().collect::<Vec<_>>(), [Ok(("k", None))]);
    assert_eq!(r.to_owned_record().unwrap(), owned);
    let mut other = owned.clone();
    other.headers[0] = RecordHeader::new("k", Some(Bytes::new()));
    assert_ne!(r, other);
    assert_ne!(other, r);
}
