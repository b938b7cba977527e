//! Arbitrary bytes as a stored batch handed to the cleaner's record filter:
//! it must never panic, and a thinned batch must be a valid batch with the
//! same base and last offset, holding exactly the kept records in order.

#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use weir_protocol::record_batch::{BatchHeader, check_batch};
use weir_protocol::records::decode_batch_records;
use weir_storage::cleaner::filter::{Filtered, filter_batch};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, batch)) = data.split_first() else {
        return;
    };
    let Ok(header) = BatchHeader::parse(batch) else {
        return;
    };
    // Keep a record depending on its offset and the selector byte.
    let keep = |offset: i64| (offset as u64).wrapping_mul(u64::from(selector) | 1) % 3 != 0;
    let mut kept = Vec::new();
    let Ok((out, counts)) = filter_batch(batch, &header, |r| {
        let k = keep(r.offset);
        if k {
            kept.push(r.offset);
        }
        k
    }) else {
        return;
    };
    assert!(counts.kept <= counts.read);
    if let Filtered::Thinned(bytes) = out {
        let thinned = check_batch(&bytes).expect("thinned batch is valid");
        assert_eq!(thinned.base_offset, header.base_offset);
        assert_eq!(thinned.last_offset(), header.last_offset());
        // Records that decoded in the original decode in the copy.
        if decode_batch_records(&Bytes::copy_from_slice(batch)).is_ok() {
            let (_, records) = decode_batch_records(&bytes).expect("thinned batch decodes");
            let offsets: Vec<i64> = records.iter().map(|r| r.offset).collect();
            assert_eq!(offsets, kept);
        }
    }
});
