//! A bounded buffer of the most recent failures, addressed by sequence number.

use std::collections::VecDeque;

use crate::failure::Failure;

/// Keeps at most `capacity` failures; pushing beyond drops the oldest.
#[derive(Debug)]
pub struct Ring {
    items: VecDeque<Failure>,
    capacity: usize,
    next_seq: u64,
}

impl Ring {
    /// An empty ring holding at most `capacity` (at least 1) failures.
    pub fn new(capacity: usize) -> Ring {
        let capacity = capacity.max(1);
        Ring {
            items: VecDeque::with_capacity(capacity.min(1 << 16)),
            capacity,
            next_seq: 0,
        }
    }

    /// Appends, numbering the failure; returns the one dropped to make room.
    pub fn push(&mut self, mut f: Failure) -> Option<Failure> {
        f.seq = self.next_seq;
        self.next_seq += 1;
        let evicted = if self.items.len() == self.capacity {
            self.items.pop_front()
        } else {
            None
        };
        self.items.push_back(f);
        evicted
    }

    /// The failure with this sequence number, if still held.
    pub fn get(&self, seq: u64) -> Option<&Failure> {
        let first = self.items.front()?.seq;
        let i = usize::try_from(seq.checked_sub(first)?).ok()?;
        self.items.get(i)
    }

    /// Sequence number of the oldest failure held (or the next one, when empty).
    pub fn first_seq(&self) -> u64 {
        self.items.front().map_or(self.next_seq, |f| f.seq)
    }

    /// Oldest first.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &Failure> + ExactSizeIterator {
        self.items.iter()
    }

    /// How many are held.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether none are held.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The most that will be held.
    pub fn capacity(&self) -> usize {
        self.capacity
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(at: i64) -> Failure {
        Failure {
            seq: 0,
            at,
            reason: None,
            record: Default::default(),
        }
    }

    #[test]
    fn ring_keeps_only_the_newest_and_numbers_them() {
        let mut r = Ring::new(3);
        for at in 0..5 {
            r.push(f(at));
        }
        assert_eq!(r.len(), 3);
        assert_eq!(r.iter().map(|x| x.at).collect::<Vec<_>>(), vec![2, 3, 4]);
        assert_eq!(r.first_seq(), 2);
        assert_eq!(r.get(3).map(|x| x.at), Some(3));
        assert!(r.get(1).is_none(), "evicted");
        assert!(r.get(5).is_none(), "not yet written");
    }

    #[test]
    fn push_returns_the_evicted_failure() {
        let mut r = Ring::new(1);
        assert!(r.push(f(1)).is_none());
        assert_eq!(r.push(f(2)).map(|x| x.at), Some(1));
        assert_eq!(r.capacity(), 1);
    }
}
