import Synchronization

/// Runs `body` with a buffer pointer for an optional array (nil stays nil).
func withOptional<T, R>(_ array: [T]?, _ body: (UnsafeBufferPointer<T>?) throws -> R) rethrows -> R {
    guard let array else { return try body(nil) }
    return try array.withUnsafeBufferPointer { try body($0) }
}

/// A pointer or buffer shared with concurrent workers that each touch disjoint ranges of it.
struct UncheckedBox<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}

/// Collects the first error thrown by concurrent workers.
final class ErrorBox: Sendable {
    private let first = Mutex<(any Error)?>(nil)

    func record(_ error: any Error) { first.withLock { if $0 == nil { $0 = error } } }

    func rethrow() throws {
        if let error = first.withLock({ $0 }) { throw error }
    }
}

/// Per-index results written by concurrent workers.
final class ResultsBox: Sendable {
    private let storage: Mutex<[(Float, Float, Int)]>

    init(count: Int) { storage = Mutex(Array(repeating: (Float.infinity, -Float.infinity, 0), count: count)) }

    func set(_ index: Int, _ value: (Float, Float, Int)) { storage.withLock { $0[index] = value } }

    var values: [(Float, Float, Int)] { storage.withLock { $0 } }
}
