//! The Weir broker: a tokio server speaking the Kafka protocol over the
//! storage, metadata and protocol crates.
//!
//! Layout: [`server`] accepts connections, [`connection`] frames requests
//! and keeps responses in order, [`dispatch`] routes to one module per
//! Kafka API in [`handlers`], [`broker`] holds shared state, and
//! [`errors`] is the single place where errors become Kafka error codes.

pub mod admin_http;
pub mod broker;
pub mod config;
pub mod connection;
pub mod console;
pub mod dispatch;
pub mod errors;
pub mod group_service;
pub mod handlers;
pub mod lag;
pub mod log_maintenance;
pub mod log_manager;
pub mod metadata_store;
pub mod partition;
pub mod partition_states;
pub mod producer_state;
pub mod replay;
pub mod request_metrics;
pub mod server;
pub mod txn_config;
pub mod txn_markers;
pub mod txn_service;
