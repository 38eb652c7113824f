import GatewayCore
import NIOCore

/// OpenAI's error JSON: `{"error": {"message", "type", "param", "code"}}`. The SDKs pick their
/// exception type by status; `type` and `code` are what callers match on.
package struct OpenAIErrorDialect: ErrorDialect {
    package init() {}

    package func render(_ problem: ProblemDetails, allocator: ByteBufferAllocator) -> (contentType: String, body: ByteBuffer) {
        var b = allocator.buffer(capacity: 192)
        // OpenAI's quota errors carry the type `insufficient_quota`, as its own do.
        Self.error(status: Int(problem.status.code), message: problem.message, code: problem.code?.rawValue,
                   type: problem.code == .insufficientQuota ? ProblemCode.insufficientQuota.rawValue : nil).write(to: &b)
        return ("application/json", b)
    }

    static func error(status: Int, message: String, code: String?, type: String? = nil) -> JSONValue {
        let (defaultType, defaultCode): (String, String?) = switch status {
        case 401: ("invalid_request_error", "invalid_api_key")
        case 403: ("permission_error", nil)
        case 404: ("invalid_request_error", "not_found")
        case 429: ("requests", "rate_limit_exceeded")
        case 400..<500: ("invalid_request_error", nil)
        default: ("server_error", nil)
        }
        return .object([("error", .object([
            ("message", .string(message)),
            ("type", .string(type ?? defaultType)),
            ("param", .null),
            ("code", (code ?? defaultCode).map(JSONValue.string) ?? .null),
        ]))])
    }
}

/// Anthropic's error JSON: `{"type": "error", "error": {"type", "message"}}`.
package struct AnthropicErrorDialect: ErrorDialect {
    package init() {}

    package func render(_ problem: ProblemDetails, allocator: ByteBufferAllocator) -> (contentType: String, body: ByteBuffer) {
        var b = allocator.buffer(capacity: 160)
        Self.error(status: Int(problem.status.code), message: problem.message).write(to: &b)
        return ("application/json", b)
    }

    static func type(status: Int) -> String {
        switch status {
        case 400, 422: return "invalid_request_error"
        case 401: return "authentication_error"
        case 403: return "permission_error"
        case 404: return "not_found_error"
        case 413: return "request_too_large"
        case 429: return "rate_limit_error"
        case 529: return "overloaded_error"
        case 400..<500: return "invalid_request_error"
        default: return "api_error"
        }
    }

    static func error(status: Int, message: String, type: String? = nil) -> JSONValue {
        .object([("type", .string("error")), ("error", .object([("type", .string(type ?? Self.type(status: status))), ("message", .string(message))]))])
    }
}

extension ProblemDetails {
    /// The title and detail as one sentence, for dialects with a single message.
    var message: String { detail.map { "\(title): \($0)" } ?? title }
}

extension ClientDialect {
    var errors: any ErrorDialect {
        switch self {
        case .openai: return OpenAIErrorDialect()
        case .anthropic: return AnthropicErrorDialect()
        }
    }
}
