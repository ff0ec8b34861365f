//! Client-side balancing over several endpoints serving the same model.
//!
//! Each request takes a [`Lease`] on the usable endpoint with the fewest
//! requests in flight (ties: round-robin), never more than the per-endpoint cap
//! at once. With two or more endpoints, one whose attempt fails (connection
//! error, timeout, 429, 5xx) is taken out for a cool-down (`cooldown_s`, doubled
//! per failure in a row up to `max_cooldown_s`); after it, one request at a time
//! probes it until one succeeds. Waiting (every endpoint full or cooling down)
//! happens on a condition variable; no lock is held while a request is in flight.
//! A single endpoint is never taken out: the client's backoff governs its retries.

use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Longest single wait on the condition variable (then the state is re-read).
const MAX_WAIT: Duration = Duration::from_secs(1);

/// What one endpoint has seen so far.
#[derive(Clone, Debug, PartialEq)]
pub struct EndpointStats {
    /// The `/chat/completions` URL.
    pub url: String,
    /// Attempts sent to it.
    pub requests: u64,
    /// Attempts that failed with a connection error, timeout, 429 or 5xx.
    pub failures: u64,
    /// Whether it is in use now (not cooling down or waiting for a probe).
    pub healthy: bool,
}

#[derive(Default)]
struct Slot {
    outstanding: usize,
    /// Out until then (None: healthy).
    down_until: Option<Instant>,
    /// A probe is in flight after the cool-down.
    probing: bool,
    /// The next cool-down.
    cooldown: Duration,
    requests: u64,
    failures: u64,
}

struct State {
    slots: Vec<Slot>,
    cursor: usize,
}

/// The endpoints, their health and their requests in flight.
pub(crate) struct Pool {
    urls: Vec<String>,
    cap: usize,
    cooldown: Duration,
    max_cooldown: Duration,
    state: Mutex<State>,
    freed: Condvar,
}

/// One request's hold on an endpoint; dropping it frees the slot.
pub(crate) struct Lease<'a> {
    pool: &'a Pool,
    index: usize,
    probe: bool,
}

impl Pool {
    /// A pool over `urls` (at least one) with `cap` requests in flight per endpoint.
    pub(crate) fn new(urls: Vec<String>, cap: usize, cooldown: Duration, max_cooldown: Duration) -> Self {
        let slots = urls.iter().map(|_| Slot { cooldown, ..Slot::default() }).collect();
        Self { urls, cap: cap.max(1), cooldown, max_cooldown, state: Mutex::new(State { slots, cursor: 0 }), freed: Condvar::new() }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits for a usable endpoint and takes a slot on it, preferring any other
    /// than `avoid` (the one a retried request just failed on).
    pub(crate) fn acquire(&self, avoid: Option<usize>) -> Lease<'_> {
        let mut st = self.lock();
        loop {
            let now = Instant::now();
            if let Some(index) = self.pick(&st, now, avoid) {
                let slot = &mut st.slots[index];
                let probe = slot.down_until.is_some();
                slot.probing |= probe;
                slot.outstanding += 1;
                slot.requests += 1;
                st.cursor = (index + 1) % self.urls.len();
                return Lease { pool: self, index, probe };
            }
            let back = st.slots.iter().filter(|s| !s.probing).filter_map(|s| s.down_until).min();
            let wait = back.map_or(MAX_WAIT, |t| t.saturating_duration_since(now)).clamp(Duration::from_millis(1), MAX_WAIT);
            st = self.freed.wait_timeout(st, wait).map_or_else(|e| e.into_inner().0, |r| r.0);
        }
    }

    /// The usable endpoint with the fewest requests in flight, scanning from the cursor.
    fn pick(&self, st: &State, now: Instant, avoid: Option<usize>) -> Option<usize> {
        let n = st.slots.len();
        let order = (0..n).map(|k| (st.cursor + k) % n);
        let usable: Vec<usize> = order
            .filter(|&i| {
                let s = &st.slots[i];
                s.outstanding < self.cap && s.down_until.is_none_or(|t| t <= now && !s.probing)
            })
            .collect();
        let others = usable.iter().copied().filter(|&i| Some(i) != avoid);
        let preferred: Vec<usize> = if others.clone().next().is_some() { others.collect() } else { usable };
        preferred.into_iter().min_by_key(|&i| st.slots[i].outstanding)
    }

    /// Whether an endpoint other than `index` is healthy now (a retry need not wait).
    pub(crate) fn other_healthy(&self, index: usize) -> bool {
        let st = self.lock();
        st.slots.iter().enumerate().any(|(i, s)| i != index && s.down_until.is_none())
    }

    /// Per-endpoint counters and health, in order.
    pub(crate) fn stats(&self) -> Vec<EndpointStats> {
        let st = self.lock();
        self.urls
            .iter()
            .zip(&st.slots)
            .map(|(url, s)| EndpointStats { url: url.clone(), requests: s.requests, failures: s.failures, healthy: s.down_until.is_none() })
            .collect()
    }
}

impl Lease<'_> {
    /// The endpoint's `/chat/completions` URL.
    pub(crate) fn url(&self) -> &str {
        &self.pool.urls[self.index]
    }

    /// Its index in the pool.
    pub(crate) fn index(&self) -> usize {
        self.index
    }

    /// The endpoint answered (even with a 4xx or a malformed reply): it is up.
    pub(crate) fn answered(self) {
        let mut st = self.pool.lock();
        let slot = &mut st.slots[self.index];
        if slot.down_until.is_some() {
            tracing::info!(endpoint = %self.url(), "endpoint back in use");
        }
        slot.down_until = None;
        slot.probing = false;
        slot.cooldown = self.pool.cooldown;
    }

    /// The attempt failed in a way that says the endpoint is in trouble: take it
    /// out for its cool-down (at least `retry_after`), unless it is the only one
    /// or another failure already took it out.
    pub(crate) fn failed(self, retry_after: Option<Duration>) {
        let mut st = self.pool.lock();
        let alone = st.slots.len() == 1;
        let slot = &mut st.slots[self.index];
        slot.failures += 1;
        if alone || (slot.down_until.is_some() && !self.probe) {
            return;
        }
        let wait = slot.cooldown.max(retry_after.unwrap_or_default().min(self.pool.max_cooldown));
        slot.down_until = Some(Instant::now() + wait);
        slot.probing = false;
        slot.cooldown = (slot.cooldown * 2).min(self.pool.max_cooldown);
        tracing::warn!(endpoint = %self.url(), cooldown_ms = wait.as_millis() as u64, "endpoint taken out");
    }
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        let mut st = self.pool.lock();
        let slot = &mut st.slots[self.index];
        slot.outstanding = slot.outstanding.saturating_sub(1);
        if self.probe && slot.probing {
            // Neither answered nor failed (should not happen): let another probe go.
            slot.probing = false;
        }
        drop(st);
        self.pool.freed.notify_all();
    }
}
