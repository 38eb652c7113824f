import Foundation
import NIOConcurrencyHelpers
import NIOCore
import ServiceLifecycle

/// The access log's settings (`telemetry.access_log`).
package struct AccessLogConfig: Sendable, Equatable {
    /// Default true: one JSON line per request is what operators grep first.
    package var enabled: Bool = true
    /// `stdout` (default, for containers) or a file path (appended to).
    package var path: String = "stdout"
    /// The fields written, in this order. Default: all of `AccessLogRecord.fieldNames`, then the
    /// gates' (`ConfigSection.accessLogFields`, filled in when the config is read).
    package var fields: [String] = AccessLogRecord.fieldNames

    package init() {}
}

/// What one request leaves in the access log.
package struct AccessLogRecord: Sendable {
    package static let fieldNames = [
        "time", "request_id", "consumer", "team", "service", "route", "method", "path", "status", "bytes",
        "upstream", "upstream_ms", "total_ms", "limit",
    ]

    package var requestID = ""
    package var consumer: String?
    package var team: String?
    package var service: String?
    package var route: String?
    package var method = ""
    package var path = ""
    package var status = 0
    package var bytes = 0
    package var upstream: String?
    package var upstreamNanos: Int64?
    package var totalNanos: Int64 = 0
    /// The limiter's word: `allowed`, `refused`, or nil when no limit applied.
    package var limit: String?
    /// What the gate that served the request adds (the AI gate's `gen_ai` field).
    package var annotation: (any RequestAnnotation)?

    package init() {}

    /// Appends the record as one JSON object. Written field by field into the buffer: no
    /// dictionary, no intermediate values (the first version cost 10 µs a request that way).
    func write(fields: [LineField], timePrefix: String, millis: Int, to b: inout ByteBuffer) {
        b.writeInteger(UInt8(ascii: "{"))
        for (i, lineField) in fields.enumerated() {
            if i > 0 { b.writeInteger(UInt8(ascii: ",")) }
            b.writeInteger(UInt8(ascii: "\""))
            let f: Field
            switch lineField {
            case .core(let core):
                f = core
            case .gate(let name):
                b.writeString(name)
                b.writeStaticString("\":")
                if let annotation, annotation.accessLogField == name {
                    annotation.writeAccessLogValue(to: &b)
                } else {
                    b.writeStaticString("null")
                }
                continue
            }
            b.writeString(f.rawValue)
            b.writeStaticString("\":")
            switch f {
            case .time:
                b.writeInteger(UInt8(ascii: "\""))
                b.writeString(timePrefix)
                b.writeInteger(UInt8(ascii: "."))
                if millis < 100 { b.writeInteger(UInt8(ascii: "0")) }
                if millis < 10 { b.writeInteger(UInt8(ascii: "0")) }
                b.writeString(String(millis))
                b.writeStaticString("Z\"")
            case .requestID: JSONValue.writeQuoted(requestID, to: &b)
            case .consumer: Self.optional(consumer, &b)
            case .team: Self.optional(team, &b)
            case .service: Self.optional(service, &b)
            case .route: Self.optional(route, &b)
            case .method: JSONValue.writeQuoted(method, to: &b)
            case .path: JSONValue.writeQuoted(path, to: &b)
            case .status: b.writeString(String(status))
            case .bytes: b.writeString(String(bytes))
            case .upstream: Self.optional(upstream, &b)
            case .upstreamMS: if let n = upstreamNanos { Self.millis(n, &b) } else { b.writeStaticString("null") }
            case .totalMS: Self.millis(totalNanos, &b)
            case .limit: Self.optional(limit, &b)
            }
        }
        b.writeStaticString("}\n")
    }

    private static func optional(_ s: String?, _ b: inout ByteBuffer) {
        if let s { JSONValue.writeQuoted(s, to: &b) } else { b.writeStaticString("null") }
    }

    /// Milliseconds with two decimals.
    private static func millis(_ nanos: Int64, _ b: inout ByteBuffer) {
        let hundredths = max(0, nanos) / 10_000
        b.writeString(String(hundredths / 100))
        b.writeInteger(UInt8(ascii: "."))
        let frac = hundredths % 100
        if frac < 10 { b.writeInteger(UInt8(ascii: "0")) }
        b.writeString(String(frac))
    }

    /// The fields a line may have.
    package enum Field: String, Sendable, CaseIterable {
        case time, requestID = "request_id", consumer, team, service, route, method, path, status, bytes
        case upstream, upstreamMS = "upstream_ms", totalMS = "total_ms", limit
    }

    /// A field of a line: the core's, or one a gate fills through the request's annotation.
    enum LineField: Sendable {
        case core(Field)
        case gate(String)
    }
}

/// Collects access-log lines from every event loop into one buffer, written out by its service
/// every 100 ms (or when it passes 64 KiB): the request path never makes a syscall for it.
/// As a service it runs until the gateway stops (after the server drained, so the last requests'
/// lines are written), then writes what is left.
package final class AccessLog: Service, Sendable {
    let config: AccessLogConfig
    private let fields: [AccessLogRecord.LineField]
    private struct Pending {
        var buffer = ByteBuffer()
        /// The formatted `yyyy-MM-ddTHH:mm:ss` of `second`: formatting a date costs microseconds,
        /// so it is done once a second.
        var second = -1
        var prefix = ""
    }
    private let pending = NIOLockedValueBox(Pending())
    private let handle: FileHandle?

    package init(config: AccessLogConfig) {
        self.config = config
        self.fields = config.fields.map { AccessLogRecord.Field(rawValue: $0).map { .core($0) } ?? .gate($0) }
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

    package var isEnabled: Bool { handle != nil }

    package func record(_ record: AccessLogRecord) {
        guard handle != nil else { return }
        let now = Date().timeIntervalSince1970
        let second = Int(now)
        let millis = Int((now - Double(second)) * 1000)
        let fields = self.fields
        let full = pending.withLockedValue { p -> Bool in
            if p.second != second {
                p.second = second
                p.prefix = Date(timeIntervalSince1970: TimeInterval(second))
                    .ISO8601Format(.iso8601.year().month().day().dateTimeSeparator(.standard).time(includingFractionalSeconds: false))
                if p.prefix.hasSuffix("Z") { p.prefix.removeLast() }
            }
            record.write(fields: fields, timePrefix: p.prefix, millis: millis, to: &p.buffer)
            return p.buffer.readableBytes > 64 * 1024
        }
        if full { flush() }
    }

    /// Writes what is buffered.
    package func flush() {
        guard let handle else { return }
        let out = pending.withLockedValue { p -> ByteBuffer in
            let taken = p.buffer
            p.buffer = ByteBuffer()
            return taken
        }
        if out.readableBytes > 0 { handle.write(Data(out.readableBytesView)) }
    }

    /// Flushes every 100 ms until the gateway stops (or the task is cancelled), then once more.
    package func run() async {
        // Off, it still runs until the gateway stops: a service that returns early stops the group.
        guard handle != nil else {
            try? await gracefulShutdown()
            return
        }
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(100))
                self.flush()
            }
        }
        flush()
    }
}
