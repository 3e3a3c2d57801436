//! The data plane's runtime rules for one forwarded request: retries (GEP-1731) and timeouts
//! (GEP-1742), as a state machine the caller drives with what each attempt did.
//!
//! The caller (the simulator in virtual time, the proxy in real time) picks an endpoint,
//! makes an attempt, and reports it as an [`Attempt`]: how it ended and how long it took. The
//! [`Exchange`] answers with the next [`Step`]: retry after a backoff, or finish with a
//! [`Final`] outcome. No clock, no I/O: the same attempts give the same steps, so the simulator
//! and the proxy cannot drift apart.
//!
//! Rules:
//! - `timeouts.backendRequest` bounds each attempt; an attempt that outlives it counts as a
//!   timed-out attempt that took exactly the limit.
//! - `timeouts.request` bounds the whole exchange, retries and backoff included; past it the
//!   answer is a timeout (504), whatever the attempt did.
//! - With a `retry` stanza, connection errors and timed-out attempts are retried whatever
//!   `codes` says (GEP-1731, HTTPRouteRetryBackendTimeout); an answer is retried when its status
//!   is in `codes`. A Service without endpoints is never retried.
//! - No retry starts once the request deadline is reached: at that instant the request timer
//!   fires (an answer needs time, however little).
//! - A request is retried at most [`MAX_RETRIES_PER_REQUEST`] times (a gwsim limit; the
//!   controller refuses a larger `retry.attempts` on the rule).
//!
//! Durations add with saturation: a backend delay near `Duration::MAX` is a timeout or a very
//! late answer, never an overflow.

use std::time::Duration;

use crate::config::{Retry, Timeouts};
use crate::decision::ServiceRef;

/// gwsim's limit on `retry.attempts`: the retries one request may make. The API sets no
/// maximum; a rule asking for more is refused by the controller with a message naming the
/// field and this limit (see docs/behaviour.md).
pub const MAX_RETRIES_PER_REQUEST: u32 = 100;

/// How one attempt ended, as the caller saw it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttemptOutcome {
    /// The Service port had no ready endpoint to try.
    NoEndpoints,
    /// The connection failed or was reset before an answer.
    Reset,
    /// No answer before the deadline the caller was given ([`Exchange::attempt_deadline`]);
    /// the caller stopped waiting.
    Unanswered,
    /// The backend answered with this status.
    Answered { status: u16 },
}

/// One attempt: how it ended and how long it took (connection, request and answer).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Attempt {
    pub outcome: AttemptOutcome,
    pub took: Duration,
}

/// How the exchange ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Final {
    /// The last attempt's answer stands: the caller returns it.
    Answered { status: u16 },
    /// No endpoint: 503.
    NoEndpoints,
    /// Every attempt's connection failed: 503.
    ConnectionFailed,
    /// `backendRequest` or `request` expired: 504.
    TimedOut,
}

impl Final {
    /// The status the Gateway answers with when it answers by itself; `None` for a backend's
    /// answer.
    pub fn local_status(self) -> Option<u16> {
        match self {
            Final::Answered { .. } => None,
            Final::NoEndpoints | Final::ConnectionFailed => Some(503),
            Final::TimedOut => Some(504),
        }
    }
}

/// What to do after an attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Wait `backoff`, then make attempt number [`Exchange::attempt_number`].
    Retry {
        backoff: Duration,
    },
    Finish(Final),
}

/// Endpoint lookup: the caller's view of the Service ports behind the Gateway.
pub trait Endpoints {
    /// The endpoint a caller delivers to.
    type Endpoint;
    /// The endpoint for attempt `attempt` (0 for the first) of a request; `None` when the
    /// Service port has no ready endpoint.
    fn pick(&mut self, backend: &ServiceRef, attempt: u32) -> Option<Self::Endpoint>;
}

/// The state of one forwarded request's exchange with its backend.
#[derive(Clone, Debug)]
pub struct Exchange {
    timeouts: Timeouts,
    retry: Option<Retry>,
    retries_left: u32,
    attempts_made: u32,
    elapsed: Duration,
}

impl Exchange {
    pub fn new(timeouts: &Timeouts, retry: Option<&Retry>) -> Exchange {
        Exchange {
            timeouts: timeouts.clone(),
            retry: retry.cloned(),
            retries_left: retry.map_or(0, |r| r.attempts.min(MAX_RETRIES_PER_REQUEST)),
            attempts_made: 0,
            elapsed: Duration::ZERO,
        }
    }

    /// The number of the next attempt (0 for the first).
    pub fn attempt_number(&self) -> u32 {
        self.attempts_made
    }

    /// Time spent so far: attempts and backoffs.
    pub fn elapsed(&self) -> Duration {
        self.elapsed
    }

    /// Whether how long attempts take can change the exchange (a `request` or `backendRequest`
    /// timeout is set): when not, a caller need not read a clock for [`Attempt::took`].
    pub fn times_attempts(&self) -> bool {
        self.timeouts.request.is_some() || self.timeouts.backend_request.is_some()
    }

