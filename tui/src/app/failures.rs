//! The failures view's state: the ring, the filtered index into it, the
//! aggregates and the selection.

use std::collections::VecDeque;

use crate::failure::Failure;
use crate::filter::Filter;
use crate::follow::Batch;
use crate::ring::Ring;
use crate::stats::{PerMinute, Tallies};

/// The failures view.
#[derive(Debug)]
pub struct Failures {
    /// What is held.
    pub ring: Ring,
    /// Sequence numbers of the held failures that pass the filter, oldest first.
    pub visible: VecDeque<u64>,
    /// The filter in force.
    pub filter: Filter,
    /// Its text.
    pub filter_text: String,
    /// Selected position in `visible`.
    pub selected: usize,
    /// First row shown (kept by the drawing code so the selection stays in view).
    pub offset: usize,
    /// Whether the selection follows the newest failure.
    pub follow: bool,
    /// Whether the details pane is shown.
    pub details: bool,
    /// Whether the chart and top lists are shown.
    pub chart: bool,
    /// Lines skipped because they were malformed or cut.
    pub skipped: u64,
    /// Failures read since start.
    pub total: u64,
    /// Per-minute counts.
    pub per_minute: PerMinute,
    /// Tallies over the ring.
    pub tallies: Tallies,
    /// Tallies over the failures that pass the filter, kept only while one is in
    /// force (without one they equal `tallies`); see [`Failures::top`].
    shown: Tallies,
}

impl Failures {
    pub(super) fn new(ring_size: usize) -> Failures {
        Failures {
            ring: Ring::new(ring_size),
            visible: VecDeque::new(),
            filter: Filter::default(),
            filter_text: String::new(),
            selected: 0,
            offset: 0,
            follow: true,
            details: true,
            chart: true,
            skipped: 0,
            total: 0,
            per_minute: PerMinute::default(),
            tallies: Tallies::default(),
            shown: Tallies::default(),
        }
    }

    /// Takes in what the log thread read.
    pub fn ingest(&mut self, batch: Batch) {
        self.skipped += batch.skipped;
        for f in batch.failures {
            self.total += 1;
            self.per_minute.add(f.at, f.reason, f.weight());
            self.tallies.add(&f);
            let pass = self.filter.matches(&f);
            let filtered = !self.filter.is_empty();
            if pass && filtered {
                self.shown.add(&f);
            }
            if let Some(old) = self.ring.push(f) {
                self.tallies.remove(&old);
                if self.visible.front() == Some(&old.seq) {
                    if filtered {
                        self.shown.remove(&old);
                    }
                    self.visible.pop_front();
                    self.selected = self.selected.saturating_sub(1);
                    self.offset = self.offset.saturating_sub(1);
                }
            }
            if pass {
                // The ring numbered it: the newest held failure.
                self.visible
                    .push_back(self.ring.first_seq() + self.ring.len() as u64 - 1);
            }
        }
        if self.follow {
            self.selected = self.visible.len().saturating_sub(1);
        }
    }

    /// Applies a new filter text, keeping the selection on the same failure if it passes.
    pub fn set_filter(&mut self, text: &str) {
        let keep = self.selected_failure().map(|f| f.seq);
        self.filter_text = text.to_owned();
        self.filter = Filter::parse(text);
        let filter = &self.filter;
        self.visible = self.ring.iter().filter(|f| filter.matches(f)).map(|f| f.seq).collect();
        let mut shown = Tallies::default();
        if !self.filter.is_empty() {
            for f in self.visible.iter().filter_map(|&s| self.ring.get(s)) {
                shown.add(f);
            }
        }
        self.shown = shown;
        self.selected = match (self.follow, keep) {
            (false, Some(seq)) => self.visible.partition_point(|&s| s < seq),
            _ => self.visible.len().saturating_sub(1),
        }
        .min(self.visible.len().saturating_sub(1));
    }

    /// Tallies of the failures the table shows: those passing the filter.
    pub fn top(&self) -> &Tallies {
        if self.filter.is_empty() {
            &self.tallies
        } else {
            &self.shown
        }
    }

    /// The selected failure.
    pub fn selected_failure(&self) -> Option<&Failure> {
        self.visible.get(self.selected).and_then(|&s| self.ring.get(s))
    }

    /// The failure at a position of the filtered list.
    pub fn visible_at(&self, pos: usize) -> Option<&Failure> {
        self.visible.get(pos).and_then(|&s| self.ring.get(s))
    }
}
