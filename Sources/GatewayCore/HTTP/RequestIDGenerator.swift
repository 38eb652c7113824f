/// Makes `X-Request-Id` values: a random per-process prefix, the event loop's index and a
/// counter, in hex. Unique without a syscall per request (the system random source costs a
/// `getrandom` call each time); request ids need to be unique, not secret.
package struct RequestIDGenerator {
    private let prefix: String
    private var counter: UInt64 = 0

    package init(loopIndex: Int) {
        var rng = SystemRandomNumberGenerator()
        let random = rng.next() as UInt64
        let hex = String(random, radix: 16)
        self.prefix = String(repeating: "0", count: 16 - hex.count) + hex + String(loopIndex, radix: 16) + "-"
    }

    package mutating func next() -> String {
        counter &+= 1
        // Written into the string's storage at once: no digit string to make and append.
        let n = counter
        let digits = max(1, (UInt64.bitWidth - n.leadingZeroBitCount + 3) / 4)
        var prefix = prefix
        return prefix.withUTF8 { head in
            String(unsafeUninitializedCapacity: head.count + digits) { out in
                _ = out.initialize(fromContentsOf: head)
                let hex: StaticString = "0123456789abcdef"
                var v = n
                for i in stride(from: head.count + digits - 1, through: head.count, by: -1) {
                    out[i] = hex.utf8Start[Int(v & 0xF)]
                    v >>= 4
                }
                return head.count + digits
            }
        }
    }

    /// Whether a client-supplied id is acceptable to pass on: short and printable, so a log
    /// line or an upstream cannot be injected into.
    package static func isAcceptable(_ id: String) -> Bool {
        guard !id.isEmpty, id.utf8.count <= 200 else { return false }
        return id.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7F }
    }
}
