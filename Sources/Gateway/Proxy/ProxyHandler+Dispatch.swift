import GatewayCore
import NIOCore
import NIOHTTP1

/// A request's way from its head to an exchange: limits, routing, the policy chain (which may
/// wait on I/O while the body is held), then the echo or a proxy exchange.
extension ProxyHandler {
    func startRequest(_ received: HTTPRequestHead) {
        var head = received
        requestSerial &+= 1
        connection.receivedHead(keepAlive: head.isKeepAlive)
        requestVersion = head.version
        requestMethod = head.method
        bodyLimit = 0
        bodyBytes = 0
        requestStart = NIODeadline.now().uptimeNanoseconds
        routeMetrics = gate.snapshot.unrouted
        upstreamNanos = nil
        policyHeaders = []
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
        if head.headers.count > limits.maxHeaders {
            return reject(ProblemDetails(status: .requestHeaderFieldsTooLarge, title: "Request header fields too large", requestID: requestID), close: true)
        }
        switch RequestHeadCheck.check(head, isHTTP2: isHTTP2, maxHeaderBytes: limits.maxHeaderBytes) {
        case .accept(let checked, let framing):
            head = checked
            requestFraming = framing
        case .refuse(let status, let title):
            // The rest of the connection's bytes cannot be trusted to mean what they say.
            return reject(ProblemDetails(status: status, title: title, requestID: requestID), close: true)
        }
        guard let routeRequest = RouteRequest(method: head.method, uri: head.uri, headers: head.headers, escapedSlashes: snapshot.escapedSlashes) else {
            return reject(ProblemDetails(status: .badRequest, title: "Malformed or ambiguous request path", requestID: requestID), close: false)
        }
        dialect = nil
        for mount in gate.mounts {
            if let mounted = mount.claim(head, path: routeRequest.path) {
                dialect = mounted.dialect
                routeMetrics = mounted.metrics
                logRecord?.route = mounted.route
                logRecord?.service = mounted.service
                span?.route(mounted.route)
                let routed = RoutedRequest(head: head, target: .mounted(mounted), path: routeRequest.path, query: routeRequest.query, requestID: requestID)
                return runPolicies(mounted.chain, routed, service: mounted.service, route: mounted.route)
            }
        }
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
        routeMetrics = snapshot.routeMetrics[route.order]
        logRecord?.route = route.name
        span?.route(route.name)
        let service = snapshot.services[route.serviceIndex].name
        logRecord?.service = service
        let routed = RoutedRequest(head: head, target: .api(route, matchedLength: matchedLength, snapshot: snapshot), path: routeRequest.path,
                                   query: routeRequest.query, requestID: requestID)
        runPolicies(snapshot.chains[route.order], routed, service: service, route: route.name)
    }

