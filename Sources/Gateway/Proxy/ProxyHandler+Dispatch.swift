import GatewayCore
import NIOCore
import NIOHTTP1

/// A request's way from its head to an exchange: limits, routing, the policy chain (which may
/// wait on I/O while the body is held), then the echo or a proxy exchange.
extension ProxyHandler {
    func startRequest(_ head: HTTPRequestHead) {
        requestSerial &+= 1
        requestOpen = true
        responseHeadSent = false
        requestVersion = head.version
        requestStart = NIODeadline.now().uptimeNanoseconds
        routeMetrics = gate.snapshot.unrouted
        upstreamNanos = nil
        responseOpen = true
        keepAlive = head.isKeepAlive && !quiescing
        let snapshot = gate.snapshot
        let limits = snapshot.limits
        let requestID: String
        if let given = head.headers.first(name: "x-request-id"), RequestIDGenerator.isAcceptable(given) {
            requestID = given
        } else {
            requestID = gate.loop.nextRequestID()
        }

        if gate.accessLog.isEnabled {
            var record = AccessLogRecord()
            record.requestID = requestID
            record.method = head.method.rawValue
            // The path only: query strings carry tokens and personal data too often to log.
            record.path = String(head.uri.prefix { $0 != "?" })
            logRecord = record
        }
        if gate.tracing {
            span = RequestTracing.startServerSpan(method: head.method, target: head.uri, headers: head.headers, clientIP: clientIP)
        }
        if head.headers.count > limits.maxHeaders || headBytes(head) > limits.maxHeaderBytes {
            return reject(ProblemDetails(status: .requestHeaderFieldsTooLarge, title: "Request header fields too large", requestID: requestID), close: true)
        }
        let routeRequest = RouteRequest(method: head.method, uri: head.uri, headers: head.headers)
        let route: Route
        let matchedLength: Int
        switch snapshot.routes.match(routeRequest) {
        case .route(let r, let length):
            route = r
            matchedLength = length
        case .methodNotAllowed(let allow):
            return reject(ProblemDetails(status: .methodNotAllowed, title: "Method not allowed", requestID: requestID, headers: [("allow", allow.joined(separator: ", "))]), close: false)
        case .notFound:
            return reject(ProblemDetails(status: .notFound, title: "No route matches this request", requestID: requestID), close: false)
        }
        policyHeaders = []
        routeMetrics = snapshot.routeMetrics[route.order]
        logRecord?.route = route.name
        span?.route(route.name)
        logRecord?.service = snapshot.services[route.serviceIndex].name
        let routed = RoutedRequest(head: head, route: route, matchedLength: matchedLength, path: routeRequest.path,
                                   query: routeRequest.query, requestID: requestID, snapshot: snapshot)
        let chain = snapshot.chains[route.order]
        guard !chain.isEmpty else { return dispatch(routed, forwardedHead: head) }
        let policyContext = PolicyContext(
            method: head.method, headers: head.headers, clientIP: clientIP, query: routeRequest.query,
            service: snapshot.services[route.serviceIndex].name, route: route.name, now: Int64(NIODeadline.now().uptimeNanoseconds),
            eventLoop: context.eventLoop, clientCertificate: clientCertificate)
        switch chain.run(policyContext, on: context.eventLoop) {
        case .done(let verdict, let final):
            afterPolicies(routed, verdict, final)
        case .pending(let future):
            // A policy waits on I/O: hold the request's body (and stop reading) until it answers.
            awaitingPolicies = true
            readsPausedByExchange = true
            let serial = requestSerial
            future.assumeIsolated().whenComplete { [weak self] result in
                guard let self, self.requestSerial == serial, self.context?.channel.isActive == true else { return }
                self.awaitingPolicies = false
                switch result {
                case .success(let (verdict, final)): self.afterPolicies(routed, verdict, final)
                case .failure: self.afterPolicies(routed, .reject(ProblemDetails(status: .internalServerError)), policyContext)
                }
                let held = self.heldParts
                self.heldParts.removeAll()
                for part in held { self.handle(part) }
                // An exchange that must hold the client back pauses reads again itself.
                self.resumeClientReads()
            }
        }
    }

