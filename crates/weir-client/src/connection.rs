//! One TCP connection to one broker, with pipelining and version negotiation.
//!
//! ## Invariants
//!
//! * Requests are written whole, one at a time, under the writer lock, so
//!   several tasks may send concurrently (pipelining) without interleaving
//!   bytes. A waiter is registered under its correlation id *before* the
//!   request is written, so the reader never sees a response nobody waits for
//!   (except for requests that already timed out).
//! * Only the reader task reads the socket. It hands each response frame to
//!   the waiter with its correlation id; when the socket fails or closes it
//!   marks the connection closed and fails every waiter, and no waiter is
//!   registered after that.
//! * At most [`IN_FLIGHT_MAX`] requests wait for a response at once; further
//!   senders wait for a slot. Response frames are bounded by
//!   [`RESPONSE_FRAME_MAX_BYTES`].

#![deny(clippy::unwrap_used, clippy::indexing_slicing)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::{Semaphore, oneshot};
use tokio::task::JoinHandle;
use weir_protocol::api::ApiKey;
use weir_protocol::codec::Message;
use weir_protocol::messages::{ApiVersionsRequest, ApiVersionsResponse};

use crate::error::{ClientError, UNSUPPORTED_VERSION, check_code};
use crate::frame::{
    LENGTH_PREFIX_LEN, decode_body, encode_request, peek_correlation_id, split_response_header,
};
use crate::versions::{API_VERSIONS_FIRST, BrokerVersions, api_versions_fallback};

/// Requests that may wait for a response on one connection at once.
pub const IN_FLIGHT_MAX: usize = 32;

/// Largest response frame accepted (a Fetch response is bounded by the
/// consumer's `max_bytes`, which must stay below this).
pub const RESPONSE_FRAME_MAX_BYTES: usize = 256 * 1024 * 1024;

/// Timeouts of one connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionTimeouts {
    /// How long to wait for the TCP connection.
    pub connect: Duration,
    /// How long to wait for each response (on top of any time the request
    /// itself asks the broker to wait, such as Fetch's `max_wait_ms`).
    pub request: Duration,
}

impl Default for ConnectionTimeouts {
    fn default() -> Self {
        ConnectionTimeouts {
            connect: Duration::from_secs(10),
            request: Duration::from_secs(30),
        }
    }
}

type Waiter = oneshot::Sender<Result<Bytes, ClientError>>;

#[derive(Default)]
struct Pending {
    waiters: HashMap<i32, Waiter>,
    closed: bool,
}

struct Shared {
    addr: String,
    pending: Mutex<Pending>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Pending> {
        // A panic while holding this lock leaves the map consistent (every
        // operation is a single insert or remove), so poisoning is ignored.
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn close(&self) {
        let waiters = {
            let mut p = self.lock();
            p.closed = true;
            std::mem::take(&mut p.waiters)
        };
        for (_, w) in waiters {
            let _ = w.send(Err(ClientError::ConnectionClosed {
                addr: self.addr.clone(),
            }));
        }
    }
}

/// A connection to one broker.
///
/// Created by [`Connection::connect`], which also negotiates API versions.
/// Methods take `&self`; concurrent calls are pipelined on the socket.
pub struct Connection {
    addr: String,
    client_id: String,
    timeouts: ConnectionTimeouts,
    shared: Arc<Shared>,
    writer: tokio::sync::Mutex<OwnedWriteHalf>,
    next_correlation_id: AtomicI32,
    in_flight: Semaphore,
    versions: BrokerVersions,
    reader: JoinHandle<()>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("addr", &self.addr)
            .field("closed", &self.is_closed())
            .finish_non_exhaustive()
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

impl Connection {
    /// Connect to `addr` (`host:port`) and negotiate API versions.
    pub async fn connect(
        addr: &str,
        client_id: &str,
        timeouts: ConnectionTimeouts,
    ) -> Result<Connection, ClientError> {
        let io_err = |source| ClientError::Io {
            addr: addr.to_owned(),
            source: Arc::new(source),
        };
        let stream = tokio::time::timeout(timeouts.connect, TcpStream::connect(addr))
            .await
            .map_err(|_| ClientError::Timeout {
                what: "connect",
                after_ms: millis(timeouts.connect),
            })?
            .map_err(io_err)?;
        stream.set_nodelay(true).map_err(io_err)?;
        let (rd, wr) = stream.into_split();
        let shared = Arc::new(Shared {
            addr: addr.to_owned(),
            pending: Mutex::new(Pending::default()),
        });
        let reader = tokio::spawn(read_loop(rd, shared.clone()));
        let mut conn = Connection {
            addr: addr.to_owned(),
            client_id: client_id.to_owned(),
            timeouts,
            shared,
            writer: tokio::sync::Mutex::new(wr),
            next_correlation_id: AtomicI32::new(0),
            in_flight: Semaphore::new(IN_FLIGHT_MAX),
            versions: BrokerVersions::default(),
            reader,
        };
        conn.versions = conn.negotiate_versions().await?;
        tracing::debug!(addr, "connected");
        Ok(conn)
    }

