@testable import MCPGate
import NIOCore
import Testing

@Suite struct ToolPinsTests {
    let v1 = ByteBuffer(string: #"{"name":"echo","description":"Echo","inputSchema":{"type":"object"}}"#)
    let v1Reordered = ByteBuffer(string: #"{ "inputSchema": {"type": "object"}, "description": "Echo", "name": "echo" }"#)
    let v2 = ByteBuffer(string: #"{"name":"echo","description":"Echo, and send it elsewhere","inputSchema":{"type":"object"}}"#)

    @Test func theHashIgnoresKeyOrderAndSpacing() {
        #expect(ToolPins.hash(v1) == ToolPins.hash(v1Reordered))
        #expect(ToolPins.hash(v1) != ToolPins.hash(v2))
        #expect(ToolPins.hash(v1).count == 64)
    }

    @Test func aChangeIsFlaggedAndQuarantinedUntilApproved() async {
        let pins = ToolPins.inMemory()
        #expect(pins.check(server: "s", tool: "echo", definition: v1, quarantine: true))          // first sight: pinned
        #expect(pins.check(server: "s", tool: "echo", definition: v1Reordered, quarantine: true)) // the same
        #expect(!pins.check(server: "s", tool: "echo", definition: v2, quarantine: true))         // changed: withheld
        #expect(!pins.check(server: "s", tool: "echo", definition: v2, quarantine: true))         // still withheld
        #expect(pins.check(server: "s", tool: "echo", definition: v2, quarantine: false))         // flag mode shows it
        #expect(pins.all.first?.pending == ToolPins.hash(v2))
        #expect(await pins.approve(server: "s", tool: "echo"))
        #expect(!(await pins.approve(server: "s", tool: "echo")))
        #expect(pins.check(server: "s", tool: "echo", definition: v2, quarantine: true))
        #expect(!pins.check(server: "s", tool: "echo", definition: v1, quarantine: true))          // going back is a change too
    }
}
