import Foundation
import QuantCore
import Synchronization

/// A one-line progress bar on stderr, redrawn at most ten times a second; silent when stderr is not
/// a terminal (pipelines and logs get no control characters).
final class ProgressBar: Sendable {
    let enabled: Bool
    private let last = Mutex<UInt64>(0)

    init(enabled: Bool) { self.enabled = enabled }

    func update(_ progress: PipelineProgress) {
        draw(
            fraction: progress.fraction,
            detail: "\(progress.tensorsDone)/\(progress.tensorsTotal) tensors  \(progress.currentTensor.prefix(40))")
    }

    /// Redraws the bar (throttled); `detail` follows the percentage.
    func draw(fraction: Double, detail: String) {
        guard enabled else { return }
        let now = DispatchTime.now().uptimeNanoseconds
        let due = last.withLock { last -> Bool in
            guard now - last > 100_000_000 else { return false }
            last = now
            return true
        }
        guard due else { return }
        let width = 30
        let clamped = min(max(fraction.isFinite ? fraction : 0, 0), 1)
        let filled = Int(clamped * Double(width))
        let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
        let line = "\r[\(bar)] \(Int(clamped * 100))%  \(detail)\u{1B}[K"
        FileHandle.standardError.write(Data(line.utf8))
    }

    func finish() {
        guard enabled else { return }
        FileHandle.standardError.write(Data("\r\u{1B}[K".utf8))
    }
}
