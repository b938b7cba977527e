//! Every generated message, in every valid version: random values valid in
//! that version encode, report their exact length, and decode back equal.

use proptest::prelude::*;
use weir_protocol::messages::ALL_MESSAGES;
use weir_protocol::messages::testing::MessageCase;

const SEEDS_PER_VERSION: u64 = 48;

fn check(case: &MessageCase, version: i16, seed: u64) {
    if let Err(e) = (case.round_trip)(seed, version) {
        panic!("{} v{version} seed {seed:#x}: {e}", case.name);
    }
}

#[test]
fn every_message_every_version_round_trips() {
    let mut checked = 0;
    for case in ALL_MESSAGES {
        for version in case.min_version..=case.max_version {
            for i in 0..SEEDS_PER_VERSION {
                let seed = (u64::from(case.api_key as u16) << 48) ^ ((version as u64) << 32) ^ i;
                check(case, version, seed);
                checked += 1;
            }
        }
    }
    assert!(checked > 1000, "only {checked} round trips");
}

#[test]
fn all_spec_files_are_covered() {
    // 88 request/response pairs, 2 headers and 8 data types in the 4.0 specs.
    assert_eq!(ALL_MESSAGES.len(), 186);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn random_message_version_seed_round_trips(index in 0..ALL_MESSAGES.len(), version_pick: u16, seed: u64) {
        let case = &ALL_MESSAGES[index];
        let span = (case.max_version - case.min_version + 1) as u16;
        let version = case.min_version + (version_pick % span) as i16;
        prop_assert!((case.round_trip)(seed, version).is_ok(), "{} v{version} seed {seed:#x}: {:?}", case.name, (case.round_trip)(seed, version));
    }
}
