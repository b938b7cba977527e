//! CPU time and memory of a local process, read from `/proc`, and the search
//! for a local `weir broker` listening on the bootstrap port.
//!
//! ## What is read
//!
//! * `/proc/PID/stat`: fields 14 and 15 (`utime`, `stime`) in clock ticks
//!   (`sysconf(_SC_CLK_TCK)`). The command name (field 2) is in parentheses
//!   and may itself hold spaces and parentheses, so fields are counted from
//!   the *last* `)`.
//! * `/proc/PID/status`: `VmRSS` (resident now) and `VmHWM` (the peak
//!   resident set since the process started), both in kB.
//! * `/proc/net/tcp` and `/proc/net/tcp6`: a socket in state `0A` (LISTEN)
//!   whose local port is the bootstrap port gives an inode; the process with
//!   an fd linking to `socket:[INODE]` and `broker` in its arguments is the
//!   broker. Only processes whose fds this user may read are found.

#![deny(clippy::unwrap_used, clippy::indexing_slicing)]

use std::path::Path;

/// `/proc/net/tcp` state of a listening socket.
const TCP_LISTEN: &str = "0A";
/// Bytes per kB in `/proc/PID/status`.
const KIB_BYTES: u64 = 1024;

/// One reading of a process's CPU time and memory.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct ProcSample {
    /// User plus system CPU time so far, in seconds.
    pub(crate) cpu_s: f64,
    /// Resident set now, in bytes.
    pub(crate) rss_bytes: Option<u64>,
    /// Peak resident set since the process started (`VmHWM`), in bytes.
    pub(crate) peak_rss_bytes: Option<u64>,
}

/// Read `/proc/PID/...` (`pid` `None` for this process).
pub(crate) fn sample(pid: Option<u32>) -> std::io::Result<ProcSample> {
    let dir = match pid {
        Some(p) => format!("/proc/{p}"),
        None => "/proc/self".to_owned(),
    };
    let stat = std::fs::read_to_string(format!("{dir}/stat"))?;
    let ticks = cpu_ticks(&stat).ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("cannot parse {dir}/stat"),
        )
    })?;
    let status = std::fs::read_to_string(format!("{dir}/status")).unwrap_or_default();
    Ok(ProcSample {
        cpu_s: ticks as f64 / clock_ticks_per_s(),
        rss_bytes: status_kib(&status, "VmRSS:").map(|k| k * KIB_BYTES),
        peak_rss_bytes: status_kib(&status, "VmHWM:").map(|k| k * KIB_BYTES),
    })
}

fn clock_ticks_per_s() -> f64 {
    // SAFETY: sysconf only reads a constant of the running system.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    // 100 is what Linux reports on every common architecture.
    if ticks > 0 { ticks as f64 } else { 100.0 }
}

/// `utime + stime` from the text of `/proc/PID/stat`.
fn cpu_ticks(stat: &str) -> Option<u64> {
    let after_comm = stat.get(stat.rfind(')')? + 1..)?;
    // After the command: field 3 (state) is index 0, so utime (14) is 11.
    let mut fields = after_comm.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

/// The kB value of the `key` line of `/proc/PID/status`.
fn status_kib(status: &str, key: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with(key))?;
    line.get(key.len()..)?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// The inodes of sockets listening on `port` in the text of
/// `/proc/net/tcp` or `/proc/net/tcp6`.
fn listening_inodes(table: &str, port: u16) -> Vec<u64> {
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let local = fields.get(1)?;
            let state = fields.get(3)?;
            let inode = fields.get(9)?;
            let local_port = u16::from_str_radix(local.rsplit(':').next()?, 16).ok()?;
            (*state == TCP_LISTEN && local_port == port)
                .then(|| inode.parse().ok())
                .flatten()
        })
        .collect()
}

/// Whether a NUL-separated command line is a `weir broker` run.
fn is_broker_cmdline(cmdline: &[u8]) -> bool {
    cmdline.split(|b| *b == 0).any(|arg| arg == b"broker")
}

