//! Arbitrary bytes as a producer's record set: validation, iteration and
//! record decoding must never panic, and must agree with each other.

#![no_main]

use bytes::{Bytes, BytesMut};
use libfuzzer_sys::fuzz_target;
use weir_protocol::record_batch::{
    BatchIter, Compression, set_base_offset, set_log_append_time, validate_record_set,
};
use weir_protocol::records::decode_batch_records;

fuzz_target!(|data: &[u8]| {
    let bytes = Bytes::copy_from_slice(data);
    let _ = decode_batch_records(&bytes);
    let walked: Vec<_> = BatchIter::verified(data).collect();
    let _ = BatchIter::new(data).count();
    let Ok(headers) = validate_record_set(data) else {
        return;
    };
    // A valid set walks cleanly, batch by batch.
    assert_eq!(walked.len(), headers.len());
    let mut pos = 0;
    let mut set = BytesMut::from(data);
    for (item, header) in walked.into_iter().zip(&headers) {
        let (at, walked_header) = item.expect("valid set walks without error");
        assert_eq!(at, pos);
        assert_eq!(&walked_header, header);
        let one = bytes.slice(pos..pos + header.total_len());
        if header.compression() == Compression::None {
            let (h, records) = decode_batch_records(&one).expect("valid batch decodes");
            assert_eq!(records.len(), usize::try_from(h.records_count).unwrap_or(0));
        }
        // What the broker does on append keeps the set valid.
        let batch = &mut set[pos..pos + header.total_len()];
        set_base_offset(batch, 1 << 40);
        set_log_append_time(batch, 1_700_000_000_000);
        pos += header.total_len();
    }
    assert_eq!(pos, data.len());
    validate_record_set(&set).expect("stamped set stays valid");
});
