//! Memory placement helpers: cache-line prefetch hints, and vectors on 2 MB pages.

/// Hint the CPU to load the cache line of `p` (no effect on other architectures).
#[inline(always)]
pub(super) fn prefetch<T>(p: *const T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch never faults, whatever the address.
    #[allow(unused_unsafe)]
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p as *const i8);
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// Copy of `v` with exact capacity, in memory the kernel is asked to back with 2 MB
/// pages (Linux transparent huge pages in `madvise` mode): the queries read these arrays
/// at random, and with 4 kB pages most reads would also miss the TLB.
pub(super) fn huge_pages<T: Copy>(v: Vec<T>) -> Vec<T> {
    let mut w = huge_capacity(v.len());
    w.extend_from_slice(&v);
    w
}

/// An empty `Vec` with room for `len` elements, asked of the OS on 2 MB pages when it is
/// large enough (Linux transparent huge pages; elsewhere, or when refused, ordinary
/// pages): random accesses over a few megabytes then miss the TLB far less.
pub(super) fn huge_capacity<T>(len: usize) -> Vec<T> {
    let w: Vec<T> = Vec::with_capacity(len);
    #[cfg(target_os = "linux")]
    {
        const HUGE: usize = 2 << 20;
        let bytes = len * std::mem::size_of::<T>();
        if bytes >= 2 * HUGE {
            let p = w.as_ptr() as usize;
            let start = (p + HUGE - 1) & !(HUGE - 1);
            let end = (p + bytes) & !(HUGE - 1);
            if end > start {
                // SAFETY: advice on memory owned by `w` and not yet touched; madvise
                // does not change its contents or validity.
                unsafe {
                    libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE);
                }
            }
        }
    }
    w
}
