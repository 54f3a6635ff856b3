//! The allocator setting a long crawl wants: see [`tune_malloc`].

/// The size from which glibc's `malloc` maps an allocation of its own, and unmaps it when
/// it is freed: its default starting point, 128 KiB.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const MMAP_THRESHOLD: libc::c_int = 128 * 1024;

/// Makes glibc's `malloc` give large buffers back to the system as soon as they are freed,
/// for the rest of the process: its `M_MMAP_THRESHOLD` is fixed at 128 KiB. Returns whether
/// it was applied (on Linux with glibc; elsewhere it does nothing and returns `false`).
///
/// By default glibc raises that threshold each time a large buffer is freed, up to 32 MiB,
/// so that after the first multi-megabyte page every later body, link list and read
/// buffer below that size is carved from its heaps. A crawl frees such buffers all the
/// time on other threads than the ones that allocated them, and the heaps keep what they
/// freed in holes they cannot give back. Measured with `benches/crawl.rs` on 64 requests
/// in flight, fixing the threshold takes peak RSS from 55-65 MB to 44-45 MB on tag-dense
/// pages and from 69-78 MB to 51-61 MB on the Rust documentation, at the same CPU time.
///
/// The setting is the process's: the `arachne` command line applies it at start. A program
/// that embeds arachne calls it first thing in `main`, unless it tunes its allocator
/// itself or uses another one (which this does not touch).
///
/// # Example
/// ```
/// // First thing in `main`, before the crawl is built:
/// let _ = arachne::tune_malloc();
/// ```
#[must_use = "whether glibc's malloc was tuned; `let _ =` if that does not matter"]
pub fn tune_malloc() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: `mallopt` with `M_MMAP_THRESHOLD` only changes a number inside glibc's
        // allocator, under its own lock; it takes no pointers and may be called at any
        // time, from any thread.
        #[allow(unsafe_code)]
        let applied = unsafe { libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD) };
        applied == 1
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        false
    }
}

#[cfg(test)]
mod tests {
    #[test]
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    fn glibc_takes_the_setting() {
        assert!(super::tune_malloc());
        // Applying it again is harmless.
        assert!(super::tune_malloc());
    }
}
