//! Partition state counts for `/metrics`, from the metadata image and the
//! logs this node hosts. Pure: the scrape handler passes in the image's
//! topics, each topic's effective `min.insync.replicas` and whether a hosted
//! log is online, so the rules are tested without a broker.
//!
//! The rules, as Kafka's broker and controller gauges define them:
//!
//! | state | partitions counted |
//! |---|---|
//! | offline | no leader (leader -1), or led here with the log missing or offline (a failed log dir) |
//! | online | every other partition in the image |
//! | under-replicated | led here, ISR smaller than the replica set |
//! | under-min-ISR | led here, ISR smaller than the topic's effective `min.insync.replicas` |
//!
//! Online and offline together cover every partition of every topic, internal
//! topics included. The ISR gauges count only partitions this node leads,
//! like Kafka's per-broker `UnderReplicatedPartitions` and
//! `UnderMinIsrPartitionCount`, so summing them over a cluster counts each
//! partition once.

use weir_metadata::TopicImage;

/// Partition counts by state.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PartitionStates {
    /// Partitions with a leader whose log serves.
    pub online: u64,
    /// Partitions without a leader, or led here with an unusable log.
    pub offline: u64,
    /// Led here, ISR smaller than the replica set.
    pub under_replicated: u64,
    /// Led here, ISR smaller than `min.insync.replicas`.
    pub under_min_isr: u64,
}

/// Count the partitions of `topics`. `min_insync_replicas(topic)` is the
/// topic's effective `min.insync.replicas`, asked only for topics with a
/// partition led by `node_id`; `log_online(topic, partition)` says whether
/// this node has the partition's log open and online.
pub fn count<'a>(
    topics: impl IntoIterator<Item = &'a TopicImage>,
    node_id: i32,
    mut min_insync_replicas: impl FnMut(&TopicImage) -> i32,
    log_online: impl Fn(&str, i32) -> bool,
) -> PartitionStates {
    let mut states = PartitionStates::default();
    for topic in topics {
        let mut min_isr = None;
        for (&index, p) in &topic.partitions {
            let led_here = p.leader == node_id;
            let offline = p.leader < 0 || (led_here && !log_online(&topic.name, index));
            if offline {
                states.offline += 1;
            } else {
                states.online += 1;
            }
            if !led_here {
                continue;
            }
            if p.isr.len() < p.replicas.len() {
                states.under_replicated += 1;
            }
            let min_isr = *min_isr.get_or_insert_with(|| min_insync_replicas(topic));
            if p.isr.len() < usize::try_from(min_isr).unwrap_or(0) {
                states.under_min_isr += 1;
            }
        }
    }
    states
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use weir_metadata::PartitionImage;
    use weir_types::TopicId;

    use super::*;

    const ME: i32 = 1;

    fn topic(name: &str, partitions: &[(i32, &[i32], &[i32])]) -> TopicImage {
        TopicImage {
            name: name.into(),
            id: TopicId([name.len() as u8; 16]),
            partitions: partitions
                .iter()
                .enumerate()
                .map(|(i, (leader, replicas, isr))| {
                    (
                        i as i32,
                        PartitionImage {
                            replicas: replicas.to_vec(),
                            isr: isr.to_vec(),
                            leader: *leader,
                            leader_epoch: 0,
                            partition_epoch: 0,
                        },
                    )
                })
                .collect(),
            configs: BTreeMap::new(),
        }
    }

    #[test]
    fn single_node_replication_factor_one_with_min_isr_two_is_under_min_isr() {
        let t = topic("strict", &[(ME, &[ME], &[ME]), (ME, &[ME], &[ME])]);
        let got = count([&t], ME, |_| 2, |_, _| true);
        assert_eq!(
            got,
            PartitionStates {
                online: 2,
                offline: 0,
                under_replicated: 0,
                under_min_isr: 2,
            }
        );
        let relaxed = count([&t], ME, |_| 1, |_, _| true);
        assert_eq!(relaxed.under_min_isr, 0);
    }

    #[test]
    fn shrunk_isr_is_under_replicated_and_under_min_isr() {
        let t = topic(
            "shrunk",
            &[(ME, &[ME, 2, 3], &[ME]), (ME, &[ME, 2, 3], &[ME, 2, 3])],
        );
        let got = count([&t], ME, |_| 2, |_, _| true);
        assert_eq!(got.under_replicated, 1);
        assert_eq!(got.under_min_isr, 1);
        assert_eq!(got.online, 2);
    }

    #[test]
    fn no_leader_or_offline_log_is_offline() {
        let t = topic(
            "mixed",
            &[(-1, &[ME], &[]), (ME, &[ME], &[ME]), (ME, &[ME], &[ME])],
        );
        // Partition 2's log failed.
        let got = count([&t], ME, |_| 1, |_, p| p != 2);
        assert_eq!(got.online, 1);
        assert_eq!(got.offline, 2);
    }

    #[test]
    fn isr_gauges_count_only_partitions_led_here() {
        let t = topic("theirs", &[(2, &[2, 3], &[2])]);
        let got = count([&t], ME, |_| 3, |_, _| false);
        assert_eq!(
            got,
            PartitionStates {
                online: 1,
                offline: 0,
                under_replicated: 0,
                under_min_isr: 0,
            }
        );
    }

    #[test]
    fn min_isr_is_resolved_once_per_topic() {
        let one: (i32, &[i32], &[i32]) = (ME, &[ME], &[ME]);
        let a = topic("a", &[one; 3]);
        let b = topic("bb", &[(ME, &[ME], &[ME])]);
        let mut asked = Vec::new();
        let got = count(
            [&a, &b],
            ME,
            |t| {
                asked.push(t.name.clone());
                if t.name == "a" { 2 } else { 1 }
            },
            |_, _| true,
        );
        assert_eq!(asked, ["a", "bb"]);
        assert_eq!(got.under_min_isr, 3);
    }
}
