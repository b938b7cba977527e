//! Listener, accept loop, background flusher and clean shutdown.

use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;

use crate::broker::{Broker, now_ms};

/// Errors starting the server.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The group coordinator could not load.
    #[error(transparent)]
    Groups(#[from] crate::group_service::GroupStartError),
    /// The transaction coordinator could not load.
    #[error("transaction coordinator: {0}")]
    Transactions(String),
    /// Could not bind the listener.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// Address.
        addr: String,
        /// Cause.
        source: std::io::Error,
    },
}

/// Bind the first listener, announce readiness on stdout, serve until
/// `shutdown` resolves, then close every log cleanly.
pub async fn run(
    broker: Arc<Broker>,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<(), ServeError> {
    crate::group_service::GroupService::start(&broker).await?;
    crate::txn_service::TxnService::start_if_present(&broker)
        .await
        .map_err(ServeError::Transactions)?;
    let l = broker
        .config
        .listeners
        .first()
        .cloned()
        .unwrap_or_else(|| crate::config::Listener {
            name: "PLAINTEXT".into(),
            host: "127.0.0.1".into(),
            port: 9092,
        });
    let bind_host = if l.host.is_empty() {
        "0.0.0.0".to_string()
    } else {
        l.host.clone()
    };
    let addr = format!("{bind_host}:{}", l.port);
    let listener = TcpListener::bind(&addr)
        .await
        .map_err(|source| ServeError::Bind {
            addr: addr.clone(),
            source,
        })?;
    let local = listener.local_addr().map_err(|source| ServeError::Bind {
        addr: addr.clone(),
        source,
    })?;
    // Advertise the real port when bound to port 0, and a routable host.
    let adv = broker.config.advertised_listeners.first().cloned();
    let adv_host = match &adv {
        Some(a) if !a.host.is_empty() && a.host != "0.0.0.0" => a.host.clone(),
        _ => local.ip().to_string(),
    };
    let adv_port = match &adv {
        Some(a) if a.port != 0 && broker.config.props.contains_key("advertised.listeners") => {
            i32::from(a.port)
        }
        _ => i32::from(local.port()),
    };
    broker.set_advertised(adv_host, adv_port);
    let mut admin_local = None;
    let admin = match &broker.config.admin_listener {
        Some(addr) => {
            let l = TcpListener::bind(addr)
                .await
                .map_err(|source| ServeError::Bind {
                    addr: format!("admin.listener {addr}"),
                    source,
                })?;
            let local = l.local_addr().map_err(|source| ServeError::Bind {
                addr: addr.clone(),
                source,
            })?;
            let exporter = weir_metrics::install();
            match exporter {
                Some(exporter) => {
                    admin_local = Some(local);
                    Some(tokio::spawn(crate::admin_http::serve(
                        broker.clone(),
                        exporter,
                        l,
                    )))
                }
                None => {
                    tracing::warn!(
                        "metrics recorder already installed elsewhere; admin listener off"
                    );
                    None
                }
            }
        }
        None => None,
    };
    tracing::info!(%local, node_id = broker.node_id(), cluster_id = %broker.cluster_id, "broker started");
    println!("weir broker listening on {local}");
    if let Some(a) = admin_local {
        println!("weir admin listening on {a}");
    }

    let flusher = tokio::spawn(flush_loop(broker.clone()));
    let maintenance = tokio::spawn(crate::log_maintenance::run(broker.clone()));
    let expiry = tokio::spawn(crate::log_maintenance::expire_producers(broker.clone()));
    let accept = async {
        loop {
            match listener.accept().await {
                Ok((stream, peer)) => {
                    tokio::spawn(crate::connection::serve(broker.clone(), stream, peer));
                }
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    };
    tokio::select! {
        _ = accept => {}
        _ = shutdown => {}
    }
    flusher.abort();
    maintenance.abort();
    expiry.abort();
    if let Some(a) = admin {
        a.abort();
    }
    tracing::info!("shutting down: flushing and closing logs");
    let b = broker.clone();
    let _ = tokio::task::spawn_blocking(move || b.shutdown()).await;
    tracing::info!("shutdown complete");
    Ok(())
}

/// Kafka's log flusher: every `log.flush.scheduler.interval.ms` flush
/// partitions past `flush.ms`/`flush.messages`, and checkpoint recovery
/// points every `log.flush.offset.checkpoint.interval.ms`.
async fn flush_loop(broker: Arc<Broker>) {
    let tick = Duration::from_millis(broker.config.log_flush_scheduler_interval_ms);
    let checkpoint_every = broker.config.log_flush_offset_checkpoint_interval_ms as i64;
    let mut last_flush = now_ms();
    let mut last_checkpoint = now_ms();
    loop {
        tokio::time::sleep(tick).await;
        let now = now_ms();
        for p in broker.logs.all() {
            if let Err(e) = p.maybe_flush(now - last_flush).await {
                tracing::warn!(topic = %p.topic, partition = p.index, error = %e, "scheduled flush failed");
            }
        }
        last_flush = now;
        if now - last_checkpoint >= checkpoint_every {
            last_checkpoint = now;
            for p in broker.logs.all() {
                if let Err(e) = p.checkpoint() {
                    tracing::warn!(topic = %p.topic, partition = p.index, error = %e, "checkpoint failed");
                }
            }
        }
    }
}

/// Raise this process's soft limit on open files to its hard limit, as
/// servers that keep a descriptor per log segment do (Kafka's docs ask
/// operators for 100,000+). Each hosted segment holds one descriptor (its
/// `.log`; index files are opened per operation). Returns (before, after).
pub fn raise_open_files_limit() -> Option<(u64, u64)> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit read or write the struct we own.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return None;
    }
    let before = lim.rlim_cur;
    if lim.rlim_cur < lim.rlim_max {
        lim.rlim_cur = lim.rlim_max;
        // SAFETY: as above.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) } != 0 {
            return Some((before, before));
        }
    }
    Some((before, lim.rlim_cur))
}