    /// How long the next attempt may take before the caller stops waiting: the shorter of
    /// `backendRequest` and what is left of `request`. `None`: no limit.
    pub fn attempt_deadline(&self) -> Option<Duration> {
        let left = self
            .timeouts
            .request
            .map(|limit| limit.saturating_sub(self.elapsed));
        match (self.timeouts.backend_request, left) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The next step after an attempt.
    pub fn record(&mut self, attempt: Attempt) -> Step {
        self.attempts_made = self.attempts_made.saturating_add(1);
        let Attempt { outcome, took } = attempt;
        // GEP-1742: backendRequest bounds each attempt.
        let (outcome, took) = match self.timeouts.backend_request {
            Some(limit) if took > limit => (AttemptOutcome::Unanswered, limit),
            _ => (outcome, took),
        };
        self.elapsed = self.elapsed.saturating_add(took);
        let past_deadline = |elapsed: Duration, limit: Duration| match outcome {
            // The caller stopped waiting at the deadline it was given, so reaching it is enough.
            AttemptOutcome::Unanswered => elapsed >= limit,
            _ => elapsed > limit,
        };
        if self
            .timeouts
            .request
            .is_some_and(|limit| past_deadline(self.elapsed, limit))
        {
            return Step::Finish(Final::TimedOut);
        }
        let last = match outcome {
            AttemptOutcome::NoEndpoints => return Step::Finish(Final::NoEndpoints),
            AttemptOutcome::Reset => Final::ConnectionFailed,
            AttemptOutcome::Unanswered => Final::TimedOut,
            AttemptOutcome::Answered { status } => Final::Answered { status },
        };
        let Some(retry) = &self.retry else {
            return Step::Finish(last);
        };
        let retryable = match last {
            Final::Answered { status } => retry.codes.contains(&status),
            _ => true,
        };
        if !retryable || self.retries_left == 0 {
            return Step::Finish(last);
        }
        self.retries_left -= 1;
        let backoff = retry.backoff.unwrap_or_default();
        self.elapsed = self.elapsed.saturating_add(backoff);
        if self
            .timeouts
            .request
            .is_some_and(|limit| self.elapsed >= limit)
        {
            return Step::Finish(Final::TimedOut);
        }
        Step::Retry { backoff }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn answered(status: u16, took: u64) -> Attempt {
        Attempt {
            outcome: AttemptOutcome::Answered { status },
            took: ms(took),
        }
    }

    fn retry(codes: &[u16], attempts: u32, backoff: Option<u64>) -> Retry {
        Retry {
            codes: codes.to_vec(),
            attempts,
            backoff: backoff.map(ms),
        }
    }

    /// Drives an exchange with attempts until it finishes; the steps taken and the end.
    fn drive(exchange: &mut Exchange, attempts: &[Attempt]) -> (usize, Final) {
        for (n, attempt) in attempts.iter().enumerate() {
            if let Step::Finish(end) = exchange.record(*attempt) {
                return (n + 1, end);
            }
        }
        panic!("the exchange wants more attempts than given");
    }

    #[test]
    fn without_retry_the_first_attempt_stands() {
        let mut e = Exchange::new(&Timeouts::default(), None);
        assert_eq!(
            drive(&mut e, &[answered(500, 1)]),
            (1, Final::Answered { status: 500 })
        );
        let mut e = Exchange::new(&Timeouts::default(), None);
        let reset = Attempt {
            outcome: AttemptOutcome::Reset,
            took: ms(0),
        };
        assert_eq!(drive(&mut e, &[reset]), (1, Final::ConnectionFailed));
        assert_eq!(Final::ConnectionFailed.local_status(), Some(503));
        assert_eq!(Final::TimedOut.local_status(), Some(504));
        assert_eq!(Final::Answered { status: 500 }.local_status(), None);
    }

    #[test]
    fn only_timeouts_make_the_time_attempts_take_count() {
        let slow = || {
            let mut e = Exchange::new(&Timeouts::default(), Some(&retry(&[500], 1, None)));
            drive(
                &mut e,
                &[answered(500, u64::MAX / 2), answered(200, u64::MAX / 2)],
            )
        };
        let fast = || {
            let mut e = Exchange::new(&Timeouts::default(), Some(&retry(&[500], 1, None)));
            drive(&mut e, &[answered(500, 0), answered(200, 0)])
        };
        assert!(!Exchange::new(&Timeouts::default(), None).times_attempts());
        assert_eq!(slow(), fast());
        assert_eq!(fast(), (2, Final::Answered { status: 200 }));
        for timeouts in [
            Timeouts {
                request: Some(ms(100)),
                ..Timeouts::default()
            },
            Timeouts {
                backend_request: Some(ms(100)),
                ..Timeouts::default()
            },
        ] {
            let mut e = Exchange::new(&timeouts, None);
            assert!(e.times_attempts());
            assert_eq!(drive(&mut e, &[answered(200, 101)]), (1, Final::TimedOut));
        }
    }

    #[test]
    fn retries_follow_codes_and_attempts() {
        let r = retry(&[500], 2, None);
        let mut e = Exchange::new(&Timeouts::default(), Some(&r));
        let fails = [answered(500, 1), answered(500, 1), answered(500, 1)];
        assert_eq!(drive(&mut e, &fails), (3, Final::Answered { status: 500 }));
        let mut e = Exchange::new(&Timeouts::default(), Some(&r));
        assert_eq!(
            drive(&mut e, &[answered(502, 1)]),
            (1, Final::Answered { status: 502 })
        );
        // Connection errors are retried without codes; no endpoints never.
        let r = retry(&[], 1, None);
        let mut e = Exchange::new(&Timeouts::default(), Some(&r));
        let reset = Attempt {
            outcome: AttemptOutcome::Reset,
            took: ms(0),
        };
        assert_eq!(
            drive(&mut e, &[reset, answered(200, 1)]),
            (2, Final::Answered { status: 200 })
        );
        assert_eq!(e.attempt_number(), 2);
        let mut e = Exchange::new(&Timeouts::default(), Some(&r));
        let none = Attempt {
            outcome: AttemptOutcome::NoEndpoints,
            took: ms(0),
        };
        assert_eq!(drive(&mut e, &[none]), (1, Final::NoEndpoints));
    }

    #[test]
    fn timeouts_bound_attempts_and_the_exchange() {
        let t = Timeouts {
            request: Some(ms(400)),
            backend_request: Some(ms(200)),
        };
        let r = retry(&[500], 5, None);
        // Four failures of 100ms reach the 400ms deadline: no fifth attempt.
        let mut e = Exchange::new(&t, Some(&r));
        assert_eq!(e.attempt_deadline(), Some(ms(200)));
        let fails = [answered(500, 100); 5];
        assert_eq!(drive(&mut e, &fails), (4, Final::TimedOut));
        // A slow attempt times out and is retried without codes.
        let r = retry(&[], 2, None);
        let mut e = Exchange::new(&t, Some(&r));
        assert_eq!(
            drive(&mut e, &[answered(200, 300), answered(200, 10)]),
            (2, Final::Answered { status: 200 })
        );
        // The deadline shrinks to what is left of the request.
        let mut e = Exchange::new(&t, Some(&r));
        e.record(answered(500, 300));
        assert_eq!(e.attempt_deadline(), Some(ms(200)));
        e.record(Attempt {
            outcome: AttemptOutcome::Unanswered,
            took: ms(50),
        });
        assert_eq!(e.attempt_deadline(), Some(ms(150)));
        // An unanswered attempt at the request deadline ends the exchange.
        let t = Timeouts {
            request: Some(ms(100)),
            backend_request: None,
        };
        let mut e = Exchange::new(&t, Some(&r));
        let waited = Attempt {
            outcome: AttemptOutcome::Unanswered,
            took: ms(100),
        };
        assert_eq!(drive(&mut e, &[waited]), (1, Final::TimedOut));
        // Backoff counts toward the request timeout.
        let r = retry(&[500], 3, Some(60));
        let mut e = Exchange::new(&t, Some(&r));
        assert_eq!(e.record(answered(500, 30)), Step::Retry { backoff: ms(60) });
        assert_eq!(e.record(answered(500, 5)), Step::Finish(Final::TimedOut));
    }

    /// Issue 10, finding 1: a backend delay near `Duration::MAX`, retried, overflowed the
    /// elapsed time.
    #[test]
    fn huge_delays_saturate() {
        let huge = Duration::from_secs(4_000_000_000_000_000 * 3600);
        let mut r = retry(&[500], 3, None);
        r.backoff = Some(Duration::MAX);
        let mut e = Exchange::new(&Timeouts::default(), Some(&r));
        let attempt = Attempt {
            outcome: AttemptOutcome::Answered { status: 500 },
            took: huge,
        };
        assert!(matches!(e.record(attempt), Step::Retry { .. }));
        assert!(matches!(e.record(attempt), Step::Retry { .. }));
        assert_eq!(e.elapsed(), Duration::MAX);
        let t = Timeouts {
            request: Some(Duration::MAX),
            backend_request: None,
        };
        let mut e = Exchange::new(&t, Some(&r));
        assert_eq!(e.record(attempt), Step::Finish(Final::TimedOut));
    }

    /// Issue 10, finding 3: `retry.attempts: 2147483647` made the simulator retry that often.
    #[test]
    fn retries_are_bounded_by_the_gwsim_limit() {
        let r = retry(&[500], i32::MAX as u32, None);
        let mut e = Exchange::new(&Timeouts::default(), Some(&r));
        let mut attempts = 0;
        while let Step::Retry { .. } = e.record(answered(500, 0)) {
            attempts += 1;
            assert!(attempts <= MAX_RETRIES_PER_REQUEST, "unbounded retries");
        }
        assert_eq!(attempts, MAX_RETRIES_PER_REQUEST);
    }
}
