//! The hardware ceiling: the same byte volume as a benchmark run, moved with
//! no protocol at all.
//!
//! * [`Mode::Write`] (the produce ceiling): a client thread writes `bytes`
//!   over loopback TCP in `chunk_bytes` writes (1 MiB by default, about a
//!   producer batch); a server thread reads each chunk whole and appends it
//!   to a file with one plain `write()` (one write per batch, like a log),
//!   and with `fsync_every = N` calls `fdatasync` after every N chunks (the
//!   acks=all analog). The clock stops when the server has written (and
//!   synced) everything and said so.
//! * [`Mode::Read`] (the consume ceiling): a file of `bytes` is written and
//!   synced first (so it sits in the page cache with no writeback pending),
//!   then a server thread sends it over loopback, by `read()` + `write()` in
//!   `chunk_bytes` pieces or with `sendfile(2)`, to a client that reads
//!   until end of stream.
//!
//! Both report the wall time and MB/s (10^6 bytes per second, as the
//! benchmark tables use).

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Largest chunk: a chunk is held in memory on both sides.
pub const CHUNK_BYTES_MAX: usize = 64 * 1024 * 1024;
/// How long the server thread waits for the client to connect.
const ACCEPT_TIMEOUT: Duration = Duration::from_secs(30);

/// Which ceiling to measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Mode {
    /// Loopback TCP into a file append (produce).
    Write,
    /// A cached file over loopback TCP (consume).
    Read,
}

/// What to measure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawCeilingConfig {
    /// Write or read.
    pub mode: Mode,
    /// Total bytes moved.
    pub bytes: u64,
    /// Bytes per write (and per file append in write mode).
    pub chunk_bytes: usize,
    /// Write mode: `fdatasync` after every this many chunks; 0 never.
    pub fsync_every: u64,
    /// Read mode: send the file with `sendfile(2)` instead of read + write.
    pub sendfile: bool,
    /// Directory for the scratch file (a fresh subdirectory is made and
    /// removed); put it on the file system the broker's log dir is on.
    pub dir: PathBuf,
}

/// The measurement.
#[derive(Debug, Clone, PartialEq)]
pub struct RawCeilingReport {
    /// What was measured.
    pub config: RawCeilingConfig,
    /// Wall time of the transfer.
    pub elapsed: Duration,
    /// `fdatasync` calls made (write mode).
    pub fsyncs: u64,
}

