import CLibPQ
import Foundation

/// A value bound to a statement parameter. libpq takes parameters as text; PostgreSQL parses each in
/// the type the statement gives it (write `$1::float8` where the context does not say).
enum PGValue: Sendable, Equatable {
    case text(String)
    case int(Int64)
    case double(Double)
    case bool(Bool)
    case bytes([UInt8])
    case null

    /// The parameter's text form; nil is SQL NULL.
    var text: String? {
        switch self {
        case .text(let value): value
        case .int(let value): String(value)
        // Swift prints the shortest text that reads back to the same double; float8 input parses it exactly.
        case .double(let value): "\(value)"
        case .bool(let value): value ? "t" : "f"
        case .bytes(let value): Self.hex(value)
        case .null: nil
        }
    }

    /// bytea's hex input form, `\x0a1b...` (a key hash on every poll: no formatter per byte).
    static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = [UInt8(ascii: "\\"), UInt8(ascii: "x")]
        out.reserveCapacity(2 + bytes.count * 2)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 15)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}

extension PGValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral {
    init(stringLiteral value: String) { self = .text(value) }
    init(integerLiteral value: Int64) { self = .int(value) }
    init(_ value: String?) { self = value.map { .text($0) } ?? .null }
    init(_ value: Double?) { self = value.map { .double($0) } ?? .null }
    init(_ value: Int64?) { self = value.map { .int($0) } ?? .null }
    init(_ value: Int) { self = .int(Int64(value)) }
}

/// A failed statement or connection, with PostgreSQL's SQLSTATE when the server sent one.
struct PGError: Error, CustomStringConvertible {
    var message: String
    var sqlState: String?
    /// True when the connection itself is gone (server restarted, network cut): retry on a new one.
    var connectionLost: Bool

    var description: String { "PostgreSQL: \(message)" + (sqlState.map { " (SQLSTATE \($0))" } ?? "") }

    static let uniqueViolation = "23505"
}

/// The rows of one statement, as text, read by column name.
struct PGRows {
    let columns: PGColumns
    let values: [[String?]]
    /// Rows changed by an INSERT, UPDATE or DELETE.
    let affected: Int

    var first: PGRow? { values.first.map { PGRow(columns: columns, values: $0) } }
    var all: [PGRow] { values.map { PGRow(columns: columns, values: $0) } }
}

/// A result's column names and where each is, looked up once per result rather than per field.
final class PGColumns: Sendable {
    let names: [String]
    private let positions: [String: Int]

    init(_ names: [String]) {
        self.names = names
        // The first of equal names wins, as a scan from the left would find.
        positions = Dictionary(names.enumerated().map { ($1, $0) }, uniquingKeysWith: { first, _ in first })
    }

    func position(of name: String) -> Int? { positions[name] }
}

struct PGRow {
    let columns: PGColumns
    let values: [String?]

    subscript(_ name: String) -> String? {
        guard let index = columns.position(of: name) else { return nil }
        return values[index]
    }

    subscript(_ index: Int) -> String? { values[index] }
}

/// One libpq connection, used by one thread at a time (the pool hands it out). Statements are
/// prepared once per connection and reused, keyed by their text.
final class PGConnection: @unchecked Sendable {
    private var handle: OpaquePointer?
    private var prepared: [String: String] = [:]

    init(url: String) throws {
        handle = PQconnectdb(url)
        guard let handle, PQstatus(handle) == CONNECTION_OK else {
            let message = handle.map { String(cString: PQerrorMessage($0)) } ?? "out of memory"
            PQfinish(handle)
            handle = nil
            throw PGError(
                message: "cannot connect: \(message.trimmingCharacters(in: .whitespacesAndNewlines))", sqlState: nil,
                connectionLost: true)
        }
        // Notices (e.g. "relation already exists, skipping") are not errors; keep them off stderr.
        PQsetNoticeProcessor(handle, { _, _ in }, nil)
    }

    deinit { PQfinish(handle) }

    var isOpen: Bool { handle.map { PQstatus($0) == CONNECTION_OK } ?? false }

