import Foundation
import Logging
import NIOConcurrencyHelpers

/// A swift-log handler that writes one JSON object per line: `time`, `level`, `logger`,
/// `message`, then the metadata with dotted keys. Lines are written whole under a lock, so
/// lines from different threads never interleave.
package struct JSONLogHandler: LogHandler {
    package var metadata: Logger.Metadata = [:]
    package var logLevel: Logger.Level = .info
    private let label: String
    private let output: JSONLogOutput

    package init(label: String, output: JSONLogOutput = .standardError) {
        self.label = label
        self.output = output
    }

    package subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    package func log(event: LogEvent) {
        var fields: [(String, JSONValue)] = [
            ("time", .string(Date().ISO8601Format(.iso8601.year().month().day().dateTimeSeparator(.standard).time(includingFractionalSeconds: true).timeZone(separator: .omitted)))),
            ("level", .string(event.level.rawValue)),
            ("logger", .string(label)),
            ("message", .string(event.message.description)),
        ]
        let merged = metadata.merging(event.metadata ?? [:]) { _, new in new }
        for key in merged.keys.sorted() {
            fields.append((key, Self.json(merged[key]!)))
        }
        output.write(JSONValue.object(fields).text + "\n")
    }

    static func json(_ value: Logger.MetadataValue) -> JSONValue {
        switch value {
        case .string(let s): return .string(s)
        case .stringConvertible(let c): return .string(c.description)
        case .array(let a): return .array(a.map(json))
        case .dictionary(let d): return .object(d.keys.sorted().map { ($0, json(d[$0]!)) })
        }
    }
}

/// Where JSON log lines go.
package final class JSONLogOutput: Sendable {
    private let lock = NIOLock()
    private let handle: FileHandle

    package init(handle: FileHandle) { self.handle = handle }

    package static let standardError = JSONLogOutput(handle: .standardError)
    package static let standardOutput = JSONLogOutput(handle: .standardOutput)

    func write(_ line: String) {
        lock.withLock { handle.write(Data(line.utf8)) }
    }
}
