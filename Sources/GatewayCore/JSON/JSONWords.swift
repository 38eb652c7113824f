/// Eight bytes of a JSON text at a time (SWAR: bit tricks on a 64-bit word), for the runs of
/// plain string content that make up most of a request or an answer: a prompt, a completion, a
/// tool's description. The validator and the scanner step over such runs a word at a time and
/// look at bytes one by one only around a quote, an escape or a byte that needs checking.
enum JSONWords {
    private static let ones: UInt64 = 0x0101_0101_0101_0101
    private static let highs: UInt64 = 0x8080_8080_8080_8080

    /// The 8 bytes at `i` (the caller checked `i + 8 <= b.count`), in memory order from the
    /// low byte on a little-endian machine; the tests below do not depend on the order.
    @inline(__always)
    static func word(_ b: UnsafeRawBufferPointer, _ i: Int) -> UInt64 {
        b.baseAddress!.loadUnaligned(fromByteOffset: i, as: UInt64.self)
    }

    /// Whether some byte of `w` is zero (exact as a yes or no).
    @inline(__always)
    static func hasZero(_ w: UInt64) -> Bool { (w &- ones) & ~w & highs != 0 }

    /// Whether some byte of `w` is `byte`.
    @inline(__always)
    static func has(_ w: UInt64, _ byte: UInt8) -> Bool { hasZero(w ^ (ones &* UInt64(byte))) }

    /// Whether some byte of `w` is below `n` (n ≤ 128).
    @inline(__always)
    static func hasBelow(_ w: UInt64, _ n: UInt8) -> Bool { (w &- ones &* UInt64(n)) & ~w & highs != 0 }

    /// Whether the 8 bytes at `i` are string content a strict reader takes as they are:
    /// printable ASCII, no quote, no backslash.
    @inline(__always)
    static func plainASCII(_ b: UnsafeRawBufferPointer, _ i: Int) -> Bool {
        let w = word(b, i)
        return w & highs == 0 && !hasBelow(w, 0x20) && !has(w, UInt8(ascii: "\"")) && !has(w, UInt8(ascii: "\\"))
    }

    /// Whether the 8 bytes at `i` hold neither a quote nor a backslash (what ends or escapes a
    /// string for a reader that does not validate it).
    @inline(__always)
    static func noQuoteOrEscape(_ b: UnsafeRawBufferPointer, _ i: Int) -> Bool {
        let w = word(b, i)
        return !has(w, UInt8(ascii: "\"")) && !has(w, UInt8(ascii: "\\"))
    }
}
