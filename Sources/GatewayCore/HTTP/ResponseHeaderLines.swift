import NIOCore
import NIOHTTP1

/// Headers a gate formats itself, written straight into an HTTP/1 head's bytes after the
/// head's own list rather than made into strings for it. Only for names and values the gate
/// made from fixed text and numbers: they are not checked as the list's are (see
/// `HTTP1Wire.isValid`). The AI gate's `x-ratelimit-*` and budget headers are these: seven
/// formatted values and their names on every metered answer.
package protocol ResponseHeaderLines {
    /// At most how many bytes `write` adds.
    var byteCount: Int { get }
    /// Writes each header as `name: value\r\n`.
    func write(into out: inout ByteBuffer)
    /// Adds the same headers to a list (HTTP/2 answers, and responders that keep a list).
    func add(to headers: inout HTTPHeaders)
}
