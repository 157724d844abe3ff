//! A bound on concurrent password hashes, with one reusable block of argon2
//! working memory per slot.
//!
//! Each argon2id verification at [`HashCost::OWASP`] works in 7 MiB. Allocated per
//! hash, those buffers land in the allocator's per-thread arenas and stay resident
//! long after a login storm (hundreds of MB with glibc). Here the memory is
//! allocated per slot, at most [`HashLimits::concurrent_hashes`] of them, and
//! handed from one hash to the next; a login that finds every slot busy for
//! [`HashLimits::hash_wait`] is refused as busy rather than queued without end.
//!
//! A block left unused for [`IDLE_RELEASE`] is freed by a short-lived thread
//! (`jwtauth-hash-idle`), so a quiet server does not keep 7 MiB per slot; the next
//! login allocates it again. Freeing only helps if the allocator returns the
//! memory to the system: each block is reserved larger than glibc's largest
//! mmap threshold (see [`MAPPED_CAPACITY`]), so it always lives in a mapping of
//! its own, which `free` unmaps.
//!
//! Waiting works both ways: [`HashSlots::acquire`] blocks (the C API and other
//! synchronous callers), [`HashSlots::acquire_async`] is a future for async callers,
//! which must not block their workers and bound the wait with their own timer.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError, Weak};
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
    /// working memory (7 MiB at OWASP cost) until it has been idle for
    /// [`IDLE_RELEASE`].
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

/// How long a returned block may go unused before its memory is given back to the
/// system. Long enough that a steady trickle of logins keeps reusing a block, short
/// enough that a server is back to its idle size seconds after a login storm.
pub const IDLE_RELEASE: Duration = Duration::from_secs(2);

/// Bytes reserved for each block, whatever its size: above glibc's largest mmap
/// threshold (32 MiB on 64-bit, `DEFAULT_MMAP_THRESHOLD_MAX`). glibc raises its
/// threshold to the size of each mapped chunk it frees, so an exactly sized 7 MiB
/// block is mapped once and then lands in an arena, where freeing it leaves it
/// resident. Above the ceiling, every block is a mapping of its own and freeing it
/// unmaps it. Only the pages argon2 touches (the block's own size) become resident.
pub const MAPPED_CAPACITY: usize = 33 << 20;

/// A block of argon2 memory: `len` is the pool's block count, the capacity is at
/// least [`MAPPED_CAPACITY`] bytes (never shrink it).
type Memory = Vec<Block>;

/// A returned block and when it was returned.
struct Idle {
    memory: Memory,
    since: Instant,
}

struct State {
    /// Blocks returned by finished hashes, oldest first (the newest is reused
    /// first, so the oldest are the ones left idle).
    free: Vec<Idle>,
    /// Slots without a block (allocated on use, again after an idle release).
    unallocated: usize,
    /// Async waiters to wake when a slot is returned.
    wakers: Vec<Waker>,
    /// Whether a `jwtauth-hash-idle` thread is running (at most one is).
    releasing: bool,
}

