//! The event queue: events due at a simulated time, run in `(time, sequence)` order.
//!
//! Two events due at the same time run in the order they were scheduled, so a run never
//! depends on how a heap breaks ties.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use crate::time::SimTime;

/// Events of type `E` ordered by due time, then by scheduling order.
#[derive(Clone, Debug)]
pub struct EventQueue<E> {
    heap: BinaryHeap<Reverse<Entry<E>>>,
    next_seq: u64,
}

#[derive(Clone, Debug)]
struct Entry<E> {
    at: SimTime,
    seq: u64,
    event: E,
}

impl<E> PartialEq for Entry<E> {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}

impl<E> Eq for Entry<E> {}

impl<E> PartialOrd for Entry<E> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl<E> Ord for Entry<E> {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}

impl<E> Default for EventQueue<E> {
    fn default() -> Self {
        EventQueue {
            heap: BinaryHeap::new(),
            next_seq: 0,
        }
    }
}

impl<E> EventQueue<E> {
    pub fn new() -> Self {
        Self::default()
    }

    /// Schedules `event` at `at`.
    pub fn schedule(&mut self, at: SimTime, event: E) {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.heap.push(Reverse(Entry { at, seq, event }));
    }

    /// When the next event is due.
    pub fn next_due(&self) -> Option<SimTime> {
        self.heap.peek().map(|Reverse(e)| e.at)
    }

    /// Removes and returns the next event if it is due at or before `now`.
    pub fn pop_due(&mut self, now: SimTime) -> Option<(SimTime, E)> {
        if self.next_due()? > now {
            return None;
        }
        self.heap.pop().map(|Reverse(e)| (e.at, e.event))
    }

    pub fn len(&self) -> usize {
        self.heap.len()
    }

    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_in_time_then_scheduling_order() {
        let mut q = EventQueue::new();
        let t = SimTime::from_millis;
        q.schedule(t(20), "c");
        q.schedule(t(10), "a");
        q.schedule(t(10), "b");
        q.schedule(t(30), "d");
        assert_eq!(q.len(), 4);
        assert_eq!(q.next_due(), Some(t(10)));
        assert_eq!(q.pop_due(t(5)), None);
        let mut seen = Vec::new();
        while let Some((at, e)) = q.pop_due(t(20)) {
            seen.push((at.as_millis(), e));
        }
        assert_eq!(seen, vec![(10, "a"), (10, "b"), (20, "c")]);
        assert_eq!(q.pop_due(t(100)), Some((t(30), "d")));
        assert!(q.is_empty());
    }
}
