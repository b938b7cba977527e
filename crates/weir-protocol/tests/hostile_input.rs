//! Untrusted bytes: huge counts and lengths, truncated and mutated bodies,
//! random bytes for every API and version. Decoding must return an error (or
//! a value) without panicking and without allocating more than a small
//! multiple of the input.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::time::{Duration, Instant};

use bytes::Bytes;
use proptest::prelude::*;
use weir_protocol::api::{ApiKey, RequestBody, ResponseBody, version_range};
use weir_protocol::codec::Message;
use weir_protocol::error::DecodeError;
use weir_protocol::header::decode_request;
use weir_protocol::messages::testing::Rng;
use weir_protocol::messages::{ALL_MESSAGES, FetchResponse, MetadataRequest, ProduceRequest};

// ---------------------------------------------------------------------------
// Allocation accounting: the largest single allocation made by this thread.

struct Counting;

thread_local! {
    static LARGEST_ALLOCATION: Cell<usize> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = LARGEST_ALLOCATION.try_with(|c| c.set(c.get().max(layout.size())));
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = LARGEST_ALLOCATION.try_with(|c| c.set(c.get().max(new_size)));
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Runs `f` and returns its result with the largest single allocation it made.
fn largest_allocation<T>(f: impl FnOnce() -> T) -> (T, usize) {
    LARGEST_ALLOCATION.with(|c| c.set(0));
    let out = f();
    (out, LARGEST_ALLOCATION.with(Cell::get))
}

/// The allocation a decode of `input_len` bytes may make: the in-memory form
/// of an element can be a few dozen times its smallest wire form (an empty
/// compact string is 1 byte on the wire and a 24-byte `String`), and at most
/// `MAX_PREALLOCATED_ELEMENTS` elements are reserved before they decode.
fn allocation_budget(input_len: usize) -> usize {
    256 * 1024 + 256 * input_len
}

// ---------------------------------------------------------------------------

#[test]
fn metadata_count_i32_max_is_rejected_instantly() {
    let start = Instant::now();
    for version in 0..=12 {
        let body: &[u8] = if version >= 9 {
            &[0xff, 0xff, 0xff, 0xff, 0x0f] // compact count u32::MAX - 1
        } else {
            &[0x7f, 0xff, 0xff, 0xff]
        };
        let (r, largest) =
            largest_allocation(|| MetadataRequest::decode(&mut Bytes::from_static(body), version));
        assert!(
            matches!(r, Err(DecodeError::LengthTooLarge { .. })),
            "v{version}: {r:?}"
        );
        assert!(largest < 4096, "v{version} allocated {largest} bytes");
    }
    assert!(start.elapsed() < Duration::from_secs(1));
}

#[test]
fn huge_string_and_records_lengths_are_rejected() {
    // Produce v3: transactional_id (nullable string), acks, timeout, topic array.
    let body: &[u8] = &[0x7f, 0xff, b'x'];
    assert!(matches!(
        ProduceRequest::decode(&mut Bytes::from_static(body), 3),
        Err(DecodeError::LengthTooLarge { .. })
    ));
    // Produce v3 with one topic "t", one partition whose records claim i32::MAX bytes.
    let body: &[u8] = &[
        0xff, 0xff, // null transactional id
        0x00, 0x01, // acks
        0x00, 0x00, 0x75, 0x30, // timeout
        0x00, 0x00, 0x00, 0x01, 0x00, 0x01, b't', // one topic "t"
        0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, // one partition, index 0
        0x7f, 0xff, 0xff, 0xff, 0x00, // records length i32::MAX, one byte present
    ];
    let (r, largest) =
        largest_allocation(|| ProduceRequest::decode(&mut Bytes::from_static(body), 3));
    assert!(
        matches!(r, Err(DecodeError::LengthTooLarge { .. })),
        "{r:?}"
    );
    assert!(largest < 4096);
    // A non-nullable string with a negative length.
    let body: &[u8] = &[0x80, 0x00];
    assert_eq!(
        weir_protocol::messages::FindCoordinatorRequest::decode(&mut Bytes::from_static(body), 0),
        Err(DecodeError::NegativeLength(-32768))
    );
    // Invalid UTF-8.
    let body: &[u8] = &[0x00, 0x02, 0xc3, 0x28];
    assert_eq!(
        weir_protocol::messages::FindCoordinatorRequest::decode(&mut Bytes::from_static(body), 0),
        Err(DecodeError::InvalidUtf8)
    );
}

#[test]
fn an_array_count_the_body_could_hold_is_not_preallocated_in_full() {
    use weir_protocol::messages::fetch_response::PartitionData;
    // FetchResponse v4: throttle, one topic "t", then 3000 partitions: a count
    // the remaining bytes can hold (each takes at least 30 bytes), but the
    // first partition's records claim more bytes than there are.
    let count: usize = 3000;
    let mut body = vec![0, 0, 0, 0, 0, 0, 0, 1, 0, 1, b't'];
    body.extend_from_slice(&(count as u32).to_be_bytes());
    body.extend_from_slice(&[0; 4 + 2 + 8 + 8]); // index, error, high watermark, LSO
    body.extend_from_slice(&[0xff, 0xff, 0xff, 0xff]); // null aborted transactions
    body.extend_from_slice(&[0x7f, 0xff, 0xff, 0xf0]); // records length
    body.resize(body.len() + count * 30, 0);
    let input = Bytes::from(body);
    let (r, largest) = largest_allocation(|| FetchResponse::decode(&mut input.clone(), 4));
    assert!(
        matches!(r, Err(DecodeError::LengthTooLarge { .. })),
        "{r:?}"
    );
    let reserved_elements = largest / std::mem::size_of::<PartitionData>();
    assert!(
        reserved_elements <= weir_protocol::codec::MAX_PREALLOCATED_ELEMENTS,
        "reserved {reserved_elements} elements up front"
    );
}

#[test]
fn every_truncation_of_every_message_is_an_error() {
    let mut checked = 0;
    for case in ALL_MESSAGES {
        for version in case.min_version..=case.max_version {
            for seed in 0..4u64 {
                let full = (case.arbitrary_bytes)(seed, version);
                for cut in 0..full.len() {
                    let mut prefix = full.slice(..cut);
                    let r = (case.decode)(&mut prefix, version);
                    assert!(
                        matches!(
                            r,
                            Err(DecodeError::UnexpectedEof { .. }
                                | DecodeError::LengthTooLarge { .. })
                        ),
                        "{} v{version} seed {seed} cut at {cut} of {}: {r:?}",
                        case.name,
                        full.len()
                    );
                    checked += 1;
                }
            }
        }
    }
    assert!(checked > 10_000, "only {checked} truncations");
}

#[test]
fn mutated_messages_never_panic_or_over_allocate() {
    for case in ALL_MESSAGES {
        for version in case.min_version..=case.max_version {
            let mut rng = Rng::new(u64::from(case.api_key as u16) << 16 | version as u64);
            for seed in 0..16u64 {
                let full = (case.arbitrary_bytes)(seed, version);
                if full.is_empty() {
                    continue;
                }
                let mut bytes = full.to_vec();
                for _ in 0..1 + rng.next_u64() % 4 {
                    let i = (rng.next_u64() % bytes.len() as u64) as usize;
                    bytes[i] = match rng.next_u64() % 4 {
                        0 => 0xff,
                        1 => 0x7f,
                        2 => 0x00,
                        _ => rng.next_u64() as u8,
                    };
                }
                let len = bytes.len();
                let input = Bytes::from(bytes);
                let (_, largest) =
                    largest_allocation(|| (case.decode)(&mut input.clone(), version));
                assert!(
                    largest <= allocation_budget(len),
                    "{} v{version}: {largest} bytes allocated for {len} input bytes",
                    case.name
                );
            }
        }
    }
}

#[test]
fn unknown_versions_and_keys_are_errors() {
    let body = Bytes::from_static(&[0; 64]);
    for &key in ApiKey::ALL {
        let (lo, hi) = version_range(key);
        for version in [lo - 1, hi + 1, i16::MIN, i16::MAX] {
            assert_eq!(
                RequestBody::decode(key.as_i16(), version, &mut body.clone()),
                Err(DecodeError::UnsupportedVersion {
                    api_key: key.as_i16(),
                    version
                })
            );
        }
    }
    assert_eq!(
        RequestBody::decode(-1, 0, &mut body.clone()),
        Err(DecodeError::UnknownApiKey(-1))
    );
}

fn all_key_versions() -> Vec<(i16, i16)> {
    ApiKey::ALL
        .iter()
        .flat_map(|&k| {
            let (lo, hi) = version_range(k);
            (lo..=hi).map(move |v| (k.as_i16(), v))
        })
        .collect()
}

#[test]
fn hostile_patterns_for_every_api_and_version() {
    let patterns: Vec<Vec<u8>> = vec![
        vec![],
        vec![0x7f, 0xff, 0xff, 0xff],
        vec![0xff; 64],
        vec![0x7f; 64],
        vec![0x80; 64],
        [0x00, 0x00, 0x00, 0x01].repeat(16),
        [0xff, 0xff, 0xff, 0xff, 0x0f].repeat(8),
        vec![0x00; 256],
    ];
    for (key, version) in all_key_versions() {
        for p in &patterns {
            let input = Bytes::from(p.clone());
            let (_, a) = largest_allocation(|| {
                let _ = RequestBody::decode(key, version, &mut input.clone());
                let _ = ResponseBody::decode(key, version, &mut input.clone());
            });
            assert!(a <= allocation_budget(p.len()), "key {key} v{version}: {a}");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4000))]

    #[test]
    fn random_bytes_for_any_request(index: usize, bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let pairs = all_key_versions();
        let (key, version) = pairs[index % pairs.len()];
        let input = Bytes::from(bytes);
        let len = input.len();
        let (_, a) = largest_allocation(|| {
            let _ = RequestBody::decode(key, version, &mut input.clone());
            let _ = ResponseBody::decode(key, version, &mut input.clone());
        });
        prop_assert!(a <= allocation_budget(len));
    }

    #[test]
    fn random_request_frames(header in proptest::collection::vec(any::<u8>(), 0..2), index: usize,
                             body in proptest::collection::vec(any::<u8>(), 0..256)) {
        // A valid-looking header for a real key/version, then random bytes.
        let pairs = all_key_versions();
        let (key, version) = pairs[index % pairs.len()];
        let mut frame = Vec::new();
        frame.extend_from_slice(&key.to_be_bytes());
        frame.extend_from_slice(&version.to_be_bytes());
        frame.extend_from_slice(&[0, 0, 0, 1, 0, 0]);
        if weir_protocol::api::request_header_version(key, version) == 2 {
            frame.push(0);
        }
        frame.extend_from_slice(&header);
        frame.extend_from_slice(&body);
        let _ = decode_request(Bytes::from(frame));
    }
}

