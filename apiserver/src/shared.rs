//! The cluster a server shares between its tasks: one [`SimCluster`] behind a mutex (never
//! held across an `.await`), a `watch` of the store's resourceVersion that wakes watchers, a
//! `watch` of what the data plane serves, and the controller's work queue.
//!
//! Writes are admitted and stored at once and answered as kube-apiserver answers them; the
//! controllers (workloads, the Gateway controller) run in the background on their own
//! thread, as a real controller's work queue does: a write marks the cluster dirty, and one
//! run covers every write since the last (debounced: it starts once writes pause for
//! [`QUIET`], or at the latest [`MAX_DELAY`] after the first write it covers, stretched so
//! that runs take at most a fifth of the time during a long burst). A run writes statuses
//! with new resourceVersions (watch events) and publishes the data plane's state.
//! [`SharedCluster::settled`] waits until the controllers have run over every write made
//! before it was called, for tests and for clients that need a settled cluster.

use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError, Weak};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use gwsim_engine::object::Snapshot;
use gwsim_engine::table::RoutingTable;
use gwsim_sim::SimCluster;
use gwsim_sim::time::{EPOCH_UNIX_SECONDS, SimTime};
use tokio::sync::watch;

/// How many changes (with their objects) the store keeps for watches by default; a watch
/// from an older resourceVersion gets 410 Gone and starts again from a list.
pub const DEFAULT_HISTORY: usize = 20_000;

/// A run starts once writes have paused this long.
pub const QUIET: Duration = Duration::from_millis(20);
/// ... or this long after the first write it covers, whichever comes first (stretched to
/// four times the last run's cost, so a burst of writes is never starved by reconciles).
pub const MAX_DELAY: Duration = Duration::from_millis(200);

/// What the data plane serves: the objects (Services, EndpointSlices, pods, Secrets) and
/// the routing table, as of one controller run.
#[derive(Debug)]
pub struct DataPlaneState {
    pub snapshot: Snapshot,
    pub table: RoutingTable,
    /// The store's resourceVersion the state was taken at.
    pub resource_version: u64,
}

struct Inner {
    cluster: SimCluster,
    /// Writes so far that left work for the controllers (a ticket for [`SharedCluster::settled`]).
    writes: u64,
    /// The resourceVersion of the last published data-plane state.
    published_rv: u64,
}

/// One simulated cluster, shared by the API server's handlers and the data plane.
pub struct SharedCluster {
    inner: Mutex<Inner>,
    revision: watch::Sender<u64>,
    data_plane: watch::Sender<Arc<DataPlaneState>>,
    /// The last write ticket a controller run covered.
    settled: watch::Sender<u64>,
    queue: Arc<WorkQueue>,
}

/// The wall clock as simulator time (milliseconds since the simulator's epoch; never before it).
pub fn wall_clock() -> SimTime {
    let unix_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    let epoch_ms = (EPOCH_UNIX_SECONDS as u128) * 1000;
    SimTime::from_millis(u64::try_from(unix_ms.saturating_sub(epoch_ms)).unwrap_or(u64::MAX))
}

/// Counters of the controller's work queue.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct QueueStats {
    /// Writes that left work for the controllers.
    pub writes: u64,
    /// Controller runs (each covers every write since the one before).
    pub runs: u64,
}

