import GatewayCore
import NIOCore

/// What each request leaves behind: its access-log line and its metrics, recorded once when the
/// response ends, is cut, or the client leaves.
extension ProxyHandler {
    /// The exchange reached an upstream: where, and how long until its response head.
    func noteUpstream(address: SocketAddress?, latencyNanos: Int64) {
        upstreamNanos = latencyNanos
        guard logRecord != nil || span != nil else { return }
        let text = address?.hostPort
        logRecord?.upstream = text
        span?.upstream(text)
        logRecord?.upstreamNanos = latencyNanos
    }

    func annotate(_ annotation: some RequestAnnotation) {
        logRecord?.annotation = annotation
        span?.annotate(annotation)
    }

    /// Records the finished request in the metrics and the access log.
    func finishLog(status: Int?) {
        let total = Int64(NIODeadline.now().uptimeNanoseconds - requestStart)
        if let status { responseStatus = status }
        if let span {
            self.span = nil
            span.end(status: responseStatus)
        }
        if let metrics = routeMetrics {
            routeMetrics = nil
            metrics.record(status: responseStatus, totalNanos: total, upstreamNanos: upstreamNanos)
        }
        guard var record = logRecord else { return }
        logRecord = nil
        record.status = responseStatus
        record.totalNanos = total
        gate.accessLog.record(record)
    }
}
