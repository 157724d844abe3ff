//! A bound on concurrent password hashes, with one reusable block of argon2
//! working memory per slot.
//!
//! Each argon2id verification at [`HashCost::OWASP`] works in 7 MiB. Allocated per
//! hash, those buffers land in the allocator's per-thread arenas and stay resident
//! long after a login storm (hundreds of MB with glibc). Here the memory is
//! allocated once per slot, at most [`HashLimits::concurrent_hashes`] of them, and
//! handed from one hash to the next; a login that finds every slot busy for
//! [`HashLimits::hash_wait`] is refused as busy rather than queued without end.
//!
//! Waiting works both ways: [`HashSlots::acquire`] blocks (the C API and other
//! synchronous callers), [`HashSlots::acquire_async`] is a future for async callers,
//! which must not block their workers and bound the wait with their own timer.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use argon2::PasswordVerifier;
use argon2::password_hash::phc::Output;
use argon2::password_hash::phc::PasswordHash;
use argon2::{Algorithm, Argon2, Block, Params, Version};

use super::password::HashCost;

/// How many password hashes run at once, and how long a login waits for a turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashLimits {
    /// Hashes running at once, at most (`login.concurrent_hashes`). Each holds its
    /// working memory (7 MiB at OWASP cost) for as long as the process runs.
    pub concurrent_hashes: usize,
    /// How long a login waits for a free slot before it is refused as busy
    /// (`login.hash_wait`).
    pub hash_wait: Duration,
}

impl Default for HashLimits {
    /// Two slots (one per core of a small machine: more at once would not log
    /// anyone in sooner) and a 3 s wait.
    fn default() -> Self {
        HashLimits {
            concurrent_hashes: 2,
            hash_wait: Duration::from_secs(3),
        }
    }
}

/// Every hashing slot stayed busy for the whole wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("every password hashing slot is busy")]
pub struct Busy;

type Memory = Box<[Block]>;

struct State {
    /// Blocks returned by finished hashes.
    free: Vec<Memory>,
    /// Slots whose block has not been allocated yet (allocated on first use).
    unallocated: usize,
    /// Async waiters to wake when a slot is returned.
    wakers: Vec<Waker>,
}

/// The slots: at most `concurrent_hashes` blocks of argon2 memory, each reused.
/// Share one per process (an `Arc`; [`HashSlot`]s keep it alive).
pub struct HashSlots {
    limits: HashLimits,
    /// The pool's params: hashes with these use a slot's block as their memory.
    params: Params,
    state: Mutex<State>,
    returned: Condvar,
}

impl std::fmt::Debug for HashSlots {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HashSlots")
            .field("limits", &self.limits)
            .field("blocks_per_slot", &self.params.block_count())
            .finish_non_exhaustive()
    }
}

impl HashSlots {
    /// Slots for hashes at `cost`. `concurrent_hashes` of 0 is taken as 1 (the
    /// configuration refuses 0 before it gets here).
    pub fn new(cost: HashCost, limits: HashLimits) -> Result<Arc<HashSlots>, super::UserError> {
        let params = cost.params()?;
        let limits = HashLimits {
            concurrent_hashes: limits.concurrent_hashes.max(1),
            ..limits
        };
        Ok(Arc::new(HashSlots {
            limits,
            params,
            state: Mutex::new(State {
                free: Vec::new(),
                unallocated: limits.concurrent_hashes,
                wakers: Vec::new(),
            }),
            returned: Condvar::new(),
        }))
    }

    /// The limits in force.
    pub fn limits(&self) -> HashLimits {
        self.limits
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // The state is a list of blocks and wakers: valid whatever panicked.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn take(self: &Arc<Self>, state: &mut State) -> Option<HashSlot> {
        let memory = match state.free.pop() {
            Some(m) => m,
            None if state.unallocated > 0 => {
                state.unallocated -= 1;
                vec![Block::default(); self.params.block_count()].into_boxed_slice()
            }
            None => return None,
        };
        Some(HashSlot {
            slots: self.clone(),
            memory: Some(memory),
        })
    }

    /// A slot now, if one is free.
    pub fn try_acquire(self: &Arc<Self>) -> Option<HashSlot> {
        let mut state = self.lock();
        self.take(&mut state)
    }