/// The pid of a local process with `broker` in its arguments that listens
/// on `port`, if there is exactly such a process this user can see.
pub(crate) fn find_local_broker(port: u16) -> Option<u32> {
    let mut inodes = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        if let Ok(text) = std::fs::read_to_string(table) {
            inodes.extend(listening_inodes(&text, port));
        }
    }
    if inodes.is_empty() {
        return None;
    }
    let wanted: Vec<String> = inodes.iter().map(|i| format!("socket:[{i}]")).collect();
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        if owns_socket(&entry.path(), &wanted)
            && std::fs::read(entry.path().join("cmdline")).is_ok_and(|c| is_broker_cmdline(&c))
        {
            return Some(pid);
        }
    }
    None
}

fn owns_socket(proc_dir: &Path, wanted: &[String]) -> bool {
    let Ok(fds) = std::fs::read_dir(proc_dir.join("fd")) else {
        return false;
    };
    fds.flatten().any(|fd| {
        std::fs::read_link(fd.path())
            .ok()
            .and_then(|target| target.to_str().map(|t| wanted.iter().any(|w| w == t)))
            .unwrap_or(false)
    })
}

/// The port of the first `host:port` of a bootstrap list when the host is
/// this machine's loopback (the only case where the broker's `/proc` is
/// ours to read).
pub(crate) fn loopback_port(bootstrap: &str) -> Option<u16> {
    let first = bootstrap.split(',').next()?.trim();
    let (host, port) = first.rsplit_once(':')?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let local = host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    if local { port.parse().ok() } else { None }
}

#[cfg(test)]
#[expect(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "tests fail loudly on purpose"
)]
mod tests {
    use super::*;

    #[test]
    fn cpu_ticks_count_from_the_last_parenthesis() {
        let stat = "4242 (weir (x) y) S 1 4242 4242 0 -1 4194560 100 0 0 0 \
                    250 75 0 0 20 0 9 0 123 456 789";
        assert_eq!(cpu_ticks(stat), Some(325));
        assert_eq!(cpu_ticks("4242 (weir) S 1"), None);
    }

    #[test]
    fn status_lines_give_kib() {
        let status = "Name:\tweir\nVmHWM:\t  20480 kB\nVmRSS:\t   1024 kB\n";
        assert_eq!(status_kib(status, "VmHWM:"), Some(20480));
        assert_eq!(status_kib(status, "VmRSS:"), Some(1024));
        assert_eq!(status_kib(status, "VmSwap:"), None);
    }

    #[test]
    fn only_listening_sockets_on_the_port_match() {
        let table = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
           0: 0100007F:2384 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 55501 1 0 100 0 0 10 0\n\
           1: 0100007F:2384 0100007F:9C40 01 00000000:00000000 00:00000000 00000000  1000        0 55502 1 0 20 4 30 10 -1\n\
           2: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 55503 1 0 100 0 0 10 0\n";
        assert_eq!(listening_inodes(table, 9092), vec![55501]);
        assert_eq!(listening_inodes(table, 8080), vec![55503]);
        assert!(listening_inodes(table, 1).is_empty());
    }

    #[test]
    fn broker_command_lines() {
        assert!(is_broker_cmdline(
            b"/usr/bin/weir\0broker\0--listeners\0x\0"
        ));
        assert!(!is_broker_cmdline(b"/usr/bin/weir\0bench\0produce\0"));
    }

    #[test]
    fn loopback_bootstrap_ports() {
        assert_eq!(loopback_port("127.0.0.1:9092"), Some(9092));
        assert_eq!(loopback_port("localhost:1,other:2"), Some(1));
        assert_eq!(loopback_port("[::1]:9093"), Some(9093));
        assert_eq!(loopback_port("10.0.0.1:9092"), None);
        assert_eq!(loopback_port("kafka:9092"), None);
    }

    #[test]
    fn own_process_reads() {
        let s = sample(None).unwrap();
        assert!(s.cpu_s >= 0.0);
        assert!(s.peak_rss_bytes.unwrap() >= s.rss_bytes.unwrap());
    }

    #[test]
    fn own_listener_is_found_only_with_broker_in_its_arguments() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        // The test binary's arguments do not contain `broker`.
        assert_eq!(find_local_broker(port), None);
        let mut inodes = Vec::new();
        for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
            inodes.extend(listening_inodes(
                &std::fs::read_to_string(table).unwrap_or_default(),
                port,
            ));
        }
        assert_eq!(inodes.len(), 1);
        let wanted = vec![format!("socket:[{}]", inodes[0])];
        assert!(owns_socket(Path::new("/proc/self"), &wanted));
    }
}