impl RawCeilingReport {
    /// Throughput in MB/s (10^6 bytes).
    pub fn mb_per_s(&self) -> f64 {
        self.config.bytes as f64 / 1e6 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// One line of JSON.
    pub fn to_json(&self) -> String {
        let mode = match self.config.mode {
            Mode::Write => "write",
            Mode::Read => "read",
        };
        format!(
            "{{\"mode\":\"{mode}\",\"bytes\":{},\"chunk_bytes\":{},\"fsync_every\":{},\"fsyncs\":{},\"sendfile\":{},\"seconds\":{:.6},\"mb_per_s\":{:.1}}}",
            self.config.bytes,
            self.config.chunk_bytes,
            self.config.fsync_every,
            self.fsyncs,
            self.config.sendfile,
            self.elapsed.as_secs_f64(),
            self.mb_per_s()
        )
    }
}

/// Why a measurement failed.
#[derive(thiserror::Error, Debug)]
pub enum RawCeilingError {
    /// `chunk_bytes` is 0 or over [`CHUNK_BYTES_MAX`].
    #[error("chunk must be 1..={CHUNK_BYTES_MAX} bytes, not {0}")]
    InvalidChunk(usize),
    /// An I/O call failed.
    #[error("{what}: {source}")]
    Io {
        /// The step that failed.
        what: &'static str,
        /// Why.
        source: std::io::Error,
    },
    /// The server thread panicked.
    #[error("server thread panicked")]
    ServerPanicked,
}

fn io(what: &'static str) -> impl FnOnce(std::io::Error) -> RawCeilingError {
    move |source| RawCeilingError::Io { what, source }
}

/// A scratch directory removed on drop.
struct ScratchDir(PathBuf);

impl ScratchDir {
    fn new(parent: &Path) -> Result<ScratchDir, RawCeilingError> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let dir = parent.join(format!("weir-raw-ceiling-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(io("create scratch dir"))?;
        Ok(ScratchDir(dir))
    }

    fn file(&self) -> PathBuf {
        self.0.join("ceiling.log")
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn fdatasync(file: &File) -> std::io::Result<()> {
    file.sync_data()
}

/// The pattern every chunk carries: not all one byte, so nothing on the
/// path can shortcut it.
fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

/// Measure one ceiling.
pub fn run(config: &RawCeilingConfig) -> Result<RawCeilingReport, RawCeilingError> {
    if config.chunk_bytes == 0 || config.chunk_bytes > CHUNK_BYTES_MAX {
        return Err(RawCeilingError::InvalidChunk(config.chunk_bytes));
    }
    let scratch = ScratchDir::new(&config.dir)?;
    let (elapsed, fsyncs) = match config.mode {
        Mode::Write => run_write(config, &scratch.file())?,
        Mode::Read => (run_read(config, &scratch.file())?, 0),
    };
    Ok(RawCeilingReport {
        config: config.clone(),
        elapsed,
        fsyncs,
    })
}

fn listen() -> Result<(TcpListener, std::net::SocketAddr), RawCeilingError> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(io("bind"))?;
    let addr = listener.local_addr().map_err(io("local addr"))?;
    Ok((listener, addr))
}

fn accept(listener: &TcpListener) -> Result<TcpStream, RawCeilingError> {
    // A blocking accept with a bound: poll a non-blocking listener.
    listener.set_nonblocking(true).map_err(io("nonblocking"))?;
    let deadline = Instant::now() + ACCEPT_TIMEOUT;
    loop {
        match listener.accept() {
            Ok((stream, _)) => {
                stream.set_nonblocking(false).map_err(io("blocking"))?;
                stream.set_nodelay(true).map_err(io("nodelay"))?;
                return Ok(stream);
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(1));
            }
            Err(e) => return Err(io("accept")(e)),
        }
    }
}

fn join<T>(
    handle: std::thread::JoinHandle<Result<T, RawCeilingError>>,
) -> Result<T, RawCeilingError> {
    handle.join().map_err(|_| RawCeilingError::ServerPanicked)?
}

/// Write mode; returns the elapsed time and the fdatasync count.
fn run_write(config: &RawCeilingConfig, path: &Path) -> Result<(Duration, u64), RawCeilingError> {
    let (listener, addr) = listen()?;
    let chunk_bytes = config.chunk_bytes;
    let fsync_every = config.fsync_every;
    let total = config.bytes;
    let path = path.to_owned();
    let server = std::thread::spawn(move || -> Result<u64, RawCeilingError> {
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(io("open file"))?;
        let mut sock = accept(&listener)?;
        let mut buf = vec![0u8; chunk_bytes];
        let mut received = 0u64;
        let mut chunks = 0u64;
        let mut fsyncs = 0u64;
        while received < total {
            let n =
                usize::try_from((total - received).min(chunk_bytes as u64)).unwrap_or(chunk_bytes);
            let chunk = buf.get_mut(..n).unwrap_or_default();
            sock.read_exact(chunk).map_err(io("socket read"))?;
            file.write_all(chunk).map_err(io("file write"))?;
            received += n as u64;
            chunks += 1;
            if fsync_every > 0 && chunks.is_multiple_of(fsync_every) {
                fdatasync(&file).map_err(io("fdatasync"))?;
                fsyncs += 1;
            }
        }
        if fsync_every > 0 && !chunks.is_multiple_of(fsync_every) {
            fdatasync(&file).map_err(io("fdatasync"))?;
            fsyncs += 1;
        }
        // Everything is written (and synced): tell the client.
        sock.write_all(&[1]).map_err(io("socket ack"))?;
        Ok(fsyncs)
    });
    let data = pattern(chunk_bytes);
    let mut sock = TcpStream::connect(addr).map_err(io("connect"))?;
    sock.set_nodelay(true).map_err(io("nodelay"))?;
    let started = Instant::now();
    let mut sent = 0u64;
    while sent < total {
        let n = usize::try_from((total - sent).min(chunk_bytes as u64)).unwrap_or(chunk_bytes);
        sock.write_all(data.get(..n).unwrap_or_default())
            .map_err(io("socket write"))?;
        sent += n as u64;
    }
    let mut ack = [0u8; 1];
    sock.read_exact(&mut ack).map_err(io("read ack"))?;
    let elapsed = started.elapsed();
    let fsyncs = join(server)?;
    Ok((elapsed, fsyncs))
}

/// Read mode; returns the elapsed time.
fn run_read(config: &RawCeilingConfig, path: &Path) -> Result<Duration, RawCeilingError> {
    // The file first, synced so no writeback runs during the measurement.
    {
        let mut file = File::create(path).map_err(io("create file"))?;
        let data = pattern(config.chunk_bytes);
        let mut written = 0u64;
        while written < config.bytes {
            let n = usize::try_from((config.bytes - written).min(config.chunk_bytes as u64))
                .unwrap_or(config.chunk_bytes);
            file.write_all(data.get(..n).unwrap_or_default())
                .map_err(io("file write"))?;
            written += n as u64;
        }
        fdatasync(&file).map_err(io("fdatasync"))?;
    }
    let (listener, addr) = listen()?;
    let chunk_bytes = config.chunk_bytes;
    let use_sendfile = config.sendfile;
    let total = config.bytes;
    let path = path.to_owned();
    let server = std::thread::spawn(move || -> Result<(), RawCeilingError> {
        let mut sock = accept(&listener)?;
        let mut go = [0u8; 1];
        sock.read_exact(&mut go).map_err(io("read start"))?;
        let mut file = File::open(&path).map_err(io("open file"))?;
        if use_sendfile {
            send_file(&sock, &file, total, chunk_bytes)?;
        } else {
            let mut buf = vec![0u8; chunk_bytes];
            loop {
                let n = file.read(&mut buf).map_err(io("file read"))?;
                if n == 0 {
                    break;
                }
                sock.write_all(buf.get(..n).unwrap_or_default())
                    .map_err(io("socket write"))?;
            }
        }
        sock.shutdown(Shutdown::Write).map_err(io("shutdown"))?;
        Ok(())
    });
    let mut sock = TcpStream::connect(addr).map_err(io("connect"))?;
    let mut buf = vec![0u8; chunk_bytes];
    let started = Instant::now();
    sock.write_all(&[1]).map_err(io("send start"))?;
    let mut received = 0u64;
    loop {
        let n = sock.read(&mut buf).map_err(io("socket read"))?;
        if n == 0 {
            break;
        }
        received += n as u64;
    }
    let elapsed = started.elapsed();
    join(server)?;
    if received != total {
        return Err(io("short transfer")(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            format!("received {received} of {total} bytes"),
        )));
    }
    Ok(elapsed)
}

/// `sendfile(2)` the whole file to the socket, `chunk_bytes` per call.
fn send_file(
    sock: &TcpStream,
    file: &File,
    total: u64,
    chunk_bytes: usize,
) -> Result<(), RawCeilingError> {
    let mut offset: libc::off_t = 0;
    let total = libc::off_t::try_from(total).unwrap_or(libc::off_t::MAX);
    while offset < total {
        let want = usize::try_from(total - offset)
            .unwrap_or(usize::MAX)
            .min(chunk_bytes);
        // SAFETY: both descriptors are open for the duration of the call
        // (borrowed from live `TcpStream` and `File`), and `offset` is a
        // valid, exclusively borrowed off_t the kernel updates.
        let sent = unsafe { libc::sendfile(sock.as_raw_fd(), file.as_raw_fd(), &mut offset, want) };
        if sent < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(io("sendfile")(e));
        }
        if sent == 0 {
            break;
        }
    }
    Ok(())
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests fail loudly on purpose")]
mod tests {
    use super::*;

