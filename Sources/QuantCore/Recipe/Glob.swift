/// Shell-style patterns over tensor names: `*` matches any run of characters (dots included), `?`
/// one character; everything else matches itself.
public struct Glob: Equatable, Sendable, CustomStringConvertible {
    public let pattern: String
    private let characters: [Character]
    /// Matches only the name itself (`*` and `?` included), for overrides made by the program.
    private let exact: Bool

    public init(_ pattern: String) {
        self.pattern = pattern
        characters = Array(pattern)
        exact = false
    }

    public init(exactly name: String) {
        pattern = name
        characters = Array(name)
        exact = true
    }

    public var description: String { pattern }

    public func matches(_ name: String) -> Bool {
        if exact { return name == pattern }
        let text = Array(name)
        // Iterative matcher with backtracking to the last `*`: linear in practice, no recursion.
        var p = 0
        var t = 0
        var star = -1
        var mark = 0
        while t < text.count {
            if p < characters.count && (characters[p] == "?" || characters[p] == text[t]) {
                p += 1
                t += 1
            } else if p < characters.count && characters[p] == "*" {
                star = p
                mark = t
                p += 1
            } else if star >= 0 {
                p = star + 1
                mark += 1
                t = mark
            } else {
                return false
            }
        }
        while p < characters.count && characters[p] == "*" { p += 1 }
        return p == characters.count
    }
}