    /// A slot, blocking the thread up to `hash_wait` for one.
    pub fn acquire(self: &Arc<Self>) -> Result<HashSlot, Busy> {
        let deadline = Instant::now() + self.limits.hash_wait;
        let mut state = self.lock();
        loop {
            if let Some(slot) = self.take(&mut state) {
                return Ok(slot);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(Busy);
            }
            state = self
                .returned
                .wait_timeout(state, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    /// A future that resolves to a slot when one is free. It never gives up: bound
    /// it with the runtime's timer and [`HashLimits::hash_wait`].
    pub fn acquire_async(self: &Arc<Self>) -> SlotWait {
        SlotWait { slots: self.clone() }
    }

    fn give_back(&self, mut memory: Memory) {
        // The block holds state derived from the password: leave nothing behind.
        memory.fill(Block::default());
        let wakers = {
            let mut state = self.lock();
            state.free.push(memory);
            std::mem::take(&mut state.wakers)
        };
        self.returned.notify_one();
        // Every async waiter polls again; the one that finds the block wins, the
        // others register anew.
        wakers.into_iter().for_each(Waker::wake);
    }
}

/// The future of [`HashSlots::acquire_async`].
#[derive(Debug)]
pub struct SlotWait {
    slots: Arc<HashSlots>,
}

impl Future for SlotWait {
    type Output = HashSlot;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<HashSlot> {
        let mut state = self.slots.lock();
        if let Some(slot) = self.slots.take(&mut state) {
            return Poll::Ready(slot);
        }
        if !state.wakers.iter().any(|w| w.will_wake(cx.waker())) {
            state.wakers.push(cx.waker().clone());
        }
        Poll::Pending
    }
}

/// One hashing slot with its block of memory; returned to the pool when dropped.
pub struct HashSlot {
    slots: Arc<HashSlots>,
    memory: Option<Memory>,
}

impl std::fmt::Debug for HashSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HashSlot")
    }
}

impl Drop for HashSlot {
    fn drop(&mut self) {
        if let Some(memory) = self.memory.take() {
            self.slots.give_back(memory);
        }
    }
}

impl HashSlot {
    /// Whether `password` matches the PHC string `hash`. A hash with the pool's
    /// memory size is computed in this slot's block and its tag compared in
    /// constant time ([`Output`]'s equality); any other hash (another cost, another
    /// algorithm) goes through argon2's own verification, which allocates. A hash
    /// that does not parse matches nothing.
    pub fn verify(&mut self, password: &[u8], hash: &str) -> bool {
        let Ok(parsed) = PasswordHash::new(hash) else {
            return false;
        };
        if let Some(matched) = self.verify_in_block(password, &parsed) {
            return matched;
        }
        Argon2::default().verify_password(password, &parsed).is_ok()
    }

