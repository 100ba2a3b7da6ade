import Foundation
import Synchronization

/// A pool of PostgreSQL connections shared by the request threads and the workers. A thread borrows
/// one for a statement or a transaction and gives it back; a connection that broke (server
/// restarted, network cut) is dropped instead, and the next borrower opens a fresh one.
final class PGPool: Sendable {
    let url: String
    private let idle = Mutex<[PGConnection]>([])
    /// At most this many connections open at once: a borrower beyond it waits.
    private let slots: DispatchSemaphore
    private let maxIdle: Int

    init(url: String, maxConnections: Int = 32) {
        self.url = url
        slots = DispatchSemaphore(value: maxConnections)
        maxIdle = maxConnections
    }

    /// Runs `body` on a borrowed connection.
    func with<T>(_ body: (PGConnection) throws -> T) throws -> T {
        do {
            return try borrow(body)
        } catch let error as PGError where error.connectionLost {
            throw Self.unavailable(error)
        }
    }

    /// A lost connection as the store reports it: the callers (HTTP: 503, workers: retry later)
    /// need not know PostgreSQL's errors.
    static func unavailable(_ error: PGError) -> StoreError {
        .unavailable("the database is unreachable (\(error.message)); retry shortly")
    }

    private func borrow<T>(_ body: (PGConnection) throws -> T) throws -> T {
        slots.wait()
        defer { slots.signal() }
        let connection = try idle.withLock { $0.popLast() } ?? PGConnection(url: url)
        do {
            let result = try body(connection)
            giveBack(connection)
            return result
        } catch let error as PGError where error.connectionLost {
            throw error
        } catch {
            giveBack(connection)
            throw error
        }
    }

    /// A read: retried once on a new connection when the borrowed one turns out to be broken (an idle
    /// connection learns of a server restart only when it is next used).
    func read<T>(_ body: (PGConnection) throws -> T) throws -> T {
        do {
            return try borrow(body)
        } catch let error as PGError where error.connectionLost {
            dropIdle()
            return try with(body)
        }
    }

    /// One transaction on a borrowed connection. Not retried: after a lost connection the caller
    /// cannot know whether the COMMIT landed, and the store's callers already retry whole operations
    /// (workers claim again; clients resend with their Idempotency-Key).
    func transaction<T>(_ body: (PGConnection) throws -> T) throws -> T {
        do {
            return try borrow { try $0.transaction(body) }
        } catch let error as PGError where error.connectionLost {
            dropIdle()
            throw Self.unavailable(error)
        }
    }

    private func giveBack(_ connection: PGConnection) {
        guard connection.isOpen else { return }
        idle.withLock { connections in
            if connections.count < maxIdle { connections.append(connection) }
        }
    }

    /// After one connection broke the others probably did too (a restart closes them all).
    private func dropIdle() {
        idle.withLock { $0.removeAll() }
    }
}
