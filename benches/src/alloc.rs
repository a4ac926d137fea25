//! A counting global allocator: live bytes (as requested, without the system
//! allocator's own overhead), as `shared/bench/WORKLOADS.md` measures `memory` for
//! the Rust structures.
//!
//! The library only defines the type; a binary opts in with
//!
//! ```
//! use sparsevdb_bench::alloc::{is_installed, live_bytes, CountingAlloc};
//!
//! #[global_allocator]
//! static ALLOC: CountingAlloc = CountingAlloc;
//!
//! fn main() {
//!     assert!(is_installed());
//!     let before = live_bytes();
//!     let v = vec![0u8; 1000];
//!     assert!(live_bytes() - before >= 1000);
//!     drop(v);
//! }
//! ```
//!
//! and then reads [`live_bytes`] before and after building a structure.
//! [`is_installed`] tells whether that was done (otherwise the counters stay 0).
//!
//! The allocator underneath is the system one (glibc's `malloc` on Linux), or
//! mimalloc with the crate's `mimalloc` feature ([`INNER_NAME`] says which).

use std::alloc::{GlobalAlloc, Layout};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

#[cfg(not(feature = "mimalloc"))]
use std::alloc::System as Inner;

#[cfg(feature = "mimalloc")]
use mimalloc::MiMalloc as Inner;

/// The allocator [`CountingAlloc`] forwards to.
const INNER: Inner = Inner;

/// The name of the allocator [`CountingAlloc`] forwards to: `"system"` or
/// `"mimalloc"` (the `mimalloc` feature).
///
/// ```
/// assert!(["system", "mimalloc"].contains(&sparsevdb_bench::alloc::INNER_NAME));
/// ```
pub const INNER_NAME: &str = if cfg!(feature = "mimalloc") {
    "mimalloc"
} else {
    "system"
};

/// Wraps the system allocator (or mimalloc, see the module docs) and counts the
/// bytes currently allocated through it.
#[derive(Clone, Copy, Debug, Default)]
pub struct CountingAlloc;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn added(size: usize) {
    let now = LIVE.fetch_add(size, Relaxed) + size;
    PEAK.fetch_max(now, Relaxed);
}

// SAFETY: every method forwards to `INNER` with the caller's arguments unchanged, so
// `INNER`'s guarantees carry over; the counters are plain atomics and never affect
// the pointers returned.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded unchanged; the caller upholds `alloc`'s contract.
        let p = unsafe { INNER.alloc(layout) };
        if !p.is_null() {
            added(layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded unchanged; the caller upholds `alloc_zeroed`'s contract.
        let p = unsafe { INNER.alloc_zeroed(layout) };
        if !p.is_null() {
            added(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged; `ptr` came from this allocator, i.e. `INNER`.
        unsafe { INNER.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded unchanged; `ptr` came from `INNER` with `layout`.
        let p = unsafe { INNER.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            added(new_size);
            LIVE.fetch_sub(layout.size(), Relaxed);
        }
        p
    }
}

/// Bytes currently allocated through [`CountingAlloc`] (0 when it is not the global
/// allocator).
pub fn live_bytes() -> usize {
    LIVE.load(Relaxed)
}

/// The highest [`live_bytes`] seen since the start or the last [`reset_peak`].
pub fn peak_bytes() -> usize {
    PEAK.load(Relaxed)
}

/// Sets [`peak_bytes`] to the current [`live_bytes`].
pub fn reset_peak() {
    PEAK.store(LIVE.load(Relaxed), Relaxed);
}

/// Whether [`CountingAlloc`] is the global allocator of this program (checked by
/// allocating a small box and watching [`live_bytes`]; only meaningful while no
/// other thread allocates).
pub fn is_installed() -> bool {
    let before = live_bytes();
    let b = std::hint::black_box(Box::new([0u8; 64]));
    let during = live_bytes();
    drop(b);
    during >= before + 64
}

/// Live bytes allocated while running `f`, measured after it returns (the result
/// is kept alive until then), with the result.
pub fn retained_by<R>(f: impl FnOnce() -> R) -> (usize, R) {
    let before = live_bytes();
    let out = f();
    (live_bytes().saturating_sub(before), out)
}
