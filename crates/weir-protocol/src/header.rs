//! Request and response frames: the 4-byte length prefix, the header in the
//! version the API and its version call for, and the body.
//!
//! ## Format
//!
//! ```text
//! request:  length:int32 | RequestHeader (v0/v1/v2)  | body
//! response: length:int32 | ResponseHeader (v0/v1)    | body
//! ```
//!
//! `length` counts the bytes after itself. The header version is not on the
//! wire; both ends derive it from the API key and version (see
//! [`crate::api::request_header_version`] and
//! [`crate::api::response_header_version`]). RequestHeader v1 is
//! `api_key:int16 api_version:int16 correlation_id:int32 client_id:nullable string(int16)`;
//! v2 adds a tagged-field section (the client id keeps its int16 length even
//! then, so that any broker can read the header of any ApiVersions request).
//! ResponseHeader v0 is `correlation_id:int32`; v1 adds a tagged-field section.

#![deny(clippy::unwrap_used, clippy::indexing_slicing)]

use bytes::{BufMut, Bytes, BytesMut};

use crate::api::{
    ApiKey, RequestBody, ResponseBody, request_header_version, response_header_version,
    version_range,
};
use crate::codec::{self, Message};
use crate::error::{DecodeError, EncodeError};
use crate::messages::{RequestHeader, ResponseHeader};

/// Bytes of the length prefix in front of every frame.
pub const FRAME_LENGTH_PREFIX_BYTES: usize = 4;

/// The header version to decode a request header with: the version the API
/// calls for, or v1 when the API key or version is unknown. v1 holds
/// everything needed to answer with an error (the correlation id) and never
/// reads past the client id, so an unknown version cannot make it fail.
fn request_header_version_to_decode(api_key: i16, api_version: i16) -> i16 {
    match ApiKey::try_from(api_key) {
        Ok(key) => {
            let (lo, hi) = version_range(key);
            if (lo..=hi).contains(&api_version) {
                request_header_version(api_key, api_version)
            } else {
                1
            }
        }
        Err(_) => 1,
    }
}

/// Decodes a request header from the start of a frame (after the length
/// prefix), advancing `buf` to the body.
pub fn decode_request_header(buf: &mut Bytes) -> Result<RequestHeader, DecodeError> {
    let mut peek = buf.clone();
    let api_key = codec::read_i16(&mut peek)?;
    let api_version = codec::read_i16(&mut peek)?;
    RequestHeader::decode(buf, request_header_version_to_decode(api_key, api_version))
}

/// Decodes a whole request frame (after the length prefix): header, then body.
/// Bytes after the body are ignored, as Kafka does.
pub fn decode_request(mut frame: Bytes) -> Result<(RequestHeader, RequestBody), DecodeError> {
    let header = decode_request_header(&mut frame)?;
    let body = RequestBody::decode(
        header.request_api_key,
        header.request_api_version,
        &mut frame,
    )?;
    Ok((header, body))
}

/// Decodes a response header for a request of `api_key`/`api_version`,
/// advancing `buf` to the body.
pub fn decode_response_header(
    buf: &mut Bytes,
    api_key: i16,
    api_version: i16,
) -> Result<ResponseHeader, DecodeError> {
    ResponseHeader::decode(buf, response_header_version(api_key, api_version))
}

fn frame_length(len: usize) -> Result<i32, EncodeError> {
    i32::try_from(len).map_err(|_| EncodeError::TooLarge { length: len })
}

/// Encodes a length-prefixed response frame: the response header in the
/// version `api_key`/`api_version` call for, then `body`.
pub fn encode_response_frame(
    correlation_id: i32,
    api_key: i16,
    api_version: i16,
    body: &impl Message,
) -> Result<BytesMut, EncodeError> {
    encode_response_with(
        correlation_id,
        api_key,
        api_version,
        body.encoded_len(api_version),
        |buf| body.encode(buf, api_version),
    )
}

/// [`encode_response_frame`] for a [`ResponseBody`].
pub fn encode_response_body_frame(
    correlation_id: i32,
    api_version: i16,
    body: &ResponseBody,
) -> Result<BytesMut, EncodeError> {
    let api_key = body.api_key().as_i16();
    encode_response_with(
        correlation_id,
        api_key,
        api_version,
        body.encoded_len(api_version),
        |buf| body.encode(buf, api_version),
    )
}

fn encode_response_with(
    correlation_id: i32,
    api_key: i16,
    api_version: i16,
    body_len: usize,
    encode_body: impl FnOnce(&mut BytesMut) -> Result<(), EncodeError>,
) -> Result<BytesMut, EncodeError> {
    let header_version = response_header_version(api_key, api_version);
    let header = ResponseHeader {
        correlation_id,
        ..ResponseHeader::default()
    };
    let len = header.encoded_len(header_version) + body_len;
    let mut buf = BytesMut::with_capacity(FRAME_LENGTH_PREFIX_BYTES + len);
    buf.put_i32(frame_length(len)?);
    header.encode(&mut buf, header_version)?;
    encode_body(&mut buf)?;
    debug_assert_eq!(
        buf.len(),
        FRAME_LENGTH_PREFIX_BYTES + len,
        "encoded_len is exact"
    );
    Ok(buf)
}

/// Encodes a length-prefixed request frame: `header` in the version its API
/// key and version call for, then `body` in `header.request_api_version`.
pub fn encode_request_frame(
    header: &RequestHeader,
    body: &impl Message,
) -> Result<BytesMut, EncodeError> {
    let version = header.request_api_version;
    encode_request_with(header, body.encoded_len(version), |buf| {
        body.encode(buf, version)
    })
}

/// [`encode_request_frame`] for a [`RequestBody`].
pub fn encode_request_body_frame(
    header: &RequestHeader,
    body: &RequestBody,
) -> Result<BytesMut, EncodeError> {
    let version = header.request_api_version;
    encode_request_with(header, body.encoded_len(version), |buf| {
        body.encode(buf, version)
    })
}

fn encode_request_with(
    header: &RequestHeader,
    body_len: usize,
    encode_body: impl FnOnce(&mut BytesMut) -> Result<(), EncodeError>,
) -> Result<BytesMut, EncodeError> {
    let header_version = request_header_version(header.request_api_key, header.request_api_version);
    let len = header.encoded_len(header_version) + body_len;
    let mut buf = BytesMut::with_capacity(FRAME_LENGTH_PREFIX_BYTES + len);
    buf.put_i32(frame_length(len)?);
    header.encode(&mut buf, header_version)?;
    encode_body(&mut buf)?;
    debug_assert_eq!(
        buf.len(),
        FRAME_LENGTH_PREFIX_BYTES + len,
        "encoded_len is exact"
    );
    Ok(buf)
}
