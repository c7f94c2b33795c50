//! Giving freed memory back to the system.
//!
//! jemalloc keeps the pages of freed memory ("dirty") for reuse and returns them as its
//! decay passes (10 s), on allocation or in its background threads: after a big free (a
//! 300 MB value deleted, a connection's big buffers dropped, FLUSHALL) the process's RSS
//! stays up for that long, and on an idle server without background threads for good.
//! Redis built on libc gives big blocks back at once (munmap), and its jemalloc build
//! purges after a synchronous FLUSHALL. So the cron purges as soon as the dirty pages pass
//! `PURGE_DIRTY` (`purge_if_dirty`), and `jemalloc-bg-thread` starts jemalloc's background
//! threads for the rest, as in Redis.

/// Dirty bytes past which the cron gives them back at once: well above what a busy server
/// frees and reuses between two looks (100 ms), so that it does not pay page faults for
/// memory it is about to use again.
const PURGE_DIRTY: usize = 64 << 20;

/// jemalloc's MALLCTL_ARENAS_ALL: every arena.
const ALL_ARENAS: &str = "4096";

/// Return every arena's unused dirty pages to the system.
pub fn purge() {
    action(&format!("arena.{ALL_ARENAS}.purge\0"));
}

/// Give the calling thread's cached free blocks back to their arenas. jemalloc counts
/// what a thread cache holds as allocated: a thread that freed much and then sleeps (the
/// evictor) would leave that in the memory figure until it runs again.
pub fn flush_thread_cache() {
    action("thread.tcache.flush\0");
}

/// A control that takes no value and gives none; `name` NUL-terminated.
fn action(name: &str) {
    debug_assert!(name.ends_with('\0'));
    // SAFETY: the name is NUL-terminated; such a control takes every pointer null, as
    // jemalloc requires.
    unsafe {
        tikv_jemalloc_sys::mallctl(
            name.as_ptr().cast(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            0,
        );
    }
}

/// Bytes in dirty pages, as of jemalloc's last statistics refresh (`epoch::advance`).
fn dirty_bytes() -> usize {
    let name = format!("stats.arenas.{ALL_ARENAS}.pdirty\0");
    // SAFETY: NUL-terminated names of size_t controls.
    let pages = unsafe { tikv_jemalloc_ctl::raw::read::<usize>(name.as_bytes()) }.unwrap_or(0);
    let page = unsafe { tikv_jemalloc_ctl::raw::read::<usize>(b"arenas.page\0") }.unwrap_or(4096);
    pages * page
}

/// Purge if more than `PURGE_DIRTY` bytes wait in dirty pages. The caller has refreshed
/// jemalloc's statistics.
pub fn purge_if_dirty() {
    if dirty_bytes() > PURGE_DIRTY {
        purge();
    }
}

/// jemalloc's background threads (config jemalloc-bg-thread), which purge as pages decay.
pub fn set_background_threads(on: bool) {
    let _ = tikv_jemalloc_ctl::background_thread::write(on);
}