    /// Runs the route's policy chain, then dispatches; holds the body while a policy waits on I/O.
    private func runPolicies(_ chain: PolicyChain, _ routed: RoutedRequest, service: String, route: String) {
        policyHeaders = []
        guard !chain.isEmpty else { return afterPolicies(routed, .proceed, nil) }
        let head = routed.head
        let policyContext = PolicyContext(
            method: head.method, headers: head.headers, clientIP: clientIP, query: routed.query,
            service: service, route: route, now: Int64(NIODeadline.now().uptimeNanoseconds),
            eventLoop: context.eventLoop, clientCertificate: clientCertificate)
        switch chain.run(consume policyContext, on: context.eventLoop) {
        case .done(let verdict, let final):
            afterPolicies(routed, verdict, final)
        case .pending(let future):
            // A policy waits on I/O: hold the request's body (and stop reading) until it answers.
            connection.policiesPending()
            let serial = requestSerial
            future.assumeIsolated().whenComplete { [weak self] result in
                guard let self, self.requestSerial == serial, self.context?.channel.isActive == true else { return }
                self.connection.policiesAnswered()
                switch result {
                case .success(let (verdict, final)): self.afterPolicies(routed, verdict, final)
                case .failure: self.reject(ProblemDetails(status: .internalServerError, requestID: routed.requestID), close: false)
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
    private func afterPolicies(_ routed: consuming RoutedRequest, _ verdict: PolicyVerdict, _ final: consuming PolicyContext?) {
        var forwardedHead = routed.head
        if let final {
            policyHeaders = final.responseHeaders
            logRecord?.consumer = final.consumer?.name
            logRecord?.team = final.consumer?.team
            logRecord?.limit = final.limitOutcome
            span?.consumer(final.consumer?.name)
            if case .reject(var problem) = verdict {
                problem.requestID = routed.requestID
                return reject(problem, close: false)
            }
            for name in final.removeRequestHeaders { forwardedHead.headers.remove(name: name) }
            if !final.removeQueryParameters.isEmpty, let query = routed.query {
                routed.query = QueryString.removing(final.removeQueryParameters, from: query)
            }
        }
        switch routed.target {
        case .api(let route, let matchedLength, let snapshot):
            dispatch(routed, route: route, matchedLength: matchedLength, snapshot: snapshot, forwardedHead: forwardedHead)
        case .mounted(let mounted):
            if mounted.maxBodyBytes > 0, case .length(let length) = requestFraming, length > mounted.maxBodyBytes {
                return reject(ProblemDetails(status: .payloadTooLarge, title: "Request body too large", detail: "limit is \(mounted.maxBodyBytes) bytes", requestID: routed.requestID), close: true)
            }
            span?.inject(into: &forwardedHead.headers)
            answerExpectContinue(routed.head)
            // Removing copies the header list: only when there is something to remove.
            if forwardedHead.headers.contains(name: "expect") { forwardedHead.headers.remove(name: "expect") }
            lastBodyRead = .now()
            wantBodyTimer()
            bodyLimit = mounted.maxBodyBytes
            let request = MountedRequest(head: forwardedHead, path: routed.path, query: routed.query, requestID: routed.requestID,
                                         consumer: final?.consumer, clientIP: clientIP, policyContext: final)
            exchange = mounted.start(request, self)
        }
    }

    /// Hands a request that passed its policies to the echo or a proxy exchange.
    private func dispatch(_ routed: RoutedRequest, route: Route, matchedLength: Int, snapshot: APISnapshot, forwardedHead: HTTPRequestHead) {
        var forwardedHead = forwardedHead
        span?.inject(into: &forwardedHead.headers)
        let head = routed.head, requestID = routed.requestID
        if route.maxBodyBytes > 0, case .length(let length) = requestFraming, length > route.maxBodyBytes {
            return reject(ProblemDetails(status: .payloadTooLarge, title: "Request body too large", detail: "limit is \(route.maxBodyBytes) bytes", requestID: requestID), close: true)
        }
        answerExpectContinue(head)

        let service = snapshot.services[route.serviceIndex]
        var uri = route.upstreamPath(routed.path, matchedLength: matchedLength)
        if let query = routed.query { uri += "?" + query }
        lastBodyRead = .now()
        // Only a request that can have a body needs its body timer (a GET usually cannot):
        // a timer scheduled and cancelled per request is measurable at this rate.
        if isHTTP2 || requestFraming != .none { wantBodyTimer() }
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

    /// `Expect: 100-continue` is answered here, as nginx does: the upstream never sees it, and
    /// the client starts sending at once.
    private func answerExpectContinue(_ head: HTTPRequestHead) {
        guard head.headers.first(name: "expect")?.lowercased() == "100-continue" else { return }
        send(.head(HTTPResponseHead(version: head.version, status: .continue)))
        context.flush()
    }

}

/// A request a route took, carried across the policy chain (which may wait on I/O).
struct RoutedRequest {
    enum Target {
        /// One of the API gate's routes.
        case api(Route, matchedLength: Int, snapshot: APISnapshot)
        /// A mounted gate's (AI, MCP).
        case mounted(MountedRoute)
    }

    let head: HTTPRequestHead
    let target: Target
    let path: Substring
    /// The query as forwarded (credentials a policy took out are gone).
    var query: Substring?
    let requestID: String
}