    /// Runs one statement with parameters (prepared on first use on this connection).
    @discardableResult
    func query(_ sql: String, _ parameters: [PGValue] = []) throws -> PGRows {
        guard let handle else { throw PGError(message: "connection closed", sqlState: nil, connectionLost: true) }
        let name: String
        if let known = prepared[sql] {
            name = known
        } else {
            name = "s\(prepared.count)"
            try check(PQprepare(handle, name, sql, Int32(parameters.count), nil))
            prepared[sql] = name
        }
        let texts = parameters.map(\.text)
        let strings = texts.map { $0.map { strdup($0) } ?? nil }
        defer { for string in strings { free(string) } }
        let result = strings.withUnsafeBufferPointer { pointers in
            pointers.withMemoryRebound(to: UnsafePointer<CChar>?.self) { values in
                PQexecPrepared(handle, name, Int32(values.count), values.baseAddress, nil, nil, 0)
            }
        }
        return try check(result)
    }

    /// Runs SQL text that may hold several statements and no parameters (migrations, BEGIN/COMMIT).
    func script(_ sql: String) throws {
        guard let handle else { throw PGError(message: "connection closed", sqlState: nil, connectionLost: true) }
        try check(PQexec(handle, sql))
    }

    /// Reads a result, frees it, and turns a failure into a `PGError`.
    @discardableResult
    private func check(_ result: OpaquePointer?) throws -> PGRows {
        defer { PQclear(result) }
        let status = result.map { PQresultStatus($0) } ?? PGRES_FATAL_ERROR
        guard status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK, let result else {
            let message = handle.map { String(cString: PQerrorMessage($0)) } ?? "no connection"
            let state = result.flatMap { PQresultErrorField($0, Int32(UInt8(ascii: "C"))) }.map { String(cString: $0) }
            // Class 08 is "connection exception"; a broken socket leaves no SQLSTATE at all.
            let lost = !isOpen || state?.hasPrefix("08") == true || state == "57P01"
            throw PGError(message: message.trimmingCharacters(in: .whitespacesAndNewlines), sqlState: state, connectionLost: lost)
        }
        let columns = PGColumns((0..<PQnfields(result)).map { String(cString: PQfname(result, $0)) })
        var rows: [[String?]] = []
        let count = PQntuples(result)
        rows.reserveCapacity(Int(count))
        for row in 0..<count {
            rows.append(
                (0..<Int32(columns.names.count)).map { column in
                    PQgetisnull(result, row, column) == 1 ? nil : String(cString: PQgetvalue(result, row, column))
                })
        }
        let affected = Int(String(cString: PQcmdTuples(result))) ?? 0
        return PGRows(columns: columns, values: rows, affected: affected)
    }

    /// Runs `body` in one transaction; rolls back if it throws. The isolation level is READ
    /// COMMITTED: every read-then-write in the store locks the rows it reads (FOR UPDATE) or
    /// writes conditionally, so no stronger level is needed.
    func transaction<T>(_ body: (PGConnection) throws -> T) throws -> T {
        try script("BEGIN")
        do {
            let result = try body(self)
            try script("COMMIT")
            return result
        } catch {
            if isOpen { try? script("ROLLBACK") }
            throw error
        }
    }

    // MARK: - LISTEN / NOTIFY

    /// Waits up to `timeout` seconds for a notification on a channel this connection listens to.
    /// Returns the channels notified (empty on timeout).
    func waitForNotifications(timeout: Double) throws -> [String] {
        guard let handle else { throw PGError(message: "connection closed", sqlState: nil, connectionLost: true) }
        var channels = drainNotifications(handle)
        if !channels.isEmpty { return channels }
        var descriptor = pollfd(fd: PQsocket(handle), events: Int16(POLLIN), revents: 0)
        let ready = poll(&descriptor, 1, Int32(timeout * 1000))
        if ready > 0 {
            guard PQconsumeInput(handle) == 1 else {
                throw PGError(message: String(cString: PQerrorMessage(handle)), sqlState: nil, connectionLost: true)
            }
            channels = drainNotifications(handle)
        }
        if !isOpen { throw PGError(message: "connection lost while listening", sqlState: nil, connectionLost: true) }
        return channels
    }

    private func drainNotifications(_ handle: OpaquePointer) -> [String] {
        var channels: [String] = []
        while let notification = PQnotifies(handle) {
            channels.append(String(cString: notification.pointee.relname))
            PQfreemem(notification)
        }
        return channels
    }
}