    /// `None` when the hash cannot be computed in this block.
    fn verify_in_block(&mut self, password: &[u8], hash: &PasswordHash) -> Option<bool> {
        let memory = self.memory.as_deref_mut()?;
        let params = Params::try_from(hash).ok()?;
        if params.block_count() != memory.len() {
            return None;
        }
        let algorithm = Algorithm::try_from(hash.algorithm.as_str()).ok()?;
        let version = match hash.version {
            Some(v) => Version::try_from(v).ok()?,
            None => Version::default(),
        };
        let (salt, expected) = (hash.salt.as_ref()?, hash.hash.as_ref()?);
        let mut buffer = [0u8; Output::MAX_LENGTH];
        let out = buffer.get_mut(..expected.len())?;
        Argon2::new(algorithm, version, params)
            .hash_password_into_with_memory(password, salt.as_ref(), out, &mut *memory)
            .ok()?;
        let computed = Output::new(out).ok()?;
        Some(computed == *expected)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::Wake;

    use super::super::password::hash_password;
    use super::*;

    const CHEAP: HashCost = HashCost {
        memory_kib: 64,
        iterations: 1,
        parallelism: 1,
    };
    /// The reference implementation's argon2id vector for "password", "somesalt",
    /// m=256 KiB, t=2, p=1 (as listed in the argon2 crate's known-answer tests).
    const REFERENCE: &str = "$argon2id$v=19$m=256,t=2,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4";
    const REFERENCE_COST: HashCost = HashCost {
        memory_kib: 256,
        iterations: 2,
        parallelism: 1,
    };

    fn slots(cost: HashCost, n: usize, wait: Duration) -> Arc<HashSlots> {
        HashSlots::new(
            cost,
            HashLimits {
                concurrent_hashes: n,
                hash_wait: wait,
            },
        )
        .unwrap()
    }

    fn verified_by_argon2(password: &str, hash: &str) -> bool {
        Argon2::default()
            .verify_password(password.as_bytes(), &PasswordHash::new(hash).unwrap())
            .is_ok()
    }

    #[test]
    fn a_slot_verifies_in_its_block_exactly_as_argon2_does() {
        let pool = slots(CHEAP, 1, Duration::from_millis(10));
        let mut slot = pool.try_acquire().unwrap();
        let hash = hash_password(CHEAP, "correct horse").unwrap();
        assert!(slot.verify_in_block(b"correct horse", &PasswordHash::new(&hash).unwrap()) == Some(true));
        assert!(slot.verify(b"correct horse", &hash));
        assert!(!slot.verify(b"correct horsf", &hash));
        assert!(!slot.verify(b"", &hash));
        // Both ways agree: what the block accepts argon2 accepts, and the reverse.
        assert!(verified_by_argon2("correct horse", &hash));
        assert!(!verified_by_argon2("correct horsf", &hash));
        // The block is reused from hash to hash without carrying anything over.
        let other = hash_password(CHEAP, "battery staple").unwrap();
        assert!(slot.verify(b"battery staple", &other));
        assert!(!slot.verify(b"correct horse", &other));
        assert!(slot.verify(b"correct horse", &hash));
    }

    #[test]
    fn a_slot_matches_the_reference_vector() {
        let pool = slots(REFERENCE_COST, 1, Duration::from_millis(10));
        let mut slot = pool.try_acquire().unwrap();
        let parsed = PasswordHash::new(REFERENCE).unwrap();
        assert_eq!(slot.verify_in_block(b"password", &parsed), Some(true));
        assert_eq!(slot.verify_in_block(b"passwore", &parsed), Some(false));
    }

    #[test]
    fn a_hash_with_other_params_falls_back_to_argon2_and_still_verifies() {
        let pool = slots(CHEAP, 1, Duration::from_millis(10));
        let mut slot = pool.try_acquire().unwrap();
        let parsed = PasswordHash::new(REFERENCE).unwrap();
        assert_eq!(slot.verify_in_block(b"password", &parsed), None, "not the pool's size");
        assert!(slot.verify(b"password", REFERENCE));
        assert!(!slot.verify(b"passwore", REFERENCE));
        let argon2i = hash_password_i("correct horse");
        assert!(slot.verify(b"correct horse", &argon2i));
        assert!(!slot.verify(b"correct horsf", &argon2i));
        for garbage in [
            "",
            "$argon2id$",
            "plain text",
            "$argon2id$v=19$m=64,t=1,p=1$c29tZXNhbHQ$",
        ] {
            assert!(!slot.verify(b"password", garbage), "{garbage}");
        }
    }

    /// An argon2i hash at the pool's size: another algorithm, same memory.
    fn hash_password_i(password: &str) -> String {
        use argon2::PasswordHasher;
        Argon2::new(Algorithm::Argon2i, Version::V0x13, CHEAP.params().unwrap())
            .hash_password_with_salt(password.as_bytes(), b"saltsaltsalt")
            .unwrap()
            .to_string()
    }

    #[test]
    fn at_most_concurrent_hashes_slots_exist_and_their_blocks_are_reused() {
        let pool = slots(CHEAP, 2, Duration::from_millis(20));
        let a = pool.acquire().unwrap();
        let b = pool.acquire().unwrap();
        assert!(pool.try_acquire().is_none());
        assert_eq!(pool.acquire().unwrap_err(), Busy);
        let block = a.memory.as_ref().map(|m| m.as_ptr()).unwrap();
        drop(a);
        let again = pool.acquire().unwrap();
        assert_eq!(again.memory.as_ref().map(|m| m.as_ptr()), Some(block));
        drop((b, again));
        assert_eq!(pool.lock().free.len(), 2);
        assert_eq!(pool.lock().unallocated, 0);
    }

    #[test]
    fn a_blocked_waiter_gets_the_slot_given_back() {
        let pool = slots(CHEAP, 1, Duration::from_secs(5));
        let held = pool.acquire().unwrap();
        let waiter = {
            let pool = pool.clone();
            std::thread::spawn(move || pool.acquire().is_ok())
        };
        std::thread::sleep(Duration::from_millis(20));
        drop(held);
        assert!(waiter.join().unwrap());
    }

    struct CountingWaker(AtomicUsize);

    impl Wake for CountingWaker {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn an_async_waiter_is_woken_when_a_slot_is_given_back() {
        let pool = slots(CHEAP, 1, Duration::from_secs(5));
        let held = pool.try_acquire().unwrap();
        let count = Arc::new(CountingWaker(AtomicUsize::new(0)));
        let waker = Waker::from(count.clone());
        let mut cx = Context::from_waker(&waker);
        let mut wait = pool.acquire_async();
        assert!(Pin::new(&mut wait).poll(&mut cx).is_pending());
        assert!(Pin::new(&mut wait).poll(&mut cx).is_pending());
        assert_eq!(pool.lock().wakers.len(), 1, "one waker per waiter");
        drop(held);
        assert_eq!(count.0.load(Ordering::SeqCst), 1);
        assert!(Pin::new(&mut wait).poll(&mut cx).is_ready());
    }

    #[test]
    fn zero_slots_means_one() {
        let pool = slots(CHEAP, 0, Duration::from_millis(1));
        assert_eq!(pool.limits().concurrent_hashes, 1);
        assert!(pool.try_acquire().is_some());
    }
}
