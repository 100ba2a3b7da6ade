import Foundation
import GRDBSQLite
import Synchronization

/// The two statements every poll runs (key to tenant, and the job row), on plain read-only SQLite
/// connections that the calling thread borrows from a locked stack.
///
/// Why not GRDB's `DatabasePool.read`: each read there is a synchronous hop onto a reader queue plus
/// the pool's semaphore; under 64 polling connections on 2 cores those hand-offs (futex wake-ups and
/// context switches) cost more than the queries. Here a request takes a connection with one
/// uncontended lock, steps a prepared statement on its own thread and gives it back. WAL mode lets
/// these readers run beside GRDB's writer; every other statement still goes through GRDB.
final class HotReads: @unchecked Sendable {
    private let path: String
    /// A spin lock: the critical section is a pop or a push, far shorter than the futex sleep and
    /// wake-up a blocking lock pays whenever the two polling threads meet here.
    private let locked = Atomic<Bool>(false)
    private var idle: [Connection] = []
    /// More idle connections than this are closed instead of kept (threads come and go in bursts).
    private let maxIdle = 16

    init(path: String) {
        self.path = path
    }

    deinit {
        for connection in idle { connection.close() }
    }

    /// Runs `body` on a borrowed connection; opens one when none is idle.
    func with<T>(_ body: (Connection) throws -> T) throws -> T {
        lock()
        let borrowed = idle.popLast()
        unlock()
        let connection = try borrowed ?? Connection(path: path)
        defer {
            lock()
            let keep = idle.count < maxIdle
            if keep { idle.append(connection) }
            unlock()
            if !keep { connection.close() }
        }
        return try body(connection)
    }

    private func lock() {
        var spins = 0
        while !locked.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged {
            spins += 1
            if spins > 100 { sched_yield() }
        }
    }

    private func unlock() {
        locked.store(false, ordering: .releasing)
    }

    /// One read-only connection and its prepared statements (keyed by SQL text).
    final class Connection {
        private var handle: OpaquePointer?
        private var statements: [String: OpaquePointer] = [:]

        init(path: String) throws {
            let flags = SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX
            let status = sqlite3_open_v2(path, &handle, flags, nil)
            guard status == SQLITE_OK, let handle else {
                let message = handle.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
                sqlite3_close(handle)
                throw StoreError.invalid("cannot open \(path) for reading: \(message)")
            }
            sqlite3_busy_timeout(handle, 30_000)
        }

        func close() {
            for statement in statements.values { sqlite3_finalize(statement) }
            statements = [:]
            sqlite3_close(handle)
            handle = nil
        }

        /// Binds `arguments` to the cached statement for `sql`, steps it once and hands the row (or
        /// nil when there is none) to `read`. The statement is reset before returning.
        func first<T>(_ sql: String, _ arguments: [Argument], _ read: (Row) throws -> T) throws -> T? {
            let statement = try prepared(sql)
            // The arguments' bytes sit in one buffer of ours, bound SQLITE_STATIC, so SQLite copies
            // nothing: its allocator takes a process-wide mutex that the polling threads fought over.
            let encoded = arguments.map(\.bytes)
            let buffer = UnsafeMutableRawBufferPointer.allocate(
                byteCount: max(encoded.reduce(0) { $0 + $1.count }, 1), alignment: 8)
            defer {
                sqlite3_reset(statement)
                sqlite3_clear_bindings(statement)
                buffer.deallocate()
            }
            var offset = 0
            for (position, argument) in arguments.enumerated() {
                let bytes = encoded[position]
                UnsafeMutableRawBufferPointer(rebasing: buffer[offset..<offset + bytes.count]).copyBytes(from: bytes)
                // Never nil (the buffer has at least one byte), so an empty text binds as '' not NULL.
                let start = buffer.baseAddress.map { $0 + offset }
                offset += bytes.count
                let index = Int32(position + 1)
                let status: Int32
                switch argument {
                case .text:
                    status = sqlite3_bind_text(
                        statement, index, start?.assumingMemoryBound(to: CChar.self), Int32(bytes.count), nil)
                case .blob: status = sqlite3_bind_blob(statement, index, start, Int32(bytes.count), nil)
                }
                guard status == SQLITE_OK else { throw error("bind") }
            }
            switch sqlite3_step(statement) {
            case SQLITE_ROW: return try read(Row(statement: statement))
            case SQLITE_DONE: return nil
            default: throw error("step")
            }
        }

        private func prepared(_ sql: String) throws -> OpaquePointer {
            if let statement = statements[sql] { return statement }
            var statement: OpaquePointer?
            guard sqlite3_prepare_v3(handle, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &statement, nil) == SQLITE_OK,
                let statement
            else {
                throw error("prepare")
            }
            statements[sql] = statement
            return statement
        }

        private func error(_ step: String) -> StoreError {
            StoreError.invalid("SQLite \(step) failed: \(handle.map { String(cString: sqlite3_errmsg($0)) } ?? "no connection")")
        }
    }

    enum Argument {
        case text(String)
        case blob([UInt8])

        var bytes: [UInt8] {
            switch self {
            case .text(let text): Array(text.utf8)
            case .blob(let bytes): bytes
            }
        }
    }

    /// The current row of a stepped statement, read by column index.
    struct Row {
        let statement: OpaquePointer

        func isNull(_ column: Int32) -> Bool { sqlite3_column_type(statement, column) == SQLITE_NULL }

        func text(_ column: Int32) -> String? {
            guard let bytes = sqlite3_column_text(statement, column) else { return nil }
            let count = Int(sqlite3_column_bytes(statement, column))
            return String(decoding: UnsafeBufferPointer(start: bytes, count: count), as: UTF8.self)
        }

        func int64(_ column: Int32) -> Int64? { isNull(column) ? nil : sqlite3_column_int64(statement, column) }

        func double(_ column: Int32) -> Double? { isNull(column) ? nil : sqlite3_column_double(statement, column) }
    }
}
