//! Arbitrary bytes as a request frame (after the length prefix): decoding must
//! never panic, and whatever decodes must encode again and decode to the same
//! value.

#![no_main]

use bytes::{Bytes, BytesMut};
use libfuzzer_sys::fuzz_target;
use weir_protocol::api::{RequestBody, request_header_version};
use weir_protocol::codec::Message;
use weir_protocol::error::EncodeError;
use weir_protocol::header::decode_request;

fuzz_target!(|data: &[u8]| {
    let Ok((header, body)) = decode_request(Bytes::copy_from_slice(data)) else {
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
        // A compact string may be longer than the 32767 bytes Kafka allows
        // when encoding; that is the only encode failure a decoded value may hit.
        Err(EncodeError::TooLarge { .. }) => return,
        Err(e) => panic!("decoded request does not encode: {e}"),
    }
    assert_eq!(
        out.len(),
        header.encoded_len(header_version) + body.encoded_len(version)
    );
    let (header2, body2): (_, RequestBody) = decode_request(out.freeze()).expect("re-decode");
    assert_eq!(header, header2);
    assert_eq!(body, body2);
});
