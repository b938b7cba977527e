//! Golden bytes: hand-written requests and responses with known field values,
//! and request frames captured from real clients (`tests/fixtures/`).

use bytes::{Bytes, BytesMut};
use weir_protocol::api::{ApiKey, RequestBody, request_header_version, response_header_version};
use weir_protocol::codec::{Message, Uuid};
use weir_protocol::error::DecodeError;
use weir_protocol::header::{
    decode_request, decode_request_header, decode_response_header, encode_request_frame,
    encode_response_frame,
};
use weir_protocol::messages::api_versions_response::ApiVersion;
use weir_protocol::messages::metadata_request::MetadataRequestTopic;
use weir_protocol::messages::{
    ApiVersionsRequest, ApiVersionsResponse, MetadataRequest, RequestHeader,
};

/// ApiVersions v3 as librdkafka 2.0.2 (kcat 1.7.1) sends it, without the length prefix.
const LIBRDKAFKA_API_VERSIONS_V3: &[u8] = &[
    0x00, 0x12, // api key 18
    0x00, 0x03, // version 3
    0x00, 0x00, 0x00, 0x01, // correlation id 1
    0x00, 0x07, b'r', b'd', b'k', b'a', b'f', b'k',
    b'a', // client id, int16 length even in header v2
    0x00, // header tagged fields
    0x0b, b'l', b'i', b'b', b'r', b'd', b'k', b'a', b'f', b'k',
    b'a', // compact string, 10 + 1
    0x06, b'2', b'.', b'0', b'.', b'2', // compact string, 5 + 1
    0x00, // body tagged fields
];

fn with_length_prefix(frame: &[u8]) -> Vec<u8> {
    let mut v = (frame.len() as i32).to_be_bytes().to_vec();
    v.extend_from_slice(frame);
    v
}

#[test]
fn librdkafka_api_versions_v3_request() {
    let (header, body) = decode_request(Bytes::from_static(LIBRDKAFKA_API_VERSIONS_V3)).unwrap();
    assert_eq!(header.request_api_key, 18);
    assert_eq!(header.request_api_version, 3);
    assert_eq!(header.correlation_id, 1);
    assert_eq!(header.client_id.as_deref(), Some("rdkafka"));
    let RequestBody::ApiVersions(req) = &body else {
        panic!("wrong body {body:?}")
    };
    assert_eq!(req.client_software_name, "librdkafka");
    assert_eq!(req.client_software_version, "2.0.2");
    assert_eq!(body.api_key(), ApiKey::ApiVersions);

    let frame = encode_request_frame(&header, req).unwrap();
    assert_eq!(
        &frame[..],
        &with_length_prefix(LIBRDKAFKA_API_VERSIONS_V3)[..]
    );
}

#[test]
fn metadata_v1_request_with_topics_and_null() {
    let bytes: &[u8] = &[
        0x00, 0x03, 0x00, 0x01, // Metadata v1
        0x00, 0x00, 0x00, 0x07, // correlation id 7
        0x00, 0x04, b'w', b'e', b'i', b'r', // client id
        0x00, 0x00, 0x00, 0x02, // two topics
        0x00, 0x01, b'a', //
        0x00, 0x02, b'b', b'c',
    ];
    let (header, body) = decode_request(Bytes::from_static(bytes)).unwrap();
    assert_eq!(header.correlation_id, 7);
    assert_eq!(header.client_id.as_deref(), Some("weir"));
    let RequestBody::Metadata(req) = body else {
        panic!("wrong body")
    };
    let names: Vec<_> = req
        .topics
        .as_ref()
        .unwrap()
        .iter()
        .map(|t| t.name.clone().unwrap())
        .collect();
    assert_eq!(names, ["a", "bc"]);
    // Fields absent in v1 keep their spec defaults.
    assert!(req.allow_auto_topic_creation);
    assert_eq!(req.topics.as_ref().unwrap()[0].topic_id, Uuid::ZERO);

    // A null topic array (all topics) is valid from v1 and stays null.
    let mut null_topics = Bytes::from_static(&[0xff, 0xff, 0xff, 0xff]);
    let req = MetadataRequest::decode(&mut null_topics, 1).unwrap();
    assert_eq!(req.topics, None);
    let mut out = BytesMut::new();
    req.encode(&mut out, 1).unwrap();
    assert_eq!(&out[..], &[0xff, 0xff, 0xff, 0xff]);
    // ... but not in v0.
    let mut null_topics = Bytes::from_static(&[0xff, 0xff, 0xff, 0xff]);
    assert_eq!(
        MetadataRequest::decode(&mut null_topics, 0),
        Err(DecodeError::NegativeLength(-1))
    );
    assert!(
        MetadataRequest {
            topics: None,
            ..Default::default()
        }
        .encode(&mut BytesMut::new(), 0)
        .is_err()
    );
}