    /// `host:port` of the broker.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// The broker's advertised API versions.
    pub fn broker_versions(&self) -> &BrokerVersions {
        &self.versions
    }

    /// The version of `api` to use with this broker.
    pub fn version(&self, api: ApiKey) -> Result<i16, ClientError> {
        self.versions.require(api)
    }

    /// Whether the socket has closed (the connection is then useless).
    pub fn is_closed(&self) -> bool {
        self.shared.lock().closed
    }

    /// Send `req` in the negotiated version of its API and wait for the
    /// response. Returns the version used with the response.
    pub async fn send<Req: Message, Resp: Message>(
        &self,
        req: &Req,
    ) -> Result<(i16, Resp), ClientError> {
        let api = ApiKey::try_from(Req::API_KEY)
            .map_err(|_| ClientError::UnexpectedResponse("request type has no API key"))?;
        let version = self.version(api)?;
        let resp = self.send_version(version, req, Duration::ZERO).await?;
        Ok((version, resp))
    }

    /// Send `req` in `version` and wait for the response, allowing `extra`
    /// on top of the request timeout (for requests the broker holds, such as
    /// a Fetch long-poll).
    pub async fn send_version<Req: Message, Resp: Message>(
        &self,
        version: i16,
        req: &Req,
        extra: Duration,
    ) -> Result<Resp, ClientError> {
        let body = self.round_trip(version, req, extra).await?;
        decode_body(body, version)
    }

    /// Send `req` in `version` without waiting for a response (Produce with
    /// acks=0, which the broker does not answer).
    pub async fn send_oneway<Req: Message>(
        &self,
        version: i16,
        req: &Req,
    ) -> Result<(), ClientError> {
        let cid = self.next_correlation_id();
        let frame = encode_request(cid, &self.client_id, version, req)?;
        if self.is_closed() {
            return Err(self.closed_error());
        }
        self.write(&frame).await
    }

    /// Send a request and return the response body (header stripped).
    async fn round_trip<Req: Message>(
        &self,
        version: i16,
        req: &Req,
        extra: Duration,
    ) -> Result<Bytes, ClientError> {
        let _permit = self
            .in_flight
            .acquire()
            .await
            .map_err(|_| self.closed_error())?;
        let cid = self.next_correlation_id();
        let frame = encode_request(cid, &self.client_id, version, req)?;
        let (tx, rx) = oneshot::channel();
        {
            let mut p = self.shared.lock();
            if p.closed {
                return Err(self.closed_error());
            }
            p.waiters.insert(cid, tx);
        }
        if let Err(e) = self.write(&frame).await {
            self.shared.lock().waiters.remove(&cid);
            return Err(e);
        }
        let limit = self.timeouts.request.saturating_add(extra);
        let frame = match tokio::time::timeout(limit, rx).await {
            Ok(Ok(result)) => result?,
            Ok(Err(_)) => return Err(self.closed_error()),
            Err(_) => {
                self.shared.lock().waiters.remove(&cid);
                return Err(ClientError::Timeout {
                    what: "request",
                    after_ms: millis(limit),
                });
            }
        };
        split_response_header(frame, Req::API_KEY, version, cid)
    }

    async fn write(&self, frame: &BytesMut) -> Result<(), ClientError> {
        let mut w = self.writer.lock().await;
        w.write_all(frame).await.map_err(|source| {
            // A partly written frame leaves the stream unusable.
            self.shared.close();
            ClientError::Io {
                addr: self.addr.clone(),
                source: Arc::new(source),
            }
        })
    }

    fn next_correlation_id(&self) -> i32 {
        // Wraps after 2^31 requests; ids only need to be unique among the
        // few requests in flight.
        self.next_correlation_id.fetch_add(1, Ordering::Relaxed) & i32::MAX
    }

    fn closed_error(&self) -> ClientError {
        ClientError::ConnectionClosed {
            addr: self.addr.clone(),
        }
    }