/// What `fuzz/fuzz_targets/decode_request.rs` checks, on mutations of the
/// captured client frames: whatever decodes re-encodes (with an exact
/// `encoded_len`) and decodes to the same value.
fn decode_re_encode_decode(frame: Bytes) {
    use bytes::BytesMut;
    use weir_protocol::api::request_header_version;
    use weir_protocol::error::EncodeError;
    let Ok((header, body)) = decode_request(frame) else {
        return;
    };
    let version = header.request_api_version;
    let header_version = request_header_version(header.request_api_key, version);
    let mut out = BytesMut::new();
    match header
        .encode(&mut out, header_version)
        .and_then(|()| body.encode(&mut out, version))
    {
        Ok(()) => {}
        Err(EncodeError::TooLarge { .. }) => return,
        Err(e) => panic!("decoded request does not encode: {e}"),
    }
    assert_eq!(
        out.len(),
        header.encoded_len(header_version) + body.encoded_len(version)
    );
    let (header2, body2) = decode_request(out.freeze()).expect("re-decode");
    assert_eq!(header, header2);
    assert_eq!(body, body2);
}

#[test]
fn mutated_client_frames_decode_re_encode_and_decode_the_same() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut frames: Vec<Vec<u8>> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "bin"))
        .map(|p| std::fs::read(p).unwrap())
        .collect();
    frames.sort();
    assert!(!frames.is_empty());
    let mut rng = Rng::new(7);
    for frame in &frames {
        decode_re_encode_decode(Bytes::from(frame.clone()));
        for _ in 0..2000 {
            let mut bytes = frame.clone();
            for _ in 0..1 + rng.next_u64() % 3 {
                let i = (rng.next_u64() % bytes.len() as u64) as usize;
                bytes[i] = rng.next_u64() as u8;
            }
            if rng.next_u64().is_multiple_of(4) {
                bytes.truncate((rng.next_u64() % bytes.len() as u64) as usize);
            }
            decode_re_encode_decode(Bytes::from(bytes));
        }
    }
}
