//! An allocator that asks Linux for transparent huge pages on large buffers.
//!
//! A 12-megapixel operator touches several fresh buffers of 36–48 MB (RGB,
//! grey `f32`, residuals). With 4 KiB pages each one costs about ten thousand
//! page faults on first touch, which `perf` showed as a third of
//! `trutheye op laplacian`'s whole run. NumPy does the same thing for the same
//! reason: allocations of 4 MiB and more are `madvise(MADV_HUGEPAGE)`d, so on a
//! kernel whose THP mode is `madvise` (Debian's default) they fault in 2 MiB at
//! a time. Small allocations go to the system allocator untouched.
//!
//! A plugin is its own Rust crate graph with its own global allocator, so
//! the host binary and a plugin each opt in:
//!
//! ```ignore
//! #[global_allocator]
//! static ALLOC: trutheye_plugin_api::alloc::HugePageAlloc = trutheye_plugin_api::alloc::HugePageAlloc;
//! ```

use std::alloc::{GlobalAlloc, Layout, System};

/// Allocations from this size on are advised to use huge pages (NumPy's threshold).
pub const HUGE_PAGE_THRESHOLD: usize = 4 << 20;

/// The system allocator, plus `madvise(MADV_HUGEPAGE)` on allocations of
/// [`HUGE_PAGE_THRESHOLD`] bytes or more (Linux; elsewhere it is [`System`]).
pub struct HugePageAlloc;

#[cfg(target_os = "linux")]
fn advise(ptr: *mut u8, size: usize) {
    if ptr.is_null() || size < HUGE_PAGE_THRESHOLD {
        return;
    }
    // madvise wants a page-aligned start; the allocator's header sits before
    // `ptr`, so round inwards and leave the partial pages at either end alone.
    const PAGE: usize = 4096;
    let start = (ptr as usize).next_multiple_of(PAGE);
    let end = (ptr as usize + size) & !(PAGE - 1);
    if end > start {
        // Advice only: a kernel without THP answers EINVAL and nothing changes.
        unsafe { libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE) };
    }
}

#[cfg(not(target_os = "linux"))]
fn advise(_: *mut u8, _: usize) {}

unsafe impl GlobalAlloc for HugePageAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        advise(p, layout.size());
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // calloc does not touch a fresh mapping (it is zero already), so the
        // advice still comes before the first touch; memory it reuses from the
        // heap it zeroes, and those pages are resident anyway.
        let p = unsafe { System.alloc_zeroed(layout) };
        advise(p, layout.size());
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        advise(p, new_size);
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_and_small_allocations_round_trip() {
        for size in [16usize, HUGE_PAGE_THRESHOLD, HUGE_PAGE_THRESHOLD * 3 + 5] {
            let layout = Layout::from_size_align(size, 64).unwrap();
            unsafe {
                let z = HugePageAlloc.alloc_zeroed(layout);
                assert!(!z.is_null());
                assert!(std::slice::from_raw_parts(z, size).iter().all(|&b| b == 0));
                let grown = HugePageAlloc.realloc(z, layout, size * 2);
                assert!(!grown.is_null());
                HugePageAlloc.dealloc(grown, Layout::from_size_align(size * 2, 64).unwrap());
            }
        }
    }
}
