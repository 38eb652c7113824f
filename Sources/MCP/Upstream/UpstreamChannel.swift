import GatewayCore
import NIOConcurrencyHelpers
import NIOCore

/// How the gate talks to one upstream MCP server: Streamable HTTP, legacy SSE or stdio. A
/// channel carries messages; the handshake and id bookkeeping live in `UpstreamServer`.
protocol UpstreamChannel: Sendable {
    /// Changes whenever the channel starts a new upstream session by itself (a program
    /// restarted, an SSE stream reopened): the handshake must then be made again.
    var generation: Int { get }
    /// Makes the channel usable (starts the program, opens the stream) if it is not.
    func prepare(loop: LoopContext) async throws
    /// Sends a request whose id is `id` (JSON text) and waits for its response. Messages the
    /// server sends for this request meanwhile (progress, sampling, elicitation) go to
    /// `onMessage`, as do progress notifications carrying `progressToken`. The call fails with
    /// `UpstreamFailure.timeout` or `.stalled` past its `bounds`, and with `CancellationError`
    /// at once when the task waiting for it is cancelled (what the call held upstream, a
    /// connection or a pending entry, is let go). A channel whose call has a stream of its own
    /// stops reading it while `pace` is held up (the agent does not read).
    func request(_ body: ByteBuffer, id: String, progressToken: String?, loop: LoopContext, bounds: CallBounds, pace: AgentOutbound?,
                 onMessage: @escaping @Sendable (RPCMessage) -> Void) async throws -> RPCMessage
    /// Sends a notification, or a response to a server request; does not wait for an answer.
    func send(_ body: ByteBuffer, loop: LoopContext) async throws
    /// Called with the `initialize` result's version once the handshake succeeded.
    func established(protocolVersion: String)
    /// Called once the handshake is complete: opens what carries the server's messages
    /// outside requests, if the transport has one to open, and returns once it is up.
    func listen() async
    /// Forgets the upstream session (it expired); the next request starts a new one.
    func reset()
    /// Ends the upstream session and frees what the channel holds (a process, a stream).
    func shutdown() async
}

/// How long one upstream call may take: `deadline` from its start to its answer, however
/// steadily the server sends progress, and at most `stall` with nothing from the server for it.
struct CallBounds: Sendable {
    var deadline: TimeAmount
    var stall: TimeAmount?
}

/// Where a channel hands the messages a server sends outside any request of ours
/// (`notifications/tools/list_changed`, a `roots/list` on the standalone stream).
typealias UnsolicitedMessages = @Sendable (RPCMessage) -> Void

/// Forwards a channel's unsolicited messages to whoever is set (the server made after it).
final class UnsolicitedSink: Sendable {
    private let target = NIOLockedValueBox<UnsolicitedMessages?>(nil)

    func set(_ handler: @escaping UnsolicitedMessages) {
        target.withLockedValue { $0 = handler }
    }

    func deliver(_ m: RPCMessage) {
        target.withLockedValue { $0 }?(m)
    }
}
