//! Arbitrary bytes as what a restart reads back for transactions: a
//! `__transaction_state` record (key and value) and a transaction marker
//! batch. Decoding must never panic; a record that decodes must encode
//! back and decode to the same record; a marker that decodes must rebuild
//! into a batch that decodes to the same marker.

#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use weir_protocol::control::{build_marker_batch, decode_marker};
use weir_txn::TxnRecord;

fuzz_target!(|data: &[u8]| {
    let Some((&split, rest)) = data.split_first() else {
        return;
    };
    let at = usize::from(split).min(rest.len());
    let (k, v) = rest.split_at(at);
    let (key, value) = (Bytes::copy_from_slice(k), Bytes::copy_from_slice(v));
    if let Ok(r) = TxnRecord::decode(Some(&key), Some(&value)) {
        let (k2, v2) = r.encode().expect("a decoded record encodes");
        let again = TxnRecord::decode(Some(&k2), v2.as_ref()).expect("re-encoded record decodes");
        assert_eq!(again, r);
    }
    let batch = Bytes::copy_from_slice(rest);
    if let Ok(m) = decode_marker(&batch) {
        let rebuilt = build_marker_batch(&m, 0);
        assert_eq!(decode_marker(&rebuilt).expect("rebuilt marker decodes"), m);
    }
});