    /// Takes the chain's verdict: refuse, or strip what the policies said and dispatch.
    private func afterPolicies(_ routed: RoutedRequest, _ verdict: PolicyVerdict, _ final: PolicyContext) {
        policyHeaders = final.responseHeaders
        logRecord?.consumer = final.consumer?.name
        logRecord?.team = final.consumer?.team
        logRecord?.limit = final.limitOutcome
        span?.consumer(final.consumer?.name)
        if case .reject(var problem) = verdict {
            problem.requestID = routed.requestID
            return reject(problem, close: false)
        }
        var forwardedHead = routed.head
        for name in final.removeRequestHeaders { forwardedHead.headers.remove(name: name) }
        dispatch(routed, forwardedHead: forwardedHead)
    }

    /// Hands a request that passed its policies to the echo or a proxy exchange.
    private func dispatch(_ routed: RoutedRequest, forwardedHead: HTTPRequestHead) {
        var forwardedHead = forwardedHead
        span?.inject(into: &forwardedHead.headers)
        let head = routed.head, route = routed.route, requestID = routed.requestID
        if route.maxBodyBytes > 0, let length = head.headers.first(name: "content-length").flatMap({ Int($0) }), length > route.maxBodyBytes {
            return reject(ProblemDetails(status: .payloadTooLarge, title: "Request body too large", detail: "limit is \(route.maxBodyBytes) bytes", requestID: requestID), close: true)
        }
        if head.headers.first(name: "expect")?.lowercased() == "100-continue" {
            // Answered here, as nginx does: the upstream never sees `Expect`, and the client
            // starts sending at once.
            context.write(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: .continue))), promise: nil)
            context.flush()
        }

        let service = routed.snapshot.services[route.serviceIndex]
        var uri = route.upstreamPath(routed.path, matchedLength: routed.matchedLength)
        if let query = routed.query { uri += "?" + query }
        lastBodyRead = .now()
        // Only a request that can have a body needs its body timer (a GET usually cannot):
        // a timer scheduled and cancelled per request is measurable at this rate.
        if isHTTP2 || head.headers.contains(name: "transfer-encoding")
            || (head.headers.first(name: "content-length").flatMap { Int($0) } ?? 0) > 0
        {
            armBodyTimer()
        }
        if service.targets.first?.scheme == .builtin {
            let upstreamHead = ForwardedHeaders.upstreamRequest(forwardedHead, uri: uri, target: service.targets[0], preserveHost: route.preserveHost, requestID: requestID, clientIP: clientIP, scheme: scheme)
            let version = isHTTP2 ? "HTTP/2.0" : "HTTP/\(head.version.major).\(head.version.minor)"
            exchange = EchoExchange(downstream: self, upstreamHead: upstreamHead, requestID: requestID, version: version)
            return
        }
        let proxy = ProxyExchange(
            downstream: self, service: service, loopState: service.loopStates[gate.loop.index], loop: gate.loop,
            route: route, head: forwardedHead, uri: uri, requestID: requestID, clientIP: clientIP)
        exchange = proxy
        proxy.start()
    }

    private func headBytes(_ head: HTTPRequestHead) -> Int {
        var n = head.uri.utf8.count + 16
        for (name, value) in head.headers { n += name.utf8.count + value.utf8.count + 4 }
        return n
    }
}

/// A request a route took, carried across the policy chain (which may wait on I/O).
struct RoutedRequest {
    let head: HTTPRequestHead
    let route: Route
    let matchedLength: Int
    let path: Substring
    let query: Substring?
    let requestID: String
    let snapshot: APISnapshot
}
