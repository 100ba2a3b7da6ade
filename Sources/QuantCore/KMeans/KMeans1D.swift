/// One-dimensional k-means (weight sharing, as in Deep Compression) on a histogram: values are
/// summarised as (count, sum) in `bins` equal-width bins over [min, max], so Lloyd iterations cost
/// O(bins x iterations) whatever the tensor's size, and the values themselves are read only to
/// build the histogram and, at the end, to assign codes.
public struct KMeansHistogram: Sendable {
    public let minimum: Float
    public let maximum: Float
    public private(set) var counts: [Double]
    public private(set) var sums: [Double]

    public init(minimum: Float, maximum: Float, bins: Int) {
        self.minimum = minimum
        self.maximum = maximum
        counts = [Double](repeating: 0, count: Swift.max(bins, 1))
        sums = counts
    }

    public mutating func add(_ values: UnsafeBufferPointer<Float>) {
        let bins = counts.count
        let width = Double(maximum) - Double(minimum)
        let perUnit = width > 0 ? Double(bins) / width : 0
        for v in values {
            let bin = Swift.min(bins - 1, Swift.max(0, Int((Double(v) - Double(minimum)) * perUnit)))
            counts[bin] += 1
            sums[bin] += Double(v)
        }
    }

    /// Adds another histogram over the same range and bins (from another thread's share).
    public mutating func merge(_ other: KMeansHistogram) {
        for i in counts.indices where i < other.counts.count {
            counts[i] += other.counts[i]
            sums[i] += other.sums[i]
        }
    }

    /// The non-empty bins as (mean value, weight), in increasing order.
    var points: [(value: Double, weight: Double)] {
        zip(counts, sums).compactMap { count, sum in count > 0 ? (sum / count, count) : nil }
    }
}

public enum KMeans1D {
    /// `k` sorted centroids for the histogram: initialised at the weighted quantiles (i + 0.5) / k,
    /// then Lloyd iterations until no point changes cluster (or `maxIterations`). A cluster that
    /// empties keeps its centroid. Fewer distinct values than `k` give repeated centroids.
    public static func centroids(_ histogram: KMeansHistogram, k: Int, maxIterations: Int = 100) -> [Float] {
        let points = histogram.points
        guard !points.isEmpty else { return [Float](repeating: 0, count: k) }
        let total = points.reduce(0) { $0 + $1.weight }
        // Quantile initialisation.
        var centroids = [Double](repeating: points[0].value, count: k)
        var cumulative = 0.0
        var next = 0
        for point in points {
            cumulative += point.weight
            while next < k && cumulative >= (Double(next) + 0.5) / Double(k) * total {
                centroids[next] = point.value
                next += 1
            }
        }
        while next < k {
            centroids[next] = points[points.count - 1].value
            next += 1
        }
        var assignment = [Int](repeating: -1, count: points.count)
        for _ in 0..<maxIterations {
            var changed = false
            var sums = [Double](repeating: 0, count: k)
            var weights = sums
            // Points and centroids are both sorted: one sweep assigns each point to its nearest.
            // Equal centroids are stepped over (else the sweep would stop at the first of them).
            var c = 0
            for (i, point) in points.enumerated() {
                while c + 1 < k
                    && (centroids[c + 1] == centroids[c] || abs(centroids[c + 1] - point.value) < abs(centroids[c] - point.value))
                { c += 1 }
                if assignment[i] != c {
                    assignment[i] = c
                    changed = true
                }
                sums[c] += point.value * point.weight
                weights[c] += point.weight
            }
            for j in 0..<k where weights[j] > 0 { centroids[j] = sums[j] / weights[j] }
            centroids.sort()
            if !changed { break }
        }
        return centroids.map { Float($0) }
    }

    /// The index of the nearest centroid (ties to the lower index), by binary search over the
    /// midpoints of the sorted codebook.
    @inline(__always)
    public static func nearest(_ x: Float, midpoints: UnsafeBufferPointer<Float>) -> Int {
        var low = 0
        var high = midpoints.count
        while low < high {
            let mid = (low + high) / 2
            if x > midpoints[mid] { low = mid + 1 } else { high = mid }
        }
        return low
    }

    /// Nearest-centroid lookup for values in [minimum, maximum], identical to `nearest` but without
    /// its unpredictable branches: a table over `cells` equal cells gives, for each cell, a lower
    /// bound of the index (the index one cell below its start), and a short scan upward finishes.
    /// Most cells hold no midpoint, so the scan usually stops at once.
    public struct Assigner: Sendable {
        let midpoints: [Float]
        let start: [UInt8]
        let minimum: Float
        let cellsPerUnit: Float

        public init(centroids: [Float], minimum: Float, maximum: Float, cells: Int = 4096) {
            midpoints = KMeans1D.midpoints(centroids)
            self.minimum = minimum
            let width = maximum - minimum
            // A single value (all centroids equal): every value falls in cell 0.
            cellsPerUnit = width > 0 && (Float(cells) / width).isFinite ? Float(cells) / width : 0
            var table = [UInt8](repeating: 0, count: cells + 1)
            midpoints.withUnsafeBufferPointer { m in
                for c in 0...cells {
                    // One cell of margin below the cell: rounding in `index` can never land a value
                    // in a cell whose bound is above its true index.
                    let lowest = minimum + Float(c - 1) * width / Float(cells)
                    table[c] = UInt8(truncatingIfNeeded: c == 0 ? 0 : KMeans1D.nearest(lowest, midpoints: m))
                }
            }
            start = table
        }

        @inline(__always)
        public func index(_ x: Float) -> Int {
            let position = (x - minimum) * cellsPerUnit
            // NaN never reaches here (inputs are checked), but a cell index must never trap.
            let cell = position.isNaN ? 0 : Int(Swift.min(Swift.max(position, 0), Float(start.count - 1)))
            var i = Int(start[cell])
            while i < midpoints.count && x > midpoints[i] { i += 1 }
            return i
        }
    }

    /// Midpoints between neighbouring centroids (k - 1 of them).
    public static func midpoints(_ centroids: [Float]) -> [Float] {
        zip(centroids, centroids.dropFirst()).map { $0 + ($1 - $0) / 2 }
    }
}
