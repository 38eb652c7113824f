import NIOCore

/// A gate that serves HTTP requests on the data-plane listener. The listener sets up the
/// protocol (HTTP/1.1, h2c, TLS + h2); the gate's handler sees `HTTPServerRequestPart`s,
/// whichever it was (HTTP/2 streams are converted per stream).
package protocol HTTPGate: Sendable {
    /// A handler for one HTTP/1.1 connection or one HTTP/2 stream, made on `loop`.
    func makeHandler(on loop: LoopContext, isHTTP2: Bool, connection: ConnectionInfo) -> ChannelHandler
}
