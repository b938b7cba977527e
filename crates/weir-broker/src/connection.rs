//! One client connection: read length-prefixed frames, dispatch, and write
//! responses **in request order**.
//!
//! The reader runs each request's in-order part (decoding, and for Produce
//! the appends) before reading the next frame, so pipelined Produce requests
//! append in the order they were sent, as Kafka guarantees. The waiting part
//! (fsync for acks=all, Fetch long-poll) runs in a spawned task; the writer
//! awaits those tasks in request order. At most [`IN_FLIGHT_MAX`] requests
//! wait per connection, which bounds memory.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::broker::Broker;
use crate::dispatch::{Pending, Reply, begin};
use crate::request_metrics::{ConnectionMetrics, normalized_api_key};

/// Requests read but not yet answered, per connection.
pub const IN_FLIGHT_MAX: usize = 64;
/// The length prefix of every Kafka frame (a big-endian i32).
const FRAME_LENGTH_BYTES: usize = 4;

/// Serve one connection until the client closes it or sends something the
/// broker must close on.
pub async fn serve(broker: Arc<Broker>, stream: TcpStream, peer: SocketAddr) {
    let _ = stream.set_nodelay(true);
    let (mut rd, mut wr) = stream.into_split();
    // (reply, normalized API key, when the request was read)
    let (tx, mut rx) = mpsc::channel::<(JoinHandle<Reply>, i16, Instant)>(IN_FLIGHT_MAX);
    let connections = metrics::gauge!(weir_metrics::CONNECTIONS);
    connections.increment(1.0);
    let mut stats = ConnectionMetrics::new();
    let received_bytes = stats.received_bytes();

    let writer = tokio::spawn(async move {
        while let Some((handle, api_key, started)) = rx.recv().await {
            let reply = handle.await;
            stats.request(api_key, started.elapsed());
            match reply {
                Ok(Reply::Frame(buf)) => {
                    if wr.write_all(&buf).await.is_err() {
                        return;
                    }
                    stats.sent(buf.len());
                }
                Ok(Reply::NoResponse) => {}
                Ok(Reply::Close(reason)) => {
                    tracing::warn!(%peer, reason, "closing connection");
                    return;
                }
                Err(e) => {
                    tracing::error!(%peer, error = %e, "request handler failed; closing connection");
                    return;
                }
            }
        }
    });

    let max = broker.config.socket_request_max_bytes;
    loop {
        let frame = tokio::select! {
            r = read_frame(&mut rd, max) => r,
            _ = tx.closed() => break,
        };
        let frame = match frame {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(reason) => {
                tracing::warn!(%peer, reason, "closing connection");
                break;
            }
        };
        let started = Instant::now();
        received_bytes.increment((FRAME_LENGTH_BYTES + frame.len()) as u64);
        let api_key = frame
            .get(..2)
            .map_or(i16::MIN, |b| i16::from_be_bytes([b[0], b[1]]));
        let api_key = normalized_api_key(api_key);
        let handle = match begin(&broker, frame, peer).await {
            Pending::Ready(reply) => tokio::spawn(async move { reply }),
            Pending::Wait(fut) => tokio::spawn(fut),
        };
        if tx.send((handle, api_key, started)).await.is_err() {
            break;
        }
    }
    drop(tx);
    let _ = writer.await;
    connections.decrement(1.0);
}

/// Read one frame body. `Ok(None)` on a clean end of stream between frames.
async fn read_frame(
    rd: &mut tokio::net::tcp::OwnedReadHalf,
    max: usize,
) -> Result<Option<Bytes>, String> {
    let mut len_buf = [0u8; FRAME_LENGTH_BYTES];
    match rd.read_exact(&mut len_buf).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(format!("read failed: {e}")),
    }
    let len = i32::from_be_bytes(len_buf);
    // Kafka's InvalidReceiveException: negative or over socket.request.max.bytes.
    if len < 0 || len as usize > max {
        return Err(format!(
            "request size {len} is invalid or exceeds socket.request.max.bytes {max}"
        ));
    }
    let mut body = BytesMut::zeroed(len as usize);
    rd.read_exact(&mut body)
        .await
        .map_err(|e| format!("truncated request frame: {e}"))?;
    Ok(Some(body.freeze()))
}
