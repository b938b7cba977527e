//! One handler per Kafka API the null broker serves.

pub mod api_versions;
pub mod create_topics;
pub mod fetch;
pub mod find_coordinator;
pub mod init_producer_id;
pub mod list_offsets;
pub mod metadata;
pub mod produce;
