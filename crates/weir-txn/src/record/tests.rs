//! Golden bytes, round trips and never-panic properties of the
//! `__transaction_state` codec.

#![expect(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "tests fail loudly on purpose"
)]

use super::*;
use proptest::prelude::*;

#[test]
fn golden_key_and_value() {
    let r = TxnRecord {
        transactional_id: "tx".into(),
        value: Some(TxnLogValue {
            producer_id: 5,
            producer_epoch: 2,
            timeout_ms: 60_000,
            state: TxnState::Ongoing,
            partitions: vec![("t".into(), vec![0, 3])],
            last_update_ms: 1000,
            start_ms: 900,
        }),
    };
    let (key, value) = r.encode().unwrap();
    assert_eq!(&key[..], &[0, 0, 0, 2, b't', b'x']);
    let expected: Vec<u8> = [
        &[0u8, 0][..],            // value version 0
        &5i64.to_be_bytes(),      // producer id
        &2i16.to_be_bytes(),      // epoch
        &60_000i32.to_be_bytes(), // timeout
        &[1],                     // Ongoing
        &1i32.to_be_bytes(),      // one topic
        &[0, 1, b't'],            // "t"
        &2i32.to_be_bytes(),      // two partitions
        &0i32.to_be_bytes(),
        &3i32.to_be_bytes(),
        &1000i64.to_be_bytes(), // last update
        &900i64.to_be_bytes(),  // start
    ]
    .concat();
    assert_eq!(&value.clone().unwrap()[..], &expected[..]);
    assert_eq!(TxnRecord::decode(Some(&key), value.as_ref()).unwrap(), r);
    let tomb = TxnRecord {
        transactional_id: "tx".into(),
        value: None,
    };
    let (k, v) = tomb.encode().unwrap();
    assert_eq!(TxnRecord::decode(Some(&k), v.as_ref()).unwrap(), tomb);
}

#[test]
fn reads_flexible_v1_values() {
    let mut b = BytesMut::new();
    write_i16(&mut b, 1);
    write_i64(&mut b, 9);
    write_i16(&mut b, 4);
    write_i32(&mut b, 1000);
    write_i8(&mut b, 4); // CompleteCommit
    b.extend_from_slice(&[2]); // compact array: one element
    b.extend_from_slice(&[2, b'a']); // compact string "a"
    b.extend_from_slice(&[2]); // one partition
    write_i32(&mut b, 7);
    b.extend_from_slice(&[0]); // element tags
    write_i64(&mut b, 50);
    write_i64(&mut b, -1);
    b.extend_from_slice(&[1, 0, 8]); // one tagged field: tag 0, 8 bytes
    write_i64(&mut b, 3);
    let v = decode_value(&mut b.freeze()).unwrap();
    assert_eq!(v.state, TxnState::CompleteCommit);
    assert_eq!(v.partitions, vec![("a".to_string(), vec![7])]);
    assert_eq!((v.producer_id, v.producer_epoch, v.start_ms), (9, 4, -1));
}

#[test]
fn golden_empty_value_has_a_null_partition_list() {
    let v = TxnLogValue {
        producer_id: 1,
        producer_epoch: 0,
        timeout_ms: 1000,
        state: TxnState::Empty,
        partitions: vec![],
        last_update_ms: 2,
        start_ms: -1,
    };
    #[rustfmt::skip]
    let expected: [u8; 37] = [
        0, 0,                          // value version 0
        0, 0, 0, 0, 0, 0, 0, 1,        // producer id 1
        0, 0,                          // epoch 0
        0, 0, 0x03, 0xe8,              // timeout 1000 ms
        0,                             // Empty
        0xff, 0xff, 0xff, 0xff,        // partitions: null
        0, 0, 0, 0, 0, 0, 0, 2,        // last update 2
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // start -1
    ];
    assert_eq!(&encode_value(&v).unwrap()[..], &expected[..]);
    assert_eq!(
        decode_value(&mut Bytes::copy_from_slice(&expected)).unwrap(),
        v
    );
}

#[test]
fn reads_v1_with_every_tagged_field() {
    #[rustfmt::skip]
    let bytes: Vec<u8> = [
        &[0u8, 1][..],                     // value version 1 (flexible)
        &[0, 0, 0, 0, 0, 0, 0, 9],         // producer id 9
        &[0, 4],                           // epoch 4
        &[0, 0, 0x03, 0xe8],               // timeout 1000 ms
        &[2],                              // PrepareCommit
        &[3],                              // compact array: two topics
        &[2, b'a'], &[3], &[0, 0, 0, 1], &[0, 0, 0, 2], &[0], // "a" [1, 2], no tags
        &[2, b'b'], &[2], &[0, 0, 0, 0], &[1, 5, 1, 0xaa],    // "b" [0], an unknown tag 5
        &[0, 0, 0, 0, 0, 0, 0, 50],        // last update 50
        &[0, 0, 0, 0, 0, 0, 0, 40],        // start 40
        &[3],                              // three tagged fields
        &[0, 8, 0, 0, 0, 0, 0, 0, 0, 8],   // PreviousProducerId 8
        &[1, 8, 0, 0, 0, 0, 0, 0, 0, 10],  // NextProducerId 10
        &[2, 2, 0, 2],                     // ClientTransactionVersion 2
    ]
    .concat();
    let r = TxnRecord::decode(
        Some(&Bytes::from_static(&[0, 0, 0, 1, b'x'])),
        Some(&Bytes::from(bytes)),
    )
    .unwrap();
    let v = r.value.unwrap();
    assert_eq!(r.transactional_id, "x");
    assert_eq!(v.state, TxnState::PrepareCommit);
    assert_eq!(
        v.partitions,
        vec![("a".to_string(), vec![1, 2]), ("b".to_string(), vec![0])]
    );
    assert_eq!(
        (v.producer_id, v.producer_epoch, v.timeout_ms),
        (9, 4, 1000)
    );
    assert_eq!((v.last_update_ms, v.start_ms), (50, 40));
}

