/// How a granularity maps a tensor onto the kernels' rows x cols (x groups) view.
enum TensorLayout {
    /// Per-tensor: one scale.
    case tensor(count: Int)
    /// Per channel with the channel axis leading the contiguous block: `outer` blocks of
    /// `channels` rows of `inner` elements; the scale of a row is its channel.
    case channelRows(outer: Int, channels: Int, inner: Int)
    /// Per channel on the last axis: rows x channels, one scale per column.
    case channelColumns(rows: Int, channels: Int)
    /// Groups of `size` along rows of `cols` (the last dimension).
    case groups(rows: Int, cols: Int, size: Int)

    init(shape: [Int], granularity: Granularity) throws {
        guard (0...8).contains(shape.count), shape.allSatisfy({ $0 >= 0 }) else {
            throw QuantError.invalidShape("shape \(shape) must have rank 0 to 8 and non-negative dimensions")
        }
        let count = shape.reduce(1, *)
        switch granularity {
        case .tensor:
            self = .tensor(count: count)
        case .channel(let axis):
            guard shape.indices.contains(axis) else {
                throw QuantError.invalidShape("channel axis \(axis) is outside shape \(shape) (rank \(shape.count))")
            }
            let outer = shape[..<axis].reduce(1, *)
            let inner = shape[(axis + 1)...].reduce(1, *)
            self =
                inner == 1 && axis > 0
                ? .channelColumns(rows: outer, channels: shape[axis])
                : .channelRows(outer: outer, channels: shape[axis], inner: inner)
        case .group(let size):
            guard let last = shape.last else { throw QuantError.invalidShape("group quantization needs rank >= 1") }
            self = .groups(rows: last == 0 ? 0 : count / last, cols: last, size: size)
        }
    }
}
