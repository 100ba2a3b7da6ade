import CInt8Kernels

/// An instruction-set variant of the kernels.
public enum KernelISA: Int32, CaseIterable, Sendable, CustomStringConvertible {
    case scalar = 0
    case avx2 = 1
    case avx512 = 2

    public var description: String {
        switch self {
        case .scalar: "scalar"
        case .avx2: "avx2"
        case .avx512: "avx512-vnni"
        }
    }
}

/// Errors for arguments that do not describe the buffers given (sizes, bit widths).
public struct KernelError: Error, Equatable, CustomStringConvertible, Sendable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// The int8 kernels of one ISA variant, with typed, bounds-checked entry points. `Kernels.best` is
/// chosen once by a CPU check; tests use `Kernels.available` to compare every variant with
/// `Kernels.scalar`, the portable reference.
/// (The table is static, immutable C data, hence `@unchecked Sendable`.)
public struct Kernels: @unchecked Sendable {
    let table: UnsafePointer<qk_kernel_table>
    public let isa: KernelISA

    init?(isa: KernelISA) {
        guard let table = qk_kernels_for(isa.rawValue) else { return nil }
        self.table = table
        self.isa = isa
    }

    /// The fastest variant this CPU supports (QK_FORCE_ISA=scalar|avx2 can lower it).
    public static let best: Kernels = Kernels(isa: KernelISA(rawValue: qk_kernels().pointee.isa) ?? .scalar)!
    /// The portable scalar reference.
    public static let scalar = Kernels(isa: .scalar)!
    /// Every variant this CPU can run, reference first.
    public static let available: [Kernels] = KernelISA.allCases.compactMap { Kernels(isa: $0) }
}

@inline(__always)
func require(_ condition: Bool, _ message: @autoclosure () -> String) throws {
    if !condition { throw KernelError(message()) }
}

/// Groups per row for a group size along the row.
@inline(__always)
public func groupsPerRow(cols: Int, group: Int) -> Int { group == 0 ? 1 : (cols + group - 1) / group }
