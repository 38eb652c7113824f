import NIOCore
import NIOHTTP1

/// The upstream side of one request, as the client connection sees it: it receives the rest
/// of the request and answers through the `ProxyHandler` that created it.
protocol RequestExchange: AnyObject {
    func requestBody(_ body: ByteBuffer)
    func requestEnd(_ trailers: HTTPHeaders?)
    /// The client can take more response bytes again (or no longer can).
    func clientWritabilityChanged(isWritable: Bool)
    /// The client went away: stop everything and free the upstream connection.
    func clientClosed()
}
