//! Request frames out, response frames in.
//!
//! ## Format
//!
//! Every request is `int32 length` (bytes that follow), the request header
//! (v1, or v2 for flexible request versions: api key, api version,
//! correlation id, client id, and in v2 tagged fields), then the body.
//! Every response is `int32 length`, the response header (v0: correlation
//! id; v1 adds tagged fields; ApiVersions always uses v0, KIP-511), then the
//! body. The header versions come from `weir_protocol::api`; the encoding
//! from `weir_protocol::header`.

#![deny(clippy::unwrap_used, clippy::indexing_slicing)]

use bytes::{Bytes, BytesMut};
use weir_protocol::codec::{Message, read_i32};
use weir_protocol::header::{decode_response_header, encode_request_frame};
use weir_protocol::messages::RequestHeader;

use crate::error::ClientError;

/// Length of the size prefix in front of every frame.
pub(crate) const LENGTH_PREFIX_LEN: usize = weir_protocol::header::FRAME_LENGTH_PREFIX_BYTES;

/// Encode one request frame (size prefix included).
pub(crate) fn encode_request<M: Message>(
    correlation_id: i32,
    client_id: &str,
    version: i16,
    body: &M,
) -> Result<BytesMut, ClientError> {
    let header = RequestHeader {
        request_api_key: M::API_KEY,
        request_api_version: version,
        correlation_id,
        client_id: Some(client_id.to_owned()),
        ..Default::default()
    };
    Ok(encode_request_frame(&header, body)?)
}

/// The correlation id at the start of a response frame body.
pub(crate) fn peek_correlation_id(frame: &Bytes) -> Result<i32, ClientError> {
    let mut head = frame.slice(..frame.len().min(4));
    Ok(read_i32(&mut head)?)
}

/// Strip the response header of `api_key`/`version` from `frame`, checking
/// the correlation id, and return the body.
pub(crate) fn split_response_header(
    mut frame: Bytes,
    api_key: i16,
    version: i16,
    correlation_id: i32,
) -> Result<Bytes, ClientError> {
    let header = decode_response_header(&mut frame, api_key, version)?;
    if header.correlation_id != correlation_id {
        return Err(ClientError::UnexpectedResponse(
            "correlation id does not match the request",
        ));
    }
    Ok(frame)
}

/// Decode a response body of type `M` in `version`.
pub(crate) fn decode_body<M: Message>(mut body: Bytes, version: i16) -> Result<M, ClientError> {
    Ok(M::decode(&mut body, version)?)
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests fail loudly on purpose")]
mod tests {
    use super::*;
    use weir_protocol::messages::ApiVersionsRequest;

    #[test]
    fn api_versions_v3_request_frame_bytes() {
        let req = ApiVersionsRequest {
            client_software_name: "weir".into(),
            client_software_version: "1".into(),
            ..Default::default()
        };
        let frame = encode_request(7, "cli", 3, &req).unwrap();
        let expected: &[u8] = &[
            0, 0, 0, 22, // length
            0, 18, 0, 3, 0, 0, 0, 7, // key, version, correlation id
            0, 3, b'c', b'l', b'i', // client id (classic string even in header v2)
            0,    // header tagged fields
            5, b'w', b'e', b'i', b'r', 2, b'1', 0, // compact strings, tagged fields
        ];
        assert_eq!(&frame[..], expected);
    }

    #[test]
    fn response_header_is_checked() {
        let frame = Bytes::from_static(&[0, 0, 0, 9, 0xaa]);
        assert_eq!(peek_correlation_id(&frame).unwrap(), 9);
        // ApiVersions: header v0 even in v3.
        let body = split_response_header(frame.clone(), 18, 3, 9).unwrap();
        assert_eq!(&body[..], &[0xaa]);
        assert!(split_response_header(frame, 18, 3, 10).is_err());
        assert!(peek_correlation_id(&Bytes::from_static(&[0, 1])).is_err());
    }
}
