//! `weir-raw-ceiling`: the hardware ceiling of Weir's benchmarks. Moves
//! `--bytes` over loopback TCP into a file append (`--mode write`) or from a
//! cached file (`--mode read`) and prints one line of JSON with MB/s.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use weir_bench::raw_ceiling::{self, Mode, RawCeilingConfig};

/// Raw loopback TCP plus file append (or file read) with a given byte volume.
#[derive(Parser, Debug)]
#[command(name = "weir-raw-ceiling", version)]
struct Args {
    /// write: loopback into a file append (produce); read: a cached file
    /// over loopback (consume).
    #[arg(long, value_enum, default_value = "write")]
    mode: Mode,
    /// Total bytes to move.
    #[arg(long, default_value_t = 256 * 1024 * 1024)]
    bytes: u64,
    /// Bytes per write (about a producer batch).
    #[arg(long, default_value_t = 1024 * 1024)]
    chunk: usize,
    /// Write mode: fdatasync after every N chunks (the acks=all analog); 0 never.
    #[arg(long, default_value_t = 0)]
    fsync_every: u64,
    /// Read mode: send the file with sendfile(2).
    #[arg(long)]
    sendfile: bool,
    /// Directory for the scratch file (use the file system of the broker's log dir).
    #[arg(long)]
    dir: Option<PathBuf>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let config = RawCeilingConfig {
        mode: args.mode,
        bytes: args.bytes,
        chunk_bytes: args.chunk,
        fsync_every: args.fsync_every,
        sendfile: args.sendfile,
        dir: args.dir.unwrap_or_else(std::env::temp_dir),
    };
    match raw_ceiling::run(&config) {
        Ok(report) => {
            println!("{}", report.to_json());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("weir-raw-ceiling: {e}");
            ExitCode::FAILURE
        }
    }
}
