/// Makes `X-Request-Id` values: a random per-process prefix, the event loop's index and a
/// counter, in hex. Unique without a syscall per request (the system random source costs a
/// `getrandom` call each time); request ids need to be unique, not secret.
public struct RequestIDGenerator {
    private let prefix: String
    private var counter: UInt64 = 0

    public init(loopIndex: Int) {
        var rng = SystemRandomNumberGenerator()
        let random = rng.next() as UInt64
        let hex = String(random, radix: 16)
        self.prefix = String(repeating: "0", count: 16 - hex.count) + hex + String(loopIndex, radix: 16) + "-"
    }

    public mutating func next() -> String {
        counter &+= 1
        return prefix + String(counter, radix: 16)
    }

    /// Whether a client-supplied id is acceptable to pass on: short and printable, so a log
    /// line or an upstream cannot be injected into.
    public static func isAcceptable(_ id: String) -> Bool {
        guard !id.isEmpty, id.utf8.count <= 200 else { return false }
        return id.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7F }
    }
}
