//! gwsim's own limits on scenario work: every number a scenario writes is bounded, so no input
//! makes the simulator hang or grow without end. Each is documented in docs/limits.md, and
//! hitting one is an error naming the field and the limit.

/// Requests one `request` step may send (`request.count`).
pub const MAX_REQUESTS_PER_STEP: u32 = 100_000;

/// Requests a whole scenario may send: the sum of its steps' `request.count`.
pub const MAX_REQUESTS_PER_SCENARIO: u64 = 1_000_000;

/// Replicas one Deployment may ask for (`spec.replicas`), checked when it is applied.
pub const MAX_REPLICAS_PER_DEPLOYMENT: i32 = 10_000;

/// Pods the simulated workload controllers keep in the whole cluster. Past it a Deployment
/// gets no more pods and says so in its `ReplicaFailure` condition, as with a quota.
pub const MAX_PODS: usize = 20_000;

/// Entries each echo pod keeps in its request log (a ring buffer: the oldest go first). A
/// mirror check that needs an evicted entry fails saying so.
pub const ECHO_LOG_PER_POD: usize = 100_000;