#[test]
fn metadata_v12_request_is_compact_with_topic_ids() {
    let req = MetadataRequest {
        topics: Some(vec![MetadataRequestTopic {
            topic_id: Uuid::ZERO,
            name: Some("t".into()),
            ..Default::default()
        }]),
        allow_auto_topic_creation: false,
        include_topic_authorized_operations: true,
        ..Default::default()
    };
    let mut out = BytesMut::new();
    req.encode(&mut out, 12).unwrap();
    let mut expected = vec![0x02]; // compact array, 1 + 1
    expected.extend_from_slice(&[0; 16]); // topic id
    expected.extend_from_slice(&[0x02, b't', 0x00]); // compact name, topic tagged fields
    expected.extend_from_slice(&[0x00, 0x01, 0x00]); // allow auto create, include topic ops, tagged
    assert_eq!(&out[..], &expected[..]);
    assert_eq!(req.encoded_len(12), expected.len());
}

#[test]
fn api_versions_response_header_is_v0_even_when_flexible() {
    let resp = ApiVersionsResponse {
        error_code: 0,
        api_keys: vec![ApiVersion {
            api_key: 0,
            min_version: 0,
            max_version: 11,
            ..Default::default()
        }],
        ..Default::default()
    };
    let frame = encode_response_frame(5, 18, 3, &resp).unwrap();
    let expected: &[u8] = &[
        0x00, 0x00, 0x00, 0x13, // length 19
        0x00, 0x00, 0x00, 0x05, // correlation id, header v0: no tagged fields
        0x00, 0x00, // error code
        0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0b, 0x00, // one api key 0, 0-11
        0x00, 0x00, 0x00, 0x00, // throttle time
        0x00, // no tagged fields: all are at their defaults
    ];
    assert_eq!(&frame[..], expected);
    assert_eq!(response_header_version(18, 3), 0);
    assert_eq!(response_header_version(3, 12), 1);
    assert_eq!(response_header_version(3, 8), 0);

    let mut rest = Bytes::copy_from_slice(&frame[4..]);
    let header = decode_response_header(&mut rest, 18, 3).unwrap();
    assert_eq!(header.correlation_id, 5);
    assert_eq!(ApiVersionsResponse::decode(&mut rest, 3).unwrap(), resp);
}

#[test]
fn tagged_fields_are_written_only_when_not_default() {
    let resp = ApiVersionsResponse {
        finalized_features_epoch: 7,
        ..Default::default()
    };
    let mut out = BytesMut::new();
    resp.encode(&mut out, 3).unwrap();
    let expected: &[u8] = &[
        0x00, 0x00, // error code
        0x01, // empty api keys
        0x00, 0x00, 0x00, 0x00, // throttle
        0x01, // one tagged field
        0x01, 0x08, 0, 0, 0, 0, 0, 0, 0, 7, // tag 1, size 8, epoch 7
    ];
    assert_eq!(&out[..], expected);
}

#[test]
fn unknown_tagged_fields_survive_a_round_trip() {
    let mut bytes = BytesMut::from(&LIBRDKAFKA_API_VERSIONS_V3[18..]);
    // Replace the empty tagged section with one unknown tag 9 of two bytes.
    bytes.truncate(bytes.len() - 1);
    bytes.extend_from_slice(&[0x01, 0x09, 0x02, 0xab, 0xcd]);
    let raw = bytes.freeze();
    let req = ApiVersionsRequest::decode(&mut raw.clone(), 3).unwrap();
    assert_eq!(
        req.unknown_tagged_fields,
        vec![(9, Bytes::from_static(&[0xab, 0xcd]))]
    );
    let mut out = BytesMut::new();
    req.encode(&mut out, 3).unwrap();
    assert_eq!(out.freeze(), raw);
}

#[test]
fn header_versions() {
    assert_eq!(request_header_version(7, 0), 0); // ControlledShutdown v0
    assert_eq!(request_header_version(7, 1), 1);
    assert_eq!(request_header_version(18, 3), 2);
    assert_eq!(request_header_version(18, 2), 1);
    assert_eq!(request_header_version(0, 9), 2);
    assert_eq!(request_header_version(0, 8), 1);
    assert_eq!(request_header_version(i16::MAX, 0), 1);
}

