//! Test support: start the real `weir` binary on an ephemeral loopback port
//! with its own temporary data directory, and exchange raw Kafka frames with
//! it through the project's codec.
//!
//! Every wait is bounded; the broker is killed when the [`TestBroker`] is
//! dropped, so a failing test never leaves a process behind.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use bytes::Bytes;
use weir_protocol::codec::Message;
use weir_protocol::header::{decode_response_header, encode_request_frame};
use weir_protocol::messages::RequestHeader;

/// How long a broker may take to print its ready line.
pub const START_TIMEOUT: Duration = Duration::from_secs(30);
/// Socket read/write timeout for raw requests.
pub const IO_TIMEOUT: Duration = Duration::from_secs(30);

/// A running broker.
pub struct TestBroker {
    child: Child,
    /// `127.0.0.1:PORT`.
    pub addr: String,
    dir: tempfile::TempDir,
    bin: PathBuf,
    overrides: Vec<String>,
}

fn start(bin: &Path, dir: &Path, overrides: &[String]) -> (Child, String) {
    let mut cmd = Command::new(bin);
    cmd.args([
        "broker",
        "--listeners",
        "PLAINTEXT://127.0.0.1:0",
        "--log-dirs",
    ])
    .arg(dir)
    // Tests run many brokers at once: no admin HTTP listener on its fixed port.
    .args(["--override", "admin.listener=none"]);
    for o in overrides {
        cmd.arg("--override").arg(o);
    }
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
    let stdout = child.stdout.take().expect("stdout is piped");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = rx.recv_timeout(START_TIMEOUT).unwrap_or_default();
    let addr = line
        .trim()
        .rsplit(' ')
        .next()
        .unwrap_or_default()
        .to_string();
    assert!(
        line.contains("listening on") && addr.contains(':'),
        "broker did not start: {line:?}"
    );
    (child, addr)
}

impl TestBroker {
    /// Start `bin` with `key=value` property overrides.
    pub fn start(bin: impl AsRef<Path>, overrides: &[&str]) -> TestBroker {
        let dir = tempfile::tempdir().expect("temp dir");
        let overrides: Vec<String> = overrides.iter().map(|s| s.to_string()).collect();
        let (child, addr) = start(bin.as_ref(), dir.path(), &overrides);
        TestBroker {
            child,
            addr,
            dir,
            bin: bin.as_ref().to_path_buf(),
            overrides,
        }
    }

    /// The data directory.
    pub fn data_dir(&self) -> &Path {
        self.dir.path()
    }

    /// SIGKILL the broker and start it again on the same data directory.
    pub fn kill_and_restart(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let (child, addr) = start(&self.bin, self.dir.path(), &self.overrides);
        self.child = child;
        self.addr = addr;
    }

    /// A raw connection.
    pub fn connect(&self) -> RawConn {
        RawConn::connect(&self.addr)
    }
}

impl Drop for TestBroker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A blocking connection speaking raw frames.
pub struct RawConn {
    stream: TcpStream,
    next_correlation_id: i32,
}

impl RawConn {
    /// Connect to `addr`.
    pub fn connect(addr: &str) -> RawConn {
        let stream = TcpStream::connect(addr).expect("connect");
        stream.set_read_timeout(Some(IO_TIMEOUT)).expect("timeout");
        stream.set_write_timeout(Some(IO_TIMEOUT)).expect("timeout");
        RawConn {
            stream,
            next_correlation_id: 1,
        }
    }

    /// Send `body` as `api_key`/`version` and decode the response as `R`.
    /// Panics (failing the test) if the broker closes the connection or the
    /// response does not decode.
    pub fn call<Q: Message, R: Message>(&mut self, api_key: i16, version: i16, body: &Q) -> R {
        let cid = self.next_correlation_id;
        self.next_correlation_id += 1;
        let header = RequestHeader {
            request_api_key: api_key,
            request_api_version: version,
            correlation_id: cid,
            client_id: Some("weir-testkit".into()),
            ..Default::default()
        };
        let frame = encode_request_frame(&header, body).expect("encode request");
        self.stream.write_all(&frame).expect("write request");
        let mut len = [0u8; 4];
        self.stream
            .read_exact(&mut len)
            .unwrap_or_else(|e| panic!("no response to api {api_key} v{version}: {e}"));
        let mut buf = vec![0u8; i32::from_be_bytes(len) as usize];
        self.stream
            .read_exact(&mut buf)
            .expect("read response body");
        let mut bytes = Bytes::from(buf);
        let rh = decode_response_header(&mut bytes, api_key, version).expect("response header");
        assert_eq!(
            rh.correlation_id, cid,
            "correlation id of api {api_key} v{version}"
        );
        R::decode(&mut bytes, version)
            .unwrap_or_else(|e| panic!("decode response api {api_key} v{version}: {e}"))
    }
}
