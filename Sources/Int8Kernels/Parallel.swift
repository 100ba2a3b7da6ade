import Dispatch

/// Splits `count` rows into contiguous ranges (multiples of `grain`) and runs them on up to
/// `threads` threads with Dispatch. Each range is processed by exactly one call.
public enum Parallel {
    public static func rows(_ count: Int, threads: Int, grain: Int = 1, _ body: @Sendable (Range<Int>) -> Void) {
        guard count > 0 else { return }
        let workers = Swift.max(1, Swift.min(threads, (count + grain - 1) / grain))
        if workers == 1 {
            body(0..<count)
            return
        }
        let per = ((count + workers - 1) / workers + grain - 1) / grain * grain
        DispatchQueue.concurrentPerform(iterations: workers) { index in
            let start = index * per
            let end = Swift.min(count, start + per)
            if start < end { body(start..<end) }
        }
    }
}

/// Wraps a value (a raw pointer into memory whose ranges are partitioned between threads) so it can
/// cross into a concurrently executed closure. Safe only because each thread touches its own rows.
struct UncheckedSendable<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
