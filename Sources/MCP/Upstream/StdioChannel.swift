import Foundation
import GatewayCore
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOExtras
import NIOPosix

/// A local MCP server: a program the gate spawns and supervises, speaking newline-delimited
/// JSON-RPC on its stdin and stdout (stderr goes to the log). Started at first use (or with the
/// gateway, `start: eager`); when it exits, calls in flight fail and the next call restarts it,
/// no sooner than a backoff that doubles from 0.5 s to 30 s while it keeps crashing. Shutdown
/// closes its stdin, then sends SIGTERM, then SIGKILL, two seconds apart.
final class StdioChannel: UpstreamChannel, @unchecked Sendable {
    // @unchecked: all mutable state is in `state`, behind its lock.
    private struct State {
        var process: Process?
        var channel: Channel?
        var starting: Task<Void, Error>?
        var generation = 0
        var restarts = 0
        var lastStart: NIODeadline?
        var lastExit: NIODeadline?
        var stopped = false
    }

    let name: String
    let command: [String]
    let environment: [(String, String)]
    private let loop: EventLoop
    private let logger: Logger
    private let unsolicited: UnsolicitedMessages
    private let state = NIOLockedValueBox(State())
    private let pending = PendingRequests()
    private let eager: Bool
    /// Where an eager program's restart after it exits runs: not after the gate stopped.
    private let background: BackgroundTasks

    init(name: String, command: [String], environment: [(String, String)], eager: Bool, loop: EventLoop, logger: Logger,
         background: BackgroundTasks, unsolicited: @escaping UnsolicitedMessages) {
        self.background = background
        self.name = name
        self.command = command
        self.environment = environment
        self.eager = eager
        self.loop = loop
        self.logger = logger
        self.unsolicited = unsolicited
    }

    /// Increases each time the program is (re)started: a new process needs a new handshake.
    var generation: Int { state.withLockedValue { $0.generation } }

    /// The delay before the next start: doubling per crash, reset once a run lasted 30 s.
    static func backoff(restarts: Int) -> TimeAmount {
        guard restarts > 0 else { return .zero }
        return .milliseconds(Int64(min(30_000, 500 << min(restarts - 1, 6))))
    }

    /// Starts the program if it is not running; concurrent callers share one start.
    func ensureRunning() async throws {
        if state.withLockedValue({ $0.channel != nil && $0.starting == nil }) { return }
        let found: Task<Void, Error>? = state.withLockedValue { s in
            if let t = s.starting { return t }
            if s.channel != nil { return nil }
            let wait = Self.backoff(restarts: s.restarts)
            let since = s.lastExit.map { NIODeadline.now() - $0 } ?? .hours(1)
            let delay = wait - since
            let t = Task { [self] in
                if delay > .zero { try await Task.sleep(nanoseconds: UInt64(delay.nanoseconds)) }
                try await spawn()
            }
            s.starting = t
            return t
        }
        guard let task = found else { return }
        do {
            try await task.value
        } catch {
            state.withLockedValue { $0.starting = nil }
            throw error
        }
        state.withLockedValue { $0.starting = nil }
    }