/// The slots: at most `concurrent_hashes` blocks of argon2 memory, each reused.
/// Share one per process (an `Arc`; [`HashSlot`]s keep it alive).
pub struct HashSlots {
    limits: HashLimits,
    /// The pool's params: hashes with these use a slot's block as their memory.
    params: Params,
    /// How long a returned block may stay unused ([`IDLE_RELEASE`]; shorter in tests).
    idle_release: Duration,
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
        HashSlots::with_idle_release(cost, limits, IDLE_RELEASE)
    }

    fn with_idle_release(
        cost: HashCost,
        limits: HashLimits,
        idle_release: Duration,
    ) -> Result<Arc<HashSlots>, super::UserError> {
        let params = cost.params()?;
        let limits = HashLimits {
            concurrent_hashes: limits.concurrent_hashes.max(1),
            ..limits
        };
        Ok(Arc::new(HashSlots {
            limits,
            params,
            idle_release,
            state: Mutex::new(State {
                free: Vec::new(),
                unallocated: limits.concurrent_hashes,
                wakers: Vec::new(),
                releasing: false,
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
            Some(idle) => idle.memory,
            None if state.unallocated > 0 => {
                state.unallocated -= 1;
                self.allocate()
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

    /// A zeroed block for the pool's params, reserved as [`MAPPED_CAPACITY`].
    fn allocate(&self) -> Memory {
        let blocks = self.params.block_count();
        let mapped = MAPPED_CAPACITY.div_ceil(std::mem::size_of::<Block>()).max(blocks);
        let mut memory = Vec::new();
        // Under strict overcommit the larger reservation may be refused where the
        // block itself fits: hash then, and only miss the release.
        if memory.try_reserve_exact(mapped).is_err() {
            memory.reserve_exact(blocks);
        }
        memory.resize(blocks, Block::default());
        memory
    }

    fn give_back(self: &Arc<Self>, mut memory: Memory) {
        // The block holds state derived from the password: leave nothing behind.
        memory.fill(Block::default());
        let (wakers, start) = {
            let mut state = self.lock();
            state.free.push(Idle {
                memory,
                since: Instant::now(),
            });
            let start = !state.releasing;
            state.releasing = true;
            (std::mem::take(&mut state.wakers), start)
        };
        self.returned.notify_one();
        // Every async waiter polls again; the one that finds the block wins, the
        // others register anew.
        wakers.into_iter().for_each(Waker::wake);
        if start {
            self.start_releasing();
        }
    }

    /// Starts the thread that frees idle blocks. It holds the slots weakly, so it
    /// never keeps them alive, and ends once no block is free.
    fn start_releasing(self: &Arc<Self>) {
        let slots = Arc::downgrade(self);
        let first = self.idle_release;
        let started = std::thread::Builder::new()
            .name("jwtauth-hash-idle".into())
            .spawn(move || release_while_idle(&slots, first));
        if started.is_err() {
            // Without a thread the blocks stay allocated, as they would have
            // without idle release; the next block given back tries again.
            self.lock().releasing = false;
        }
    }

    /// Takes the blocks idle for `idle_release` at `now` out of the pool, and says
    /// how long until the next free one is due; `None` (no block free) also marks
    /// the releasing thread as ended.
    fn take_idle(&self, now: Instant) -> (Vec<Memory>, Option<Duration>) {
        let mut state = self.lock();
        let stale = state
            .free
            .partition_point(|idle| now.saturating_duration_since(idle.since) >= self.idle_release);
        let released: Vec<Memory> = state.free.drain(..stale).map(|idle| idle.memory).collect();
        state.unallocated += released.len();
        let next = state
            .free
            .first()
            .map(|idle| (idle.since + self.idle_release).saturating_duration_since(now));
        if next.is_none() {
            state.releasing = false;
        }
        (released, next)
    }
}

/// The body of the `jwtauth-hash-idle` thread: frees each block once it has been
/// idle for the pool's `idle_release`, until no block is free or the pool is gone.
fn release_while_idle(slots: &Weak<HashSlots>, first: Duration) {
    let mut wait = first;
    loop {
        std::thread::sleep(wait);
        let Some(pool) = slots.upgrade() else {
            return;
        };
        let (released, next) = pool.take_idle(Instant::now());
        drop(pool);
        // Unmapped here, outside the lock.
        drop(released);
        match next {
            Some(w) => wait = w,
            None => return,
        }
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

    /// A pool whose blocks are not released while a test looks at them.
    fn slots(cost: HashCost, n: usize, wait: Duration) -> Arc<HashSlots> {
        idle_slots(cost, n, wait, Duration::from_secs(3600))
    }

    fn idle_slots(cost: HashCost, n: usize, wait: Duration, idle: Duration) -> Arc<HashSlots> {
        HashSlots::with_idle_release(
            cost,
            HashLimits {
                concurrent_hashes: n,
                hash_wait: wait,
            },
            idle,
        )
        .unwrap()
    }

    /// Polls, for at most 10 s, until `done` holds for the pool's state.
    fn eventually(pool: &HashSlots, done: impl Fn(&State) -> bool) -> bool {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if done(&pool.lock()) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        done(&pool.lock())
    }

    fn released(state: &State) -> bool {
        state.free.is_empty() && !state.releasing
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

    #[test]
    fn an_idle_block_is_released_and_the_releasing_thread_ends() {
        let pool = idle_slots(CHEAP, 2, Duration::from_millis(10), Duration::from_millis(20));
        let (a, b) = (pool.acquire().unwrap(), pool.acquire().unwrap());
        assert!(!pool.lock().releasing, "nothing free, no thread");
        drop((a, b));
        assert_eq!(pool.lock().free.len(), 2);
        assert!(eventually(&pool, released), "both blocks freed, thread ended");
        assert_eq!(pool.lock().unallocated, 2);
    }

    #[test]
    fn a_block_in_use_is_not_released() {
        let pool = idle_slots(CHEAP, 2, Duration::from_millis(10), Duration::from_millis(20));
        let held = pool.acquire().unwrap();
        drop(pool.acquire().unwrap());
        assert!(eventually(&pool, released));
        assert_eq!(pool.lock().unallocated, 1, "the held slot keeps its block");
        assert!(held.memory.is_some());
    }

    #[test]
    fn a_slot_reacquired_after_a_release_hashes_correctly_and_is_released_again() {
        let pool = idle_slots(CHEAP, 1, Duration::from_millis(10), Duration::from_millis(20));
        let hash = hash_password(CHEAP, "correct horse").unwrap();
        for _ in 0..3 {
            let mut slot = pool.acquire().unwrap();
            assert!(slot.verify(b"correct horse", &hash));
            assert!(!slot.verify(b"correct horsf", &hash));
            drop(slot);
            assert!(pool.lock().releasing, "a thread runs while a block is free");
            assert!(eventually(&pool, released));
            assert_eq!(pool.lock().unallocated, 1);
        }
    }

    #[test]
    fn blocks_are_reserved_above_the_mmap_threshold_ceiling() {
        let pool = slots(CHEAP, 1, Duration::from_millis(10));
        let slot = pool.try_acquire().unwrap();
        let memory = slot.memory.as_ref().unwrap();
        assert_eq!(memory.len(), CHEAP.params().unwrap().block_count());
        assert!(memory.capacity() * std::mem::size_of::<Block>() > 32 << 20);
    }

    #[test]
    fn the_releasing_thread_does_not_keep_the_slots_alive() {
        let pool = idle_slots(CHEAP, 1, Duration::from_millis(10), Duration::from_secs(3600));
        drop(pool.acquire().unwrap());
        assert!(pool.lock().releasing);
        let weak = Arc::downgrade(&pool);
        drop(pool);
        assert!(weak.upgrade().is_none());
    }
}
