//! DescribeLogDirs (key 35): the log directory, its size per partition, and
//! (v4) the file system's total and usable bytes.

use weir_protocol::messages::describe_log_dirs_request::DescribeLogDirsRequest;
use weir_protocol::messages::describe_log_dirs_response::{
    DescribeLogDirsPartition, DescribeLogDirsResponse, DescribeLogDirsResult, DescribeLogDirsTopic,
};

use crate::broker::Broker;

/// (total, usable) bytes of the file system holding `dir`, or (-1, -1).
fn disk_space(dir: &std::path::Path) -> (i64, i64) {
    use std::os::unix::ffi::OsStrExt;
    let Ok(path) = std::ffi::CString::new(dir.as_os_str().as_bytes()) else {
        return (-1, -1);
    };
    let mut st = std::mem::MaybeUninit::<libc::statvfs>::uninit();
    // SAFETY: `path` is a valid NUL-terminated string and `st` is a valid
    // out-pointer; statvfs writes the struct on success only.
    let rc = unsafe { libc::statvfs(path.as_ptr(), st.as_mut_ptr()) };
    if rc != 0 {
        return (-1, -1);
    }
    // SAFETY: rc == 0, so statvfs initialised `st`.
    let st = unsafe { st.assume_init() };
    let frag = st.f_frsize as i64;
    (st.f_blocks as i64 * frag, st.f_bavail as i64 * frag)
}

/// Answer DescribeLogDirs.
pub fn handle(
    broker: &Broker,
    _version: i16,
    req: DescribeLogDirsRequest,
) -> DescribeLogDirsResponse {
    let dir = broker.config.log_dirs.first().cloned().unwrap_or_default();
    let abs = std::fs::canonicalize(&dir).unwrap_or(dir.clone());
    let mut by_topic: std::collections::BTreeMap<String, Vec<DescribeLogDirsPartition>> =
        Default::default();
    for p in broker.logs.all() {
        let wanted = match &req.topics {
            None => true,
            Some(list) => list
                .iter()
                .any(|t| t.topic == p.topic && t.partitions.contains(&p.index)),
        };
        if wanted {
            by_topic
                .entry(p.topic.clone())
                .or_default()
                .push(DescribeLogDirsPartition {
                    partition_index: p.index,
                    partition_size: p.size_bytes() as i64,
                    // The leader's own log: no lag.
                    offset_lag: 0,
                    is_future_key: false,
                    ..Default::default()
                });
        }
    }
    let topics = by_topic
        .into_iter()
        .map(|(name, mut partitions)| {
            partitions.sort_by_key(|p| p.partition_index);
            DescribeLogDirsTopic {
                name,
                partitions,
                ..Default::default()
            }
        })
        .collect();
    let (total_bytes, usable_bytes) = disk_space(&abs);
    DescribeLogDirsResponse {
        throttle_time_ms: 0,
        error_code: 0,
        results: vec![DescribeLogDirsResult {
            error_code: 0,
            log_dir: abs.display().to_string(),
            topics,
            total_bytes,
            usable_bytes,
            ..Default::default()
        }],
        ..Default::default()
    }
}
