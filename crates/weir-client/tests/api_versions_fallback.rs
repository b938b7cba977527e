//! KIP-511 against a scripted broker: the client opens with ApiVersions v3;
//! a broker that does not know v3 answers UNSUPPORTED_VERSION in a v0 body
//! listing its ranges, and the client retries with the highest version both
//! know, then uses the broker's ranges for every other API.

#![allow(clippy::unwrap_used, clippy::indexing_slicing, missing_docs)]

use bytes::{BufMut, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use weir_client::messages::Message;
use weir_client::messages::api_versions_response::{ApiVersion, ApiVersionsResponse};
use weir_client::{ApiKey, Connection, ConnectionTimeouts};

/// Read one request frame; returns (api key, version, correlation id).
async fn read_request(sock: &mut tokio::net::TcpStream) -> (i16, i16, i32) {
    let len = sock.read_i32().await.unwrap();
    let mut body = vec![0u8; usize::try_from(len).unwrap()];
    sock.read_exact(&mut body).await.unwrap();
    let key = i16::from_be_bytes([body[0], body[1]]);
    let version = i16::from_be_bytes([body[2], body[3]]);
    let cid = i32::from_be_bytes([body[4], body[5], body[6], body[7]]);
    (key, version, cid)
}

/// Write a response with header v0 (ApiVersions always uses it).
async fn write_response(
    sock: &mut tokio::net::TcpStream,
    cid: i32,
    body: &ApiVersionsResponse,
    version: i16,
) {
    let mut payload = BytesMut::new();
    payload.put_i32(cid);
    body.encode(&mut payload, version).unwrap();
    let mut frame = BytesMut::new();
    frame.put_i32(i32::try_from(payload.len()).unwrap());
    frame.extend_from_slice(&payload);
    sock.write_all(&frame).await.unwrap();
}

fn ranges() -> Vec<ApiVersion> {
    [(0, 0, 9), (1, 0, 11), (3, 0, 8), (18, 0, 2)]
        .into_iter()
        .map(|(api_key, min_version, max_version)| ApiVersion {
            api_key,
            min_version,
            max_version,
            ..Default::default()
        })
        .collect()
}

#[tokio::test]
async fn falls_back_when_api_versions_v3_is_unknown() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let broker = tokio::spawn(async move {
        let (mut sock, _) = listener.accept().await.unwrap();
        let mut seen = Vec::new();
        let (key, version, cid) = read_request(&mut sock).await;
        seen.push((key, version));
        let refusal = ApiVersionsResponse {
            error_code: 35,
            api_keys: ranges(),
            ..Default::default()
        };
        write_response(&mut sock, cid, &refusal, 0).await;
        let (key, version, cid) = read_request(&mut sock).await;
        seen.push((key, version));
        let answer = ApiVersionsResponse {
            error_code: 0,
            api_keys: ranges(),
            ..Default::default()
        };
        write_response(&mut sock, cid, &answer, version).await;
        seen
    });

    let conn = Connection::connect(&addr, "fallback-test", ConnectionTimeouts::default())
        .await
        .unwrap();
    assert_eq!(broker.await.unwrap(), vec![(18, 3), (18, 2)]);
    assert_eq!(conn.version(ApiKey::Produce).unwrap(), 9);
    assert_eq!(conn.version(ApiKey::Fetch).unwrap(), 11);
    assert_eq!(conn.version(ApiKey::Metadata).unwrap(), 8);
    assert!(
        conn.version(ApiKey::CreateTopics).is_err(),
        "not advertised"
    );
}

#[tokio::test]
async fn a_broker_that_closes_fails_pending_requests() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        let (mut sock, _) = listener.accept().await.unwrap();
        let _ = read_request(&mut sock).await;
        // Close without answering.
    });
    let err = Connection::connect(&addr, "t", ConnectionTimeouts::default())
        .await
        .unwrap_err();
    assert!(
        matches!(err, weir_client::ClientError::ConnectionClosed { .. }),
        "{err:?}"
    );
}
