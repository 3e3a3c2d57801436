//! The cluster a server shares between its tasks: one [`SimCluster`] behind a mutex (never
//! held across an `.await`), a `watch` of the store's resourceVersion that wakes watchers, and
//! a `watch` of the routing table the data plane serves.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use gwsim_engine::table::RoutingTable;
use gwsim_sim::SimCluster;
use gwsim_sim::time::{EPOCH_UNIX_SECONDS, SimTime};
use tokio::sync::watch;

/// How many changes (with their objects) the store keeps for watches by default; a watch
/// from an older resourceVersion gets 410 Gone and starts again from a list.
pub const DEFAULT_HISTORY: usize = 20_000;

struct Inner {
    cluster: SimCluster,
    /// `SimCluster::stats().table_builds` when the routing table was last published.
    published_builds: u64,
}

/// One simulated cluster, shared by the API server's handlers and the data plane.
pub struct SharedCluster {
    inner: Mutex<Inner>,
    revision: watch::Sender<u64>,
    routing: watch::Sender<Arc<RoutingTable>>,
}

/// The wall clock as simulator time (milliseconds since the simulator's epoch; never before it).
pub fn wall_clock() -> SimTime {
    let unix_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    let epoch_ms = (EPOCH_UNIX_SECONDS as u128) * 1000;
    SimTime::from_millis(u64::try_from(unix_ms.saturating_sub(epoch_ms)).unwrap_or(u64::MAX))
}

impl SharedCluster {
    /// Shares `cluster`, keeping `history` changes with their bodies for watches.
    pub fn new(mut cluster: SimCluster, history: usize) -> Arc<SharedCluster> {
        cluster.keep_history(history);
        cluster.advance_to(wall_clock());
        let rv = cluster.store().resource_version();
        let table = Arc::new(cluster.table().clone());
        let builds = cluster.stats().table_builds;
        Arc::new(SharedCluster {
            inner: Mutex::new(Inner {
                cluster,
                published_builds: builds,
            }),
            revision: watch::Sender::new(rv),
            routing: watch::Sender::new(table),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Reads the cluster.
    pub fn read<R>(&self, f: impl FnOnce(&SimCluster) -> R) -> R {
        f(&self.lock().cluster)
    }

    /// Changes the cluster at the wall clock's time; then wakes watchers and, when the
    /// controller built a new routing table, hands it to the data plane.
    pub fn write<R>(&self, f: impl FnOnce(&mut SimCluster) -> R) -> R {
        let mut inner = self.lock();
        inner.cluster.advance_to(wall_clock());
        let out = f(&mut inner.cluster);
        let rv = inner.cluster.store().resource_version();
        let builds = inner.cluster.stats().table_builds;
        // The table is copied only when a data plane listens.
        let table =
            (builds != inner.published_builds && self.routing.receiver_count() > 0).then(|| {
                inner.published_builds = builds;
                Arc::new(inner.cluster.table().clone())
            });
        drop(inner);
        self.revision.send_if_modified(|current| {
            let changed = *current != rv;
            *current = rv;
            changed
        });
        if let Some(table) = table {
            self.routing.send_replace(table);
        }
        out
    }

    /// Wakes when the store's resourceVersion moves.
    pub fn revisions(&self) -> watch::Receiver<u64> {
        self.revision.subscribe()
    }

    /// The routing table the data plane should serve, replaced whenever the controller
    /// builds a new one.
    pub fn routing(&self) -> watch::Receiver<Arc<RoutingTable>> {
        let receiver = self.routing.subscribe();
        // Publish the current table: it may have moved on while nobody listened.
        let mut inner = self.lock();
        let builds = inner.cluster.stats().table_builds;
        if builds != inner.published_builds {
            inner.published_builds = builds;
            self.routing
                .send_replace(Arc::new(inner.cluster.table().clone()));
        }
        receiver
    }
}