    fn config(mode: Mode) -> RawCeilingConfig {
        RawCeilingConfig {
            mode,
            bytes: 3 * 1024 * 1024 + 17,
            chunk_bytes: 1024 * 1024,
            fsync_every: 0,
            sendfile: false,
            dir: std::env::temp_dir(),
        }
    }

    #[test]
    fn write_mode_moves_every_byte_and_syncs() {
        let mut c = config(Mode::Write);
        c.fsync_every = 2;
        let report = run(&c).unwrap();
        // 4 chunks: a sync after the 2nd and 4th.
        assert_eq!(report.fsyncs, 2);
        assert!(report.mb_per_s() > 0.0);
        assert!(report.to_json().contains("\"mode\":\"write\""));
    }

    #[test]
    fn read_mode_with_and_without_sendfile() {
        for sendfile in [false, true] {
            let mut c = config(Mode::Read);
            c.sendfile = sendfile;
            let report = run(&c).unwrap();
            assert_eq!(report.fsyncs, 0);
            assert!(report.mb_per_s() > 0.0);
        }
    }

    #[test]
    fn refuses_bad_chunks() {
        let mut c = config(Mode::Write);
        c.chunk_bytes = 0;
        assert!(matches!(run(&c), Err(RawCeilingError::InvalidChunk(0))));
    }
}
