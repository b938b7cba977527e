//! Which partition a record goes to.
//!
//! Keyed records use the Java client's default partitioner:
//! `(murmur2(key) & 0x7fffffff) % partitions`, with `murmur2` exactly as
//! `org.apache.kafka.common.utils.Utils.murmur2`. A key therefore lands on
//! the same partition as with the Java client, kafka-python and kafkajs'
//! Java-compatible partitioner. librdkafka (kcat, confluent-kafka) defaults
//! to `consistent_random` (CRC-32 of the key) and places keys differently
//! unless configured with `partitioner=murmur2_random`.
//!
//! Records without a key are spread with a sticky round-robin: they go to
//! one partition until a batch for it is closed, then to the next one
//! (KIP-480's idea, without randomness so runs are reproducible).

/// Kafka's `Utils.murmur2`: 32-bit MurmurHash2 with seed `0x9747b28c`,
/// reading the data as little-endian 4-byte words.
pub fn murmur2(data: &[u8]) -> i32 {
    const SEED: u32 = 0x9747_b28c;
    const M: u32 = 0x5bd1_e995;
    const R: u32 = 24;

    // Java works on `int` with wrapping arithmetic; u32 wrapping gives the
    // same bits, and `>>>` is a logical shift on u32.
    let mut h: u32 = SEED ^ (data.len() as u32);
    let mut chunks = data.chunks_exact(4);
    for chunk in &mut chunks {
        let mut k = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }
    let tail = chunks.remainder();
    if !tail.is_empty() {
        for (i, b) in tail.iter().enumerate().rev() {
            h ^= u32::from(*b) << (8 * i);
        }
        h = h.wrapping_mul(M);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    h as i32
}

/// Kafka's `Utils.toPositive`: clears the sign bit (not `abs`, which
/// overflows on `i32::MIN`).
pub fn to_positive(n: i32) -> i32 {
    n & 0x7fff_ffff
}

/// The partition of a keyed record among `partitions` (must be > 0), as the
/// Java client's default partitioner computes it.
pub fn partition_for_key(key: &[u8], partitions: i32) -> i32 {
    debug_assert!(partitions > 0);
    to_positive(murmur2(key)) % partitions.max(1)
}

/// Sticky round-robin for records without a key, per topic.
#[derive(Debug, Default, Clone)]
pub struct StickyPartitioner {
    /// topic → (current partition, bytes sent to it since the last switch).
    current: std::collections::BTreeMap<String, (i32, usize)>,
}

impl StickyPartitioner {
    /// The partition for the next keyless record of `topic` of `size_bytes`.
    /// Switches to the next partition once `batch_size_bytes` went to the
    /// current one.
    pub fn partition(
        &mut self,
        topic: &str,
        partitions: i32,
        size_bytes: usize,
        batch_size_bytes: usize,
    ) -> i32 {
        let partitions = partitions.max(1);
        let entry = self.current.entry(topic.to_owned()).or_insert((0, 0));
        if entry.1 >= batch_size_bytes {
            *entry = ((entry.0 + 1) % partitions, 0);
        }
        // The partition count can shrink in the client's view (metadata of a
        // recreated topic): stay in range.
        entry.0 %= partitions;
        entry.1 += size_bytes;
        entry.0
    }

    /// A batch for `topic`-`partition` was closed: move keyless records of
    /// the topic on to the next partition, as KIP-480 does.
    pub fn batch_closed(&mut self, topic: &str, partition: i32) {
        if let Some(entry) = self.current.get_mut(topic)
            && entry.0 == partition
        {
            entry.1 = usize::MAX;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// From the Java client's `UtilsTest.testMurmur2`.
    #[test]
    fn murmur2_matches_java_utils_test() {
        for (key, expected) in [
            (&b"21"[..], -973_932_308),
            (b"foobar", -790_332_482),
            (b"a-little-bit-long-string", -985_981_536),
            (b"a-little-bit-longer-string", -1_486_304_829),
            (
                b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8",
                -58_897_971,
            ),
            (b"abc", 479_470_107),
        ] {
            assert_eq!(murmur2(key), expected, "{:?}", String::from_utf8_lossy(key));
        }
    }

    /// Values generated with the Java client's `Utils.murmur2`, as pinned by
    /// kafkajs' Java-compatible partitioner tests (keys are the strings).
    #[test]
    fn murmur2_matches_java_for_numeric_keys() {
        for (key, expected) in [
            ("0", 971_027_396),
            ("1", -1_993_445_489),
            ("128", -326_012_175),
            ("2187", -1_508_407_203),
            ("16384", -325_739_742),
            ("78125", -1_654_490_814),
            ("279936", 1_462_227_128),
            ("10000000", -1_830_336_757),
            ("100:48069", 1_009_543_857),
        ] {
            assert_eq!(murmur2(key.as_bytes()), expected, "{key}");
        }
    }

    #[test]
    fn keyed_partition_is_positive_mod() {
        // toPositive(-973932308) = 1173551340; 1173551340 % 3 = 0.
        assert_eq!(to_positive(-973_932_308), 1_173_551_340);
        assert_eq!(partition_for_key(b"21", 3), 1_173_551_340 % 3);
        assert_eq!(to_positive(i32::MIN), 0);
        for n in 1..20 {
            let p = partition_for_key(b"some-key", n);
            assert!((0..n).contains(&p));
        }
    }

    #[test]
    fn sticky_switches_after_a_batch() {
        let mut s = StickyPartitioner::default();
        assert_eq!(s.partition("t", 3, 10, 25), 0);
        assert_eq!(s.partition("t", 3, 10, 25), 0);
        assert_eq!(s.partition("t", 3, 10, 25), 0);
        assert_eq!(s.partition("t", 3, 10, 25), 1);
        s.batch_closed("t", 1);
        assert_eq!(s.partition("t", 3, 10, 25), 2);
        s.batch_closed("t", 0); // not the current one: no effect
        assert_eq!(s.partition("t", 3, 10, 25), 2);
        assert_eq!(s.partition("other", 3, 10, 25), 0);
        assert_eq!(s.partition("t", 1, 10, 25), 0);
    }
}
