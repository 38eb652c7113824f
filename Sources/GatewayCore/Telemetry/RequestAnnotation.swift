import NIOCore
import Tracing

/// What a gate adds to a request's access-log line and span beyond the core's fields (the AI
/// gate's `gen_ai`). The core writes it where the gate's field is asked for, without knowing
/// what it says; the field's name is one of the gate's `ConfigSection.accessLogFields`.
package protocol RequestAnnotation: Sendable {
    /// The access-log field it fills (`gen_ai`).
    var accessLogField: String { get }
    /// Writes the field's value, one JSON value.
    func writeAccessLogValue(to buffer: inout ByteBuffer)
    /// Sets its attributes on the request's span.
    func setSpanAttributes(_ attributes: inout SpanAttributes)
}