#[test]
fn unknown_versions_and_statuses_are_refused() {
    let key = Bytes::from_static(&[0, 0, 0, 1, b'x']);
    let v2 = Bytes::from_static(&[0, 2, 0, 0]);
    assert!(matches!(
        TxnRecord::decode(Some(&key), Some(&v2)),
        Err(RecordError::UnknownVersion {
            what: "value",
            version: 2
        })
    ));
    let k1 = Bytes::from_static(&[0, 1, 0, 1, b'x']);
    assert!(matches!(
        TxnRecord::decode(Some(&k1), None),
        Err(RecordError::UnknownVersion {
            what: "key",
            version: 1
        })
    ));
    assert!(matches!(
        TxnRecord::decode(None, None),
        Err(RecordError::MissingKey)
    ));
    let mut bad = BytesMut::new();
    write_i16(&mut bad, 0);
    write_i64(&mut bad, 1);
    write_i16(&mut bad, 0);
    write_i32(&mut bad, 1000);
    write_i8(&mut bad, 8);
    assert!(matches!(
        TxnRecord::decode(Some(&key), Some(&bad.freeze())),
        Err(RecordError::UnknownStatus(8))
    ));
    // A huge partition count with no bytes behind it is refused, not allocated.
    let mut huge = BytesMut::new();
    write_i16(&mut huge, 0);
    write_i64(&mut huge, 1);
    write_i16(&mut huge, 0);
    write_i32(&mut huge, 1000);
    write_i8(&mut huge, 1);
    write_i32(&mut huge, i32::MAX);
    assert!(matches!(
        TxnRecord::decode(Some(&key), Some(&huge.freeze())),
        Err(RecordError::Decode(_))
    ));
}

fn any_state() -> impl Strategy<Value = TxnState> {
    (0i8..8).prop_map(|i| TxnState::from_id(i).unwrap())
}

proptest! {
    #[test]
    fn round_trip(id in "[a-z]{1,12}", pid in any::<i64>(), epoch in any::<i16>(),
                  timeout in any::<i32>(), state in any_state(),
                  parts in proptest::collection::vec(("[a-z]{1,5}", proptest::collection::vec(0i32..100, 1..4)), 0..4),
                  upd in any::<i64>(), start in any::<i64>()) {
        let parts = if parts.is_empty() && state == TxnState::Empty { vec![] } else { parts };
        let r = TxnRecord { transactional_id: id, value: Some(TxnLogValue {
            producer_id: pid, producer_epoch: epoch, timeout_ms: timeout, state,
            partitions: parts, last_update_ms: upd, start_ms: start })};
        let (k, v) = r.encode().unwrap();
        prop_assert_eq!(TxnRecord::decode(Some(&k), v.as_ref()).unwrap(), r);
    }

    #[test]
    fn corrupted_records_never_panic(pid in any::<i64>(), flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..6),
                                     cut in any::<usize>(), flexible in any::<bool>()) {
        let r = TxnRecord { transactional_id: "tx".into(), value: Some(TxnLogValue {
            producer_id: pid, producer_epoch: 1, timeout_ms: 1000, state: TxnState::Ongoing,
            partitions: vec![("t".into(), vec![0, 1]), ("u".into(), vec![2])],
            last_update_ms: 5, start_ms: 4 })};
        let (k, v) = r.encode().unwrap();
        let mut v = v.unwrap().to_vec();
        if flexible {
            // Claim v1: the rest is then misread as the flexible layout.
            v[1] = 1;
        }
        for (at, x) in flips {
            let n = v.len();
            v[at % n] ^= x;
        }
        v.truncate(cut % (v.len() + 1));
        let _ = TxnRecord::decode(Some(&k), Some(&Bytes::from(v)));
    }

    #[test]
    fn arbitrary_bytes_never_panic(k in proptest::collection::vec(any::<u8>(), 0..64),
                                   v in proptest::collection::vec(any::<u8>(), 0..128)) {
        let _ = TxnRecord::decode(Some(&Bytes::from(k)), Some(&Bytes::from(v)));
    }
}