impl SharedCluster {
    /// Shares `cluster` (settled first), keeping `history` changes with their bodies for
    /// watches, and starts the controller's thread; it ends when the last handle is dropped.
    pub fn new(mut cluster: SimCluster, history: usize) -> Arc<SharedCluster> {
        cluster.keep_history(history);
        cluster.advance_to(wall_clock());
        cluster.defer_controllers();
        let rv = cluster.store().resource_version();
        let state = Arc::new(DataPlaneState {
            snapshot: cluster.snapshot().clone(),
            table: cluster.table().clone(),
            resource_version: rv,
        });
        let queue = Arc::new(WorkQueue::default());
        let shared = Arc::new(SharedCluster {
            inner: Mutex::new(Inner {
                cluster,
                writes: 0,
                published_rv: rv,
            }),
            revision: watch::Sender::new(rv),
            data_plane: watch::Sender::new(state),
            settled: watch::Sender::new(0),
            queue: queue.clone(),
        });
        let weak = Arc::downgrade(&shared);
        let spawned = std::thread::Builder::new()
            .name("gwsim-controller".into())
            .spawn(move || controller_loop(&weak, &queue));
        if let Err(e) = spawned {
            // Without a thread the controllers run on every write instead (still correct).
            tracing::warn!("no controller thread ({e}); reconciling on every write");
            shared.queue.lock().synchronous = true;
        }
        shared
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Reads the cluster.
    pub fn read<R>(&self, f: impl FnOnce(&SimCluster) -> R) -> R {
        f(&self.lock().cluster)
    }

    /// Changes the cluster at the wall clock's time and wakes watchers; the controllers run
    /// later, in the background, over this and every other write since their last run.
    pub fn write<R>(&self, f: impl FnOnce(&mut SimCluster) -> R) -> R {
        let mut inner = self.lock();
        inner.cluster.advance_to(wall_clock());
        let out = f(&mut inner.cluster);
        let rv = inner.cluster.store().resource_version();
        let pending = inner.cluster.controllers_pending();
        if pending {
            inner.writes += 1;
        }
        drop(inner);
        self.announce(rv);
        if pending {
            if self.queue.lock().synchronous {
                self.run_controllers();
            } else {
                self.queue.note_write();
            }
        }
        out
    }

    fn announce(&self, rv: u64) {
        self.revision.send_if_modified(|current| {
            let changed = *current != rv;
            *current = rv;
            changed
        });
    }

    /// One controller run over every write so far: statuses written (watch events), the
    /// data plane's state published when a data plane listens.
    fn run_controllers(&self) {
        let mut inner = self.lock();
        inner.cluster.advance_to(wall_clock());
        let ticket = inner.writes;
        inner.cluster.run_controllers();
        let rv = inner.cluster.store().resource_version();
        // The snapshot and table are copied only when a data plane listens.
        let state = (rv != inner.published_rv && self.data_plane.receiver_count() > 0).then(|| {
            inner.published_rv = rv;
            Arc::new(DataPlaneState {
                snapshot: inner.cluster.snapshot().clone(),
                table: inner.cluster.table().clone(),
                resource_version: rv,
            })
        });
        drop(inner);
        self.announce(rv);
        if let Some(state) = state {
            self.data_plane.send_replace(state);
        }
        let runs = {
            let mut queue = self.queue.lock();
            queue.runs += 1;
            queue.runs
        };
        tracing::debug!(target: "gwsim::controller", run = runs, writes = ticket, rv, "controller run");
        self.settled.send_if_modified(|current| {
            let moved = *current < ticket;
            *current = (*current).max(ticket);
            moved
        });
    }

    /// Waits until the controllers have run over every write made before this call: their
    /// statuses are stored and the data plane's state is published.
    pub async fn settled(&self) {
        let ticket = self.lock().writes;
        let mut settled = self.settled.subscribe();
        // The sender lives as long as `self`: the wait cannot fail.
        let _ = settled.wait_for(|done| *done >= ticket).await;
    }

    /// The work queue's counters.
    pub fn queue_stats(&self) -> QueueStats {
        let writes = self.lock().writes;
        QueueStats {
            writes,
            runs: self.queue.lock().runs,
        }
    }

    /// Wakes when the store's resourceVersion moves.
    pub fn revisions(&self) -> watch::Receiver<u64> {
        self.revision.subscribe()
    }

    /// What the data plane should serve, replaced after every controller run that changed
    /// the store (the routing table, Services, EndpointSlices, pods, Secrets).
    pub fn data_plane(&self) -> watch::Receiver<Arc<DataPlaneState>> {
        let receiver = self.data_plane.subscribe();
        // Publish the current state: it may have moved on while nobody listened.
        let mut inner = self.lock();
        let rv = inner.cluster.store().resource_version();
        if rv != inner.published_rv {
            inner.published_rv = rv;
            self.data_plane.send_replace(Arc::new(DataPlaneState {
                snapshot: inner.cluster.snapshot().clone(),
                table: inner.cluster.table().clone(),
                resource_version: rv,
            }));
        }
        receiver
    }
}

impl Drop for SharedCluster {
    fn drop(&mut self) {
        let mut queue = self.queue.lock();
        queue.stop = true;
        drop(queue);
        self.queue.wake.notify_all();
    }
}

/// The controller thread's queue: when writes came, and what the last run cost.
#[derive(Default)]
struct WorkQueue {
    state: Mutex<QueueState>,
    wake: Condvar,
}

#[derive(Default)]
struct QueueState {
    /// The first write the next run covers.
    first_pending: Option<Instant>,
    last_write: Option<Instant>,
    last_cost: Duration,
    runs: u64,
    stop: bool,
    /// No thread: the writer runs the controllers itself.
    synchronous: bool,
}

impl WorkQueue {
    fn lock(&self) -> MutexGuard<'_, QueueState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn note_write(&self) {
        let now = Instant::now();
        let mut state = self.lock();
        state.first_pending.get_or_insert(now);
        state.last_write = Some(now);
        drop(state);
        self.wake.notify_one();
    }

    /// Blocks until a run is due; `false` once the cluster is gone.
    fn wait_until_due(&self) -> bool {
        let mut state = self.lock();
        loop {
            if state.stop {
                return false;
            }
            match (state.first_pending, state.last_write) {
                (Some(first), Some(last)) => {
                    let due = (last + QUIET).min(first + MAX_DELAY.max(state.last_cost * 4));
                    let now = Instant::now();
                    if now >= due {
                        state.first_pending = None;
                        return true;
                    }
                    state = self
                        .wake
                        .wait_timeout(state, due - now)
                        .unwrap_or_else(PoisonError::into_inner)
                        .0;
                }
                _ => {
                    state = self
                        .wake
                        .wait(state)
                        .unwrap_or_else(PoisonError::into_inner);
                }
            }
        }
    }
}

fn controller_loop(cluster: &Weak<SharedCluster>, queue: &WorkQueue) {
    while queue.wait_until_due() {
        let Some(cluster) = cluster.upgrade() else {
            return;
        };
        let started = Instant::now();
        cluster.run_controllers();
        queue.lock().last_cost = started.elapsed();
    }
}