    /// ApiVersions as KIP-511 describes: try v3; if the broker answers
    /// UNSUPPORTED_VERSION (in a v0 body, listing its ranges), retry with
    /// the highest version both know.
    async fn negotiate_versions(&self) -> Result<BrokerVersions, ClientError> {
        let req = ApiVersionsRequest {
            client_software_name: "weir-client".into(),
            client_software_version: env!("CARGO_PKG_VERSION").into(),
            ..Default::default()
        };
        let body = self
            .round_trip(API_VERSIONS_FIRST, &req, Duration::ZERO)
            .await?;
        let resp = match decode_api_versions(body, API_VERSIONS_FIRST)? {
            Ok(resp) => resp,
            Err(broker) => {
                let version = api_versions_fallback(&broker);
                tracing::debug!(addr = %self.addr, version, "ApiVersions v3 not supported; retrying");
                let body = self.round_trip(version, &req, Duration::ZERO).await?;
                match decode_api_versions(body, version)? {
                    Ok(resp) => resp,
                    Err(_) => return Err(ClientError::kafka(UNSUPPORTED_VERSION, None)),
                }
            }
        };
        check_code(resp.error_code, None)?;
        Ok(BrokerVersions::new(
            resp.api_keys
                .iter()
                .map(|k| (k.api_key, k.min_version, k.max_version))
                .collect(),
        ))
    }
}

/// Decode an ApiVersions response body sent for a `version` request.
/// `Err(ranges)` when the broker answered UNSUPPORTED_VERSION; that answer
/// is always in the v0 format (KIP-511), whatever version was asked.
fn decode_api_versions(
    body: Bytes,
    version: i16,
) -> Result<Result<ApiVersionsResponse, BrokerVersions>, ClientError> {
    // The error code is the first field in every version.
    let mut head = body.clone();
    let code = weir_protocol::codec::read_i16(&mut head)?;
    if code == UNSUPPORTED_VERSION {
        let v0: ApiVersionsResponse = decode_body(body, 0)?;
        return Ok(Err(BrokerVersions::new(
            v0.api_keys
                .iter()
                .map(|k| (k.api_key, k.min_version, k.max_version))
                .collect(),
        )));
    }
    decode_body(body, version).map(Ok)
}

/// Read response frames and hand them to their waiters until the socket
/// closes or fails, then fail everything still waiting.
async fn read_loop(mut rd: OwnedReadHalf, shared: Arc<Shared>) {
    loop {
        match read_frame(&mut rd).await {
            Ok(Some(frame)) => {
                let waiter = match peek_correlation_id(&frame) {
                    Ok(cid) => shared.lock().waiters.remove(&cid),
                    Err(_) => {
                        tracing::warn!(addr = %shared.addr, "response frame shorter than its header");
                        break;
                    }
                };
                match waiter {
                    Some(w) => {
                        let _ = w.send(Ok(frame));
                    }
                    // The request timed out and its waiter is gone.
                    None => {
                        tracing::debug!(addr = %shared.addr, "response for a request nobody waits for")
                    }
                }
            }
            Ok(None) => break,
            Err(reason) => {
                tracing::warn!(addr = %shared.addr, reason, "closing connection");
                break;
            }
        }
    }
    shared.close();
}

/// One response frame without its size prefix; `Ok(None)` on a clean close
/// between frames.
async fn read_frame(rd: &mut OwnedReadHalf) -> Result<Option<Bytes>, String> {
    let mut len_buf = [0u8; LENGTH_PREFIX_LEN];
    match rd.read_exact(&mut len_buf).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(format!("read failed: {e}")),
    }
    let len = i32::from_be_bytes(len_buf);
    let len = match usize::try_from(len) {
        Ok(n) if n <= RESPONSE_FRAME_MAX_BYTES => n,
        _ => return Err(format!("response size {len} is negative or too large")),
    };
    let mut body = BytesMut::zeroed(len);
    rd.read_exact(&mut body)
        .await
        .map_err(|e| format!("truncated response frame: {e}"))?;
    Ok(Some(body.freeze()))
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests fail loudly on purpose")]
mod tests {
    use super::*;
    use bytes::BufMut;
    use weir_protocol::messages::api_versions_response::ApiVersion;

    #[test]
    fn unsupported_version_answer_is_read_as_v0() {
        let v0 = ApiVersionsResponse {
            error_code: UNSUPPORTED_VERSION,
            api_keys: vec![ApiVersion {
                api_key: 18,
                min_version: 0,
                max_version: 2,
                ..Default::default()
            }],
            ..Default::default()
        };
        let mut buf = BytesMut::new();
        v0.encode(&mut buf, 0).unwrap();
        let broker = decode_api_versions(buf.freeze(), 3).unwrap().unwrap_err();
        assert_eq!(broker.range(ApiKey::ApiVersions), Some((0, 2)));
    }

    #[test]
    fn supported_answer_decodes_in_the_asked_version() {
        let v3 = ApiVersionsResponse {
            api_keys: vec![ApiVersion {
                api_key: 0,
                min_version: 0,
                max_version: 11,
                ..Default::default()
            }],
            ..Default::default()
        };
        let mut buf = BytesMut::new();
        v3.encode(&mut buf, 3).unwrap();
        let resp = decode_api_versions(buf.freeze(), 3).unwrap().unwrap();
        assert_eq!(resp.api_keys.len(), 1);
        let mut short = BytesMut::new();
        short.put_u8(0);
        assert!(decode_api_versions(short.freeze(), 3).is_err());
    }
}