    private func spawn() async throws {
        if state.withLockedValue({ $0.stopped }) { throw UpstreamFailure.unreachable("the gateway is stopping") }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = command
        var env = ProcessInfo.processInfo.environment
        for (k, v) in environment { env[k] = v }
        process.environment = env
        let stdin = Pipe(), stdout = Pipe(), stderr = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = stderr
        do {
            try process.run()
        } catch {
            noteExit()
            throw UpstreamFailure.unreachable("\(name): cannot start \(command.joined(separator: " ")): \(error)")
        }
        // NIO takes its own copies of our pipe ends; Foundation's are closed so the child sees
        // end-of-file on stdin once NIO closes the channel.
        let readFD = dup(stdout.fileHandleForReading.fileDescriptor), writeFD = dup(stdin.fileHandleForWriting.fileDescriptor)
        try? stdout.fileHandleForReading.close()
        try? stdin.fileHandleForWriting.close()
        let logger = self.logger, name = self.name
        let stderrLog = LogLineLimiter()
        stderr.fileHandleForReading.readabilityHandler = { handle in
            let data = handle.availableData
            if data.isEmpty {
                handle.readabilityHandler = nil
                return
            }
            let (lines, suppressed) = stderrLog.admit(String(decoding: data, as: UTF8.self).split(whereSeparator: \.isNewline))
            if suppressed > 0 {
                logger.warning("upstream stderr lines left out (over 20 a second)", metadata: ["mcp.server": "\(name)", "lines": "\(suppressed)"])
            }
            for line in lines {
                logger.info("upstream stderr", metadata: ["mcp.server": "\(name)", "line": "\(line)"])
            }
        }
        let channel = try await NIOPipeBootstrap(group: loop)
            .channelOption(.allowRemoteHalfClosure, value: false)
            .channelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(BoundedLineDecoder(maxLength: Self.maxLineBytes)))
                    try channel.pipeline.syncOperations.addHandler(StdioLineHandler(owner: self))
                }
            }
            .takingOwnershipOfDescriptors(input: readFD, output: writeFD).get()
        state.withLockedValue { s in
            s.process = process
            s.channel = channel
            s.generation += 1
            s.lastStart = .now()
        }
        logger.info("upstream started", metadata: ["mcp.server": "\(name)", "pid": "\(process.processIdentifier)"])
        channel.closeFuture.whenComplete { [self] _ in exited(channel) }
    }

    private func noteExit() {
        state.withLockedValue { s in
            let ranLong = s.lastStart.map { NIODeadline.now() - $0 > .seconds(30) } ?? false
            s.restarts = ranLong ? 1 : s.restarts + 1
            s.lastExit = .now()
        }
    }

    /// The program's stdout closed: it exited or crashed. Calls in flight fail.
    private func exited(_ channel: Channel) {
        let (current, process, stopped): (Bool, Process?, Bool) = state.withLockedValue { s in
            guard s.channel === channel else { return (false, nil, s.stopped) }
            s.channel = nil
            let proc = s.process
            s.process = nil
            return (true, proc, s.stopped)
        }
        guard current else { return }
        noteExit()
        if let process, process.isRunning { process.terminate() }
        pending.failAll(UpstreamFailure.unreachable("\(name) exited"))
        if !stopped {
            logger.warning("upstream exited", metadata: ["mcp.server": "\(name)"])
            if eager { background.spawn { try? await self.ensureRunning() } }
        }
    }

    /// The longest line (one message) a program may write: as much as an HTTP server's answer.
    static let maxLineBytes = HTTPPost.maxBody

    /// The program's output cannot be read on (a line over `maxLineBytes`): said before the
    /// channel closes, which ends the program like an exit.
    fileprivate func failed(_ error: Error) {
        logger.error("upstream output refused; the program is stopped", metadata: ["mcp.server": "\(name)", "error": "\(error)"])
    }

    /// One line of the program's stdout.
    fileprivate func received(_ line: ByteBuffer) {
        guard let m = try? RPCMessage.parse(line) else {
            logger.warning("upstream wrote a line that is not JSON-RPC", metadata: ["mcp.server": "\(name)"])
            return
        }
        // Server requests (sampling, elicitation, roots) and other notifications carry no
        // request of ours here: the server decides where they go.
        pending.deliver(m, otherwise: unsolicited)
    }

    func request(_ body: ByteBuffer, id: String, progressToken: String?, loop: LoopContext, bounds: CallBounds, pace: AgentOutbound?,
                 onMessage: @escaping @Sendable (RPCMessage) -> Void) async throws -> RPCMessage {
        try await ensureRunning()
        let pending = self.pending
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                guard let channel = state.withLockedValue({ $0.channel }) else {
                    return continuation.resume(throwing: UpstreamFailure.unreachable("\(name) is not running"))
                }
                pending.add(id, progressToken: progressToken, continuation: continuation, onMessage: onMessage)
                if Task.isCancelled { return pending.fail(id, CancellationError()) }
                var line = body
                line.writeStaticString("\n")
                channel.writeAndFlush(line, promise: nil)
                pending.bound(id, by: bounds, on: channel.eventLoop)
            }
        } onCancel: {
            pending.fail(id, CancellationError())
        }
    }

    func send(_ body: ByteBuffer, loop: LoopContext) async throws {
        try await ensureRunning()
        guard let channel = state.withLockedValue({ $0.channel }) else { throw UpstreamFailure.unreachable("\(name) is not running") }
        var line = body
        line.writeStaticString("\n")
        try await channel.writeAndFlush(line)
    }

    func prepare(loop: LoopContext) async throws {
        try await ensureRunning()
    }

    func established(protocolVersion: String) {}
    /// The stream is the channel itself: already open.
    func listen() async {}

    func reset() {}

    func shutdown() async {
        let (channel, process) = state.withLockedValue { s -> (Channel?, Process?) in
            s.stopped = true
            return (s.channel, s.process)
        }
        try? await channel?.close()
        guard let process else { return }
        if await Self.waitForExit(process, within: .seconds(2)) { return }
        process.terminate()
        if await Self.waitForExit(process, within: .seconds(2)) { return }
        kill(process.processIdentifier, SIGKILL)
        _ = await Self.waitForExit(process, within: .seconds(2))
    }

    private static func waitForExit(_ process: Process, within: TimeAmount) async -> Bool {
        let deadline = NIODeadline.now() + within
        while process.isRunning, NIODeadline.now() < deadline {
            try? await Task.sleep(nanoseconds: 20_000_000)
        }
        return !process.isRunning
    }
}

/// `params.progressToken` of a `notifications/progress`, as JSON text.
func progressTokenOfProgress(_ m: RPCMessage) -> String? {
    guard let r = m.paramsRange else { return nil }
    return m.bytes.withUnsafeReadableBytes { raw in
        let inner = UnsafeRawBufferPointer(rebasing: raw[r])
        guard let t = JSONScanner.members(["progressToken"], in: inner)?["progressToken"] else { return nil }
        return String(decoding: UnsafeRawBufferPointer(rebasing: inner[t]), as: UTF8.self)
    }
}

/// Hands each stdout line of the program to its channel.
private final class StdioLineHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    private let owner: StdioChannel

    init(owner: StdioChannel) {
        self.owner = owner
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        owner.received(unwrapInboundIn(data))
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        owner.failed(error)
        context.close(promise: nil)
    }
}
