@testable import GatewayCore
import Testing

/// Request ids: the process's random prefix with the loop's index, then a counter in hex.
@Suite struct RequestIDGeneratorTests {
    @Test func idsArePrefixAndCounterInHex() {
        var ids = RequestIDGenerator(loopIndex: 3)
        let made = (1...300).map { _ in ids.next() }
        let prefix = String(made[0].dropLast())
        #expect(prefix.utf8.count == 18 && prefix.hasSuffix("3-"))
        for (i, id) in made.enumerated() {
            #expect(id == prefix + String(i + 1, radix: 16))
        }
        #expect(Set(made).count == made.count)
        #expect(made.allSatisfy(RequestIDGenerator.isAcceptable))
        // Another generator (another process, or loop) has another prefix.
        var other = RequestIDGenerator(loopIndex: 3)
        #expect(other.next() != made[0])
    }
}
