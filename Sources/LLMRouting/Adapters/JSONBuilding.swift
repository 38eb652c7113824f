import Foundation
import GatewayCore
import NIOCore

extension JSONValue {
    /// An object of the pairs whose value is present, in order.
    static func obj(_ pairs: [(String, JSONValue?)]) -> JSONValue {
        .object(pairs.compactMap { k, v in v.map { (k, $0) } })
    }

    /// A number, integer or not.
    var doubleValue: Double? {
        switch self {
        case .int(let n): return Double(n)
        case .double(let d): return d
        default: return nil
        }
    }

    var objectFields: [(String, JSONValue)]? {
        if case .object(let f) = self { return f }
        return nil
    }

    /// A copy with `key` set (replaced in place, or appended).
    func setting(_ key: String, _ value: JSONValue) -> JSONValue {
        guard case .object(var fields) = self else { return self }
        if let i = fields.firstIndex(where: { $0.0 == key }) { fields[i].1 = value } else { fields.append((key, value)) }
        return .object(fields)
    }

    /// A copy without `key`.
    func removing(_ key: String) -> JSONValue {
        guard case .object(let fields) = self else { return self }
        return .object(fields.filter { $0.0 != key })
    }

    /// Parses JSON text (a tool call's `arguments`), nil when it is not JSON.
    static func parsed(_ text: String) -> JSONValue? { try? JSONParser.parse(text) }

    func buffer(_ allocator: ByteBufferAllocator = ByteBufferAllocator()) -> ByteBuffer {
        var b = allocator.buffer(capacity: 256)
        write(to: &b)
        return b
    }
}

/// Unix seconds, for the `created` field of OpenAI responses.
func unixNow() -> Int { Int(Date().timeIntervalSince1970) }
