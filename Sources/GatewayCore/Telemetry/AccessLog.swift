import Foundation
import NIOConcurrencyHelpers
import NIOCore

/// The access log's settings (`telemetry.access_log`).
public struct AccessLogConfig: Sendable, Equatable {
    /// Default true: one JSON line per request is what operators grep first.
    public var enabled: Bool = true
    /// `stdout` (default, for containers) or a file path (appended to).
    public var path: String = "stdout"
    /// The fields written, in this order. Default: all of `AccessLogRecord.fieldNames`.
    public var fields: [String] = AccessLogRecord.fieldNames

    public init() {}
}

/// What one request leaves in the access log.
public struct AccessLogRecord: Sendable {
    public static let fieldNames = [
        "time", "request_id", "consumer", "team", "service", "route", "method", "path", "status", "bytes",
        "upstream", "upstream_ms", "total_ms", "limit",
    ]

    public var time = Date()
    public var requestID = ""
    public var consumer: String?
    public var team: String?
    public var service: String?
    public var route: String?
    public var method = ""
    public var path = ""
    public var status = 0
    public var bytes = 0
    public var upstream: String?
    public var upstreamNanos: Int64?
    public var totalNanos: Int64 = 0
    /// The limiter's word: `allowed`, `refused`, or nil when no limit applied.
    public var limit: String?

    public init() {}

    func json(fields: [String]) -> JSONValue {
        func ms(_ n: Int64) -> JSONValue { .double((Double(n) / 1e4).rounded() / 100) }
        let all: [String: JSONValue] = [
            "time": .string(time.ISO8601Format(.iso8601.year().month().day().dateTimeSeparator(.standard).time(includingFractionalSeconds: true))),
            "request_id": .string(requestID),
            "consumer": consumer.map { .string($0) } ?? .null,
            "team": team.map { .string($0) } ?? .null,
            "service": service.map { .string($0) } ?? .null,
            "route": route.map { .string($0) } ?? .null,
            "method": .string(method),
            "path": .string(path),
            "status": .int(status),
            "bytes": .int(bytes),
            "upstream": upstream.map { .string($0) } ?? .null,
            "upstream_ms": upstreamNanos.map(ms) ?? .null,
            "total_ms": ms(totalNanos),
            "limit": limit.map { .string($0) } ?? .null,
        ]
        return .object(fields.compactMap { f in all[f].map { (f, $0) } })
    }
}

/// Collects access-log lines from every event loop into one buffer, written out by a background
/// task every 100 ms (or when it passes 64 KiB): the request path never makes a syscall for it.
public final class AccessLog: Sendable {
    let config: AccessLogConfig
    private let buffer = NIOLockedValueBox<ByteBuffer>(ByteBuffer())
    private let handle: FileHandle?

    public init(config: AccessLogConfig) {
        self.config = config
        if !config.enabled {
            handle = nil
        } else if config.path == "stdout" {
            handle = .standardOutput
        } else {
            if !FileManager.default.fileExists(atPath: config.path) {
                _ = FileManager.default.createFile(atPath: config.path, contents: nil)
            }
            let h = FileHandle(forWritingAtPath: config.path)
            _ = try? h?.seekToEnd()
            handle = h
        }
    }

    public var isEnabled: Bool { handle != nil }

    public func record(_ record: AccessLogRecord) {
        guard handle != nil else { return }
        let json = record.json(fields: config.fields)
        let full = buffer.withLockedValue { b -> Bool in
            json.write(to: &b)
            b.writeInteger(UInt8(ascii: "\n"))
            return b.readableBytes > 64 * 1024
        }
        if full { flush() }
    }

    /// Writes what is buffered.
    public func flush() {
        guard let handle else { return }
        let out = buffer.withLockedValue { b -> ByteBuffer in
            let taken = b
            b.clear()
            return taken
        }
        if out.readableBytes > 0 { handle.write(Data(out.readableBytesView)) }
    }

    /// Flushes every 100 ms until cancelled, then once more.
    public func run() async {
        while !Task.isCancelled {
            try? await Task.sleep(for: .milliseconds(100))
            flush()
        }
        flush()
    }
}
