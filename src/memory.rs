//! The allocator setting a long crawl wants: see [`tune_malloc`].

/// The size from which glibc's `malloc` maps an allocation of its own, and unmaps it when
/// it is freed: its default starting point, 128 KiB.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const MMAP_THRESHOLD: libc::c_int = 128 * 1024;

/// Makes glibc's `malloc` give large buffers back to the system as soon as they are freed,
/// for the rest of the process: its `M_MMAP_THRESHOLD` is fixed at 128 KiB. Returns whether
/// it was applied (on Linux with glibc; on other C libraries or systems it does nothing and
/// returns `false`). It does not touch a Rust global allocator.
///
/// By default glibc raises that threshold each time a large buffer is freed, up to 32 MiB,
/// so that after the first multi-megabyte page every later body, link list and read
/// buffer below that size is carved from its heaps. A crawl frees such buffers all the
/// time on other threads than the ones that allocated them, and the heaps keep what they
/// freed in holes they cannot give back. Measured with `benches/crawl.rs`, 64 requests in
/// flight: peak RSS 42-48 MB instead of 55-65 MB on tag-dense pages, and 47-60 MB instead
/// of 67-79 MB on the Rust documentation, for 8-11% more CPU time (large buffers are
/// mapped and unmapped each time).
///
/// The setting is the process's, and glibc's `free` may still move the threshold while
/// this call sets it: call it first thing in `main`, before any thread starts, as the
/// `arachne` command line does (with `#[tokio::main]`, the runtime's threads have started:
/// build the runtime by hand after the call). It is a trade, a quarter less memory for a
/// tenth more CPU time; a program that tunes its allocator itself, or uses another one,
/// leaves it out.
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
        // SAFETY: `mallopt` takes no pointers: with `M_MMAP_THRESHOLD` it sets two numbers
        // of glibc's allocator (the threshold, and that it is fixed) under the main
        // arena's lock. A `free` on another thread at that moment may write its own
        // threshold over ours without that lock (a lost setting, not a corrupt heap),
        // which is why the docs ask for this call before any thread starts.
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
