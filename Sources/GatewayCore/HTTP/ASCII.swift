/// Byte-level string helpers for the request path, where Foundation's `contains`/`lowercased`
/// would allocate or go through CoreFoundation (seen in the profile).
package enum ASCII {
    /// The value of a hexadecimal digit (either case), nil for any other byte.
    @inlinable
    package static func hexDigitValue(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    /// Whether `a` equals `lowerB` ignoring ASCII case; `lowerB` must be lower-case.
    @inlinable
    package static func equalsIgnoringCase(_ a: UnsafeBufferPointer<UInt8>, _ lowerB: StaticString) -> Bool {
        guard a.count == lowerB.utf8CodeUnitCount else { return false }
        let b = lowerB.utf8Start
        for i in 0..<a.count {
            let byte = a[i]
            if (byte >= 0x41 && byte <= 0x5A ? byte | 0x20 : byte) != b[i] { return false }
        }
        return true
    }

    /// The same for a string's bytes.
    @inlinable
    package static func equalsIgnoringCase(_ a: String, _ lowerB: StaticString) -> Bool {
        var a = a
        return a.withUTF8 { equalsIgnoringCase($0, lowerB) }
    }

    /// Whether two strings are equal ignoring ASCII case (neither needs to be lower-case).
    /// Named apart from `equalsIgnoringCase` so that a call with a literal never picks it: a
    /// `String` literal would prefer this overload, and it is the slower of the two.
    package static func sameIgnoringCase(_ a: String, _ b: String) -> Bool {
        var a = a, b = b
        return a.withUTF8 { x in
            b.withUTF8 { y in
                guard x.count == y.count else { return false }
                for k in 0..<x.count {
                    let p = x[k], q = y[k]
                    if (p >= 0x41 && p <= 0x5A ? p | 0x20 : p) != (q >= 0x41 && q <= 0x5A ? q | 0x20 : q) { return false }
                }
                return true
            }
        }
    }

    /// Whether `a` contains `lowerNeedle` ignoring ASCII case (a media type in `Accept`, say);
    /// `lowerNeedle` must be lower-case.
    @inlinable
    package static func containsIgnoringCase(_ a: String, _ lowerNeedle: StaticString) -> Bool {
        let n = UnsafeBufferPointer(start: lowerNeedle.utf8Start, count: lowerNeedle.utf8CodeUnitCount)
        guard n.count > 0 else { return true }
        var a = a
        return a.withUTF8 { h in
            guard h.count >= n.count else { return false }
            outer: for start in 0...(h.count - n.count) {
                for k in 0..<n.count {
                    let byte = h[start + k]
                    if (byte >= 0x41 && byte <= 0x5A ? byte | 0x20 : byte) != n[k] { continue outer }
                }
                return true
            }
            return false
        }
    }

    /// Whether `a` starts with `lowerPrefix` ignoring ASCII case (a media type in
    /// `Content-Type`, say), without a lower-cased copy; `lowerPrefix` must be lower-case.
    @inlinable
    package static func hasPrefixIgnoringCase(_ a: String, _ lowerPrefix: StaticString) -> Bool {
        let n = lowerPrefix.utf8CodeUnitCount
        var a = a
        return a.withUTF8 { h in h.count >= n && equalsIgnoringCase(UnsafeBufferPointer(rebasing: h[..<n]), lowerPrefix) }
    }
}

extension ASCII {
    /// Writes `value` (not negative) in decimal at `at`, zero-padded to `minDigits`, and returns
    /// the index after it. `buffer` must have room for 19 digits (or `minDigits`, if more).
    @inlinable
    package static func writeDecimal(_ value: Int64, minDigits: Int = 1, into buffer: UnsafeMutableBufferPointer<UInt8>, at: Int) -> Int {
        precondition(value >= 0)
        var digits = 1, rest = value / 10
        while rest > 0 { digits += 1; rest /= 10 }
        digits = max(digits, minDigits)
        var v = value
        for i in stride(from: at + digits - 1, through: at, by: -1) {
            buffer[i] = UInt8(truncatingIfNeeded: v % 10) &+ 0x30
            v /= 10
        }
        return at + digits
    }

    /// A string of at most `capacity` ASCII bytes that `body` writes (returning how many),
    /// built in a stack buffer: a result of up to 15 bytes is then stored inline with no
    /// allocation, where `String(unsafeUninitializedCapacity:)` allocates whenever the capacity
    /// asked for is larger than that.
    @inlinable
    package static func string(capacity: Int, _ body: (UnsafeMutableBufferPointer<UInt8>) -> Int) -> String {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: capacity) { b in
            String(decoding: UnsafeBufferPointer(rebasing: b[..<body(b)]), as: UTF8.self)
        }
    }
}