#[test]
fn unknown_api_key_header_still_yields_correlation_id() {
    let bytes: &[u8] = &[
        0x7f, 0x00, 0x00, 0x05, // key 32512, version 5
        0x00, 0x00, 0x00, 0x2a, // correlation id 42
        0xff, 0xff, // null client id
        0x01, 0x02, 0x03,
    ];
    let mut buf = Bytes::from_static(bytes);
    let header = decode_request_header(&mut buf).unwrap();
    assert_eq!(header.correlation_id, 42);
    assert_eq!(header.client_id, None);
    assert_eq!(
        decode_request(Bytes::from_static(bytes)).unwrap_err(),
        DecodeError::UnknownApiKey(0x7f00)
    );
    // A known key in a version the specs do not define.
    let bytes: &[u8] = &[0x00, 0x12, 0x00, 0x63, 0, 0, 0, 9, 0x00, 0x01, b'x', 0x99];
    let mut buf = Bytes::from_static(bytes);
    let header = decode_request_header(&mut buf).unwrap();
    assert_eq!((header.request_api_version, header.correlation_id), (99, 9));
    assert_eq!(
        decode_request(Bytes::from_static(bytes)).unwrap_err(),
        DecodeError::UnsupportedVersion {
            api_key: 18,
            version: 99
        }
    );
}

#[test]
fn request_frame_round_trip_for_header_v0() {
    // ControlledShutdown v0 uses request header v0: no client id.
    let header = RequestHeader {
        request_api_key: 7,
        request_api_version: 0,
        correlation_id: 3,
        client_id: Some("ignored".into()),
        ..Default::default()
    };
    let body = weir_protocol::messages::ControlledShutdownRequest {
        broker_id: 1,
        ..Default::default()
    };
    let frame = encode_request_frame(&header, &body).unwrap();
    assert_eq!(
        &frame[..],
        &[0, 0, 0, 12, 0, 7, 0, 0, 0, 0, 0, 3, 0, 0, 0, 1]
    );
}

// ---------------------------------------------------------------------------
// Captured client frames

fn fixtures() -> Vec<(String, Bytes)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut out: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "bin"))
        .map(|p| {
            let name = p.file_stem().unwrap().to_string_lossy().into_owned();
            (name, Bytes::from(std::fs::read(&p).unwrap()))
        })
        .collect();
    out.sort();
    out
}

/// `<client>_<ApiName>_v<version>[_<variant>]`
fn api_and_version(name: &str) -> (String, i16) {
    let parts: Vec<&str> = name.split('_').collect();
    let v = parts
        .iter()
        .position(|p| p.starts_with('v') && p[1..].parse::<i16>().is_ok())
        .unwrap();
    (parts[v - 1].to_string(), parts[v][1..].parse().unwrap())
}

#[test]
fn captured_client_requests_decode_and_re_encode_byte_for_byte() {
    let all = fixtures();
    assert!(!all.is_empty(), "no fixtures found");
    for (name, bytes) in all {
        let (api, version) = api_and_version(&name);
        let (header, body) =
            decode_request(bytes.clone()).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(body.api_key().name(), api, "{name}");
        assert_eq!(header.request_api_version, version, "{name}");
        let mut out = BytesMut::new();
        header
            .encode(
                &mut out,
                request_header_version(header.request_api_key, version),
            )
            .unwrap();
        body.encode(&mut out, version).unwrap();
        assert_eq!(
            header.encoded_len(request_header_version(header.request_api_key, version))
                + body.encoded_len(version),
            bytes.len(),
            "{name}"
        );
        assert_eq!(&out[..], &bytes[..], "{name}: re-encoded bytes differ");
    }
}

#[test]
fn captured_produce_requests_keep_record_batches_as_sent() {
    for (name, bytes) in fixtures()
        .into_iter()
        .filter(|(n, _)| n.contains("_Produce_"))
    {
        let (_, body) = decode_request(bytes.clone()).unwrap();
        let RequestBody::Produce(req) = body else {
            panic!("{name}")
        };
        assert!(!req.topic_data.is_empty(), "{name}");
        for topic in &req.topic_data {
            for p in &topic.partition_data {
                let records = p.records.as_ref().unwrap();
                // Record batch v2: magic byte 2 at offset 16.
                assert_eq!(records.get(16), Some(&2u8), "{name}");
                // Zero-copy: the records slice points into the frame's buffer.
                let frame_range = bytes.as_ptr() as usize..bytes.as_ptr() as usize + bytes.len();
                assert!(frame_range.contains(&(records.as_ptr() as usize)), "{name}");
            }
        }
    }
}

#[test]
fn captured_create_topics_fields() {
    let Some((_, bytes)) = fixtures()
        .into_iter()
        .find(|(n, _)| n == "kafka-python_CreateTopics_v7")
    else {
        return;
    };
    let (_, body) = decode_request(bytes).unwrap();
    let RequestBody::CreateTopics(req) = body else {
        panic!()
    };
    let t = &req.topics[0];
    assert_eq!(t.name, "capture-topic");
    assert_eq!(t.num_partitions, 3);
    assert_eq!(t.replication_factor, 1);
    assert_eq!(t.configs[0].name, "retention.ms");
    assert_eq!(t.configs[0].value.as_deref(), Some("604800000"));
}
