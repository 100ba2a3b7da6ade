import Foundation

/// A line chart in text: one column per point (at most `width`, sampled evenly), `height` rows, the
/// value range on the left. Enough to see a loss fall and an accuracy rise in a terminal.
struct TerminalChart {
    let title: String
    let values: [Double]
    var height = 10
    var width = 60
    var format = "%.4f"

    func render() -> String {
        let finite = values.filter(\.isFinite)
        guard let low = finite.min(), let high = finite.max() else { return "\(title): no data\n" }
        let columns =
            values.count <= width ? values : (0..<width).map { values[$0 * (values.count - 1) / Swift.max(width - 1, 1)] }
        let span = high - low
        // Row of each column's point: 0 at the bottom.
        let rows = columns.map { v -> Int? in
            guard v.isFinite else { return nil }
            return span == 0 ? height / 2 : Int(((v - low) / span * Double(height - 1)).rounded())
        }
        let labelWidth = Swift.max(String(format: format, high).count, String(format: format, low).count)
        var out = "\(title)\n"
        for row in stride(from: height - 1, through: 0, by: -1) {
            let label = row == height - 1 ? String(format: format, high) : (row == 0 ? String(format: format, low) : "")
            out += String(repeating: " ", count: labelWidth - label.count) + label + " |"
            out += String(rows.map { $0 == row ? "*" : ($0.map { $0 > row } == true ? ":" : " ") })
            out += "\n"
        }
        out += String(repeating: " ", count: labelWidth) + " +" + String(repeating: "-", count: columns.count) + "\n"
        out +=
            String(repeating: " ", count: labelWidth + 2) + "epoch 1"
            + String(repeating: " ", count: Swift.max(1, columns.count - 7 - String(values.count).count - 6))
            + "epoch \(values.count)\n"
        return out
    }
}
