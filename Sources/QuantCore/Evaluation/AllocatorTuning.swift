#if canImport(Glibc)
/// glibc's mallopt (malloc.h is not part of the Glibc module).
@_silgen_name("mallopt")
private func mallopt(_ parameter: Int32, _ value: Int32) -> Int32
#endif

/// The forward pass allocates and frees the same large activations (up to tens of MiB) for every
/// sequence, head and layer. glibc serves such blocks with fresh mmaps, or returns them to the
/// kernel when freed, so each allocation faults in and zeroes new pages: about 15% of an
/// evaluation's time went to page faults. Commands that run the forward pass keep freed memory for
/// reuse instead; peak RSS is set by the largest live set, not by the churn.
public enum AllocatorTuning {
    public static func reuseFreedMemory() {
        #if canImport(Glibc)
        // M_MMAP_THRESHOLD (-3): blocks up to 32 MiB (glibc's maximum) come from the heap.
        _ = mallopt(-3, 32 << 20)
        // M_TRIM_THRESHOLD (-1): free memory at the heap's top is kept up to 1 GiB.
        _ = mallopt(-1, 1 << 30)
        #endif
    }
}
