//! One client connection: read length-prefixed frames, answer each in turn.
//!
//! Requests are handled one at a time, in order, like Kafka (which mutes a
//! connection while one of its requests is in flight). Responses go through
//! a write buffer that is flushed whenever no complete request is waiting
//! in the read buffer, so a client that pipelines many small requests gets
//! their responses in few writes, and a client that waits for an answer
//! always gets it.

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader, BufWriter};
use tokio::net::TcpStream;
use weir_protocol::header::FRAME_LENGTH_PREFIX_BYTES;

use crate::null_broker::dispatch::{Reply, handle};
use crate::null_broker::{NullBroker, REQUEST_FRAME_BYTES_MAX};

/// Read buffer per connection.
const READ_BUFFER_BYTES: usize = 64 * 1024;
/// Write buffer per connection; larger responses bypass it.
const WRITE_BUFFER_BYTES: usize = 64 * 1024;

/// Why a connection was closed by the broker.
#[derive(thiserror::Error, Debug)]
pub enum ConnectionError {
    /// The socket failed.
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    /// A length prefix that is negative or over [`REQUEST_FRAME_BYTES_MAX`].
    #[error("request size {0} is invalid or exceeds {REQUEST_FRAME_BYTES_MAX} bytes")]
    FrameSize(i32),
    /// The stream ended inside a frame.
    #[error("truncated request frame")]
    Truncated,
    /// A request the broker closes on (unknown API, malformed body).
    #[error("{0}")]
    Refused(String),
}

/// Serve `stream` until the client closes it or sends something the broker
/// closes on.
pub async fn serve(broker: &NullBroker, stream: TcpStream) -> Result<(), ConnectionError> {
    stream.set_nodelay(true)?;
    let (rd, wr) = stream.into_split();
    let mut rd = BufReader::with_capacity(READ_BUFFER_BYTES, rd);
    let mut wr = BufWriter::with_capacity(WRITE_BUFFER_BYTES, wr);
    while let Some(frame) = read_frame(&mut rd).await? {
        match handle(broker, frame).await {
            Reply::Frame(buf) => wr.write_all(&buf).await?,
            Reply::NoResponse => {}
            Reply::Close(reason) => {
                wr.flush().await?;
                return Err(ConnectionError::Refused(reason));
            }
        }
        if !holds_whole_frame(rd.buffer()) {
            wr.flush().await?;
        }
    }
    wr.flush().await?;
    Ok(())
}

/// Whether `buf` starts with a complete frame (so the next request can be
/// handled without waiting on the client).
fn holds_whole_frame(buf: &[u8]) -> bool {
    let Some(prefix) = buf.first_chunk::<FRAME_LENGTH_PREFIX_BYTES>() else {
        return false;
    };
    let len = i32::from_be_bytes(*prefix);
    usize::try_from(len).is_ok_and(|len| buf.len() - FRAME_LENGTH_PREFIX_BYTES >= len)
}

/// Read one frame body; `Ok(None)` on a clean end of stream between frames.
async fn read_frame(
    rd: &mut BufReader<tokio::net::tcp::OwnedReadHalf>,
) -> Result<Option<Bytes>, ConnectionError> {
    let mut prefix = [0u8; FRAME_LENGTH_PREFIX_BYTES];
    match rd.read_exact(&mut prefix).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e.into()),
    }
    let len = i32::from_be_bytes(prefix);
    let size = usize::try_from(len)
        .ok()
        .filter(|n| *n <= REQUEST_FRAME_BYTES_MAX)
        .ok_or(ConnectionError::FrameSize(len))?;
    // Read into spare capacity: no zeroing of up to a megabyte per Produce.
    let mut body = BytesMut::with_capacity(size);
    while body.len() < size {
        let want = (size - body.len()) as u64;
        if (&mut *rd).take(want).read_buf(&mut body).await? == 0 {
            return Err(ConnectionError::Truncated);
        }
    }
    Ok(Some(body.freeze()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_frame_detection() {
        assert!(!holds_whole_frame(&[]));
        assert!(!holds_whole_frame(&[0, 0, 0]));
        assert!(holds_whole_frame(&[0, 0, 0, 0]));
        assert!(!holds_whole_frame(&[0, 0, 0, 2, 9]));
        assert!(holds_whole_frame(&[0, 0, 0, 2, 9, 9]));
        assert!(!holds_whole_frame(&[0xff, 0xff, 0xff, 0xff, 1]));
    }
}
