//! Argon2's working memory, reused across hashes and handed back to the OS when idle.
//!
//! Each argon2id hash needs 19 MiB. Left to the argon2 crate, every hash allocates and
//! frees its own: glibc serves the first from a fresh mapping, then raises its mmap
//! threshold to that size, so later ones come from the per-thread arenas of the blocking
//! threads and stay there after they are freed. Eight logins left a server that idles at
//! 20 MB at ~217 MB for good.
//!
//! Here the memory is a pool of buffers, at most one per hasher permit (the semaphore
//! already bounds how many hashes run at once, so the pool never grows past it). A burst of
//! logins reuses the same buffers; once no hash has run for [`IDLE_RELEASE`], the pool is
//! emptied. Each buffer *reserves* more than glibc's largest mmap threshold (32 MiB on
//! 64-bit), so it is always a mapping of its own and freeing it returns it to the OS,
//! whatever the allocator learned before; only the 19 MiB in use are ever touched.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use argon2::Block;

/// How long the buffers outlive the last hash: long enough to carry a burst of logins,
/// short enough that a login storm's memory is gone well within a minute.
pub const IDLE_RELEASE: Duration = Duration::from_secs(5);

/// Reserved size of each buffer, in blocks: above glibc's `DEFAULT_MMAP_THRESHOLD_MAX`
/// (32 MiB), so the allocation is always served, and freed, as a mapping of its own.
const RESERVE_BLOCKS: usize = (33 << 20) / Block::SIZE;

/// Working memory for one hash. Only `len` blocks are initialised (and so resident).
pub type Buffer = Vec<Block>;

/// A new buffer of `blocks` usable blocks.
pub fn new_buffer(blocks: usize) -> Buffer {
    let mut buffer = Vec::with_capacity(blocks.max(RESERVE_BLOCKS));
    buffer.resize(blocks, Block::new());
    buffer
}

#[derive(Default)]
struct Shelf {
    free: Vec<Buffer>,
    last_used: Option<Instant>,
    /// Whether a task is waiting to empty the pool once it has been idle long enough.
    release_pending: bool,
}

/// The pool. Cheap to clone; clones share the buffers.
#[derive(Clone)]
pub struct MemoryPool {
    blocks: usize,
    idle_release: Duration,
    shelf: Arc<Mutex<Shelf>>,
}

impl MemoryPool {
    /// A pool of buffers of `blocks` blocks each, emptied after `idle_release` without use.
    pub fn new(blocks: usize, idle_release: Duration) -> Self {
        Self { blocks, idle_release, shelf: Arc::default() }
    }

    fn shelf(&self) -> std::sync::MutexGuard<'_, Shelf> {
        // The shelf holds plain buffers; a panic elsewhere cannot leave it inconsistent.
        self.shelf.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A buffer from the pool, or a new one. Callers hold a hasher permit, which bounds how
    /// many buffers exist at once.
    pub fn take(&self) -> Buffer {
        self.shelf().free.pop().unwrap_or_else(|| new_buffer(self.blocks))
    }

    /// Returns a buffer after a hash, and makes sure the pool is emptied once idle. Must be
    /// called within a tokio runtime.
    pub fn put_back(&self, buffer: Buffer) {
        let mut shelf = self.shelf();
        shelf.free.push(buffer);
        shelf.last_used = Some(Instant::now());
        if !shelf.release_pending {
            shelf.release_pending = true;
            tokio::spawn(self.clone().release_when_idle());
        }
    }

    async fn release_when_idle(self) {
        loop {
            let wait = {
                let mut shelf = self.shelf();
                let idle = shelf.last_used.map_or(self.idle_release, |t| t.elapsed());
                if idle >= self.idle_release {
                    shelf.free.clear();
                    shelf.release_pending = false;
                    return;
                }
                self.idle_release - idle
            };
            tokio::time::sleep(wait).await;
        }
    }

    /// Buffers waiting in the pool (not counting those in use).
    pub fn pooled(&self) -> usize {
        self.shelf().free.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn buffers_are_reused_then_released_when_idle() {
        let pool = MemoryPool::new(8, Duration::from_millis(100));
        let a = pool.take();
        let b = pool.take();
        assert!(a.len() == 8 && a.capacity() >= RESERVE_BLOCKS);
        let b_ptr = b.as_ptr();
        pool.put_back(a);
        pool.put_back(b);
        assert_eq!(pool.pooled(), 2);
        // Taking again reuses a pooled buffer instead of allocating.
        let again = pool.take();
        assert_eq!(again.as_ptr(), b_ptr);
        pool.put_back(again);
        tokio::time::sleep(Duration::from_millis(60)).await;
        assert_eq!(pool.pooled(), 2, "still warm shortly after use");
        tokio::time::sleep(Duration::from_millis(250)).await;
        assert_eq!(pool.pooled(), 0, "emptied once idle");
        // And it fills again on the next use.
        pool.put_back(pool.take());
        assert_eq!(pool.pooled(), 1);
    }
}
