/// `mtls_auth` in the authenticate phase: the client certificate the TLS listener verified
/// names the consumer, by the fields `consumer_by` lists in order (DNS, URI or e-mail subject
/// alternative names, or the subject's common name), matched against the declared consumers.
/// A certificate is refused as ambiguous when it has several common names, or when the first
/// field naming a known consumer names two.
package struct MTLSAuthPolicy: RequestPolicy {
    package let name = "mtls_auth"
    package let phase = PolicyPhase.authenticate
    package let priority = 1600  // Kong's mtls-auth priority
    let config: MTLSAuthConfig
    let consumers: [String: Consumer]
    let metrics: GatewayMetrics?

    package init(config: MTLSAuthConfig, consumers: [String: Consumer], metrics: GatewayMetrics? = nil) {
        self.config = config
        self.consumers = consumers
        self.metrics = metrics
    }

    package func apply(_ context: inout PolicyContext) -> PolicyVerdict {
        guard let cert = context.clientCertificate else {
            // Already identified (a token): no certificate needed (`IdentityRule`).
            if config.anonymous || context.consumer != nil { return .proceed }
            metrics?.authMissing.increment()
            return .reject(ProblemDetails(status: .unauthorized, title: "No client certificate",
                                          headers: [("www-authenticate", "Mutual realm=\"triplegate\"")]))
        }
        for source in config.consumerBy {
            let names: [String]
            switch source {
            case .sanDNS: names = cert.dnsNames
            case .sanURI: names = cert.uris
            case .sanEmail: names = cert.emails
            case .san: names = cert.alternativeNames
            case .subject:
                // Readers differ on which of several common names counts: none does.
                if cert.commonNames.count > 1 { return ambiguous("several subject common names") }
                names = cert.commonNames
            }
            // The first field that names a known consumer decides; if it names two, neither.
            let found = Set(names.compactMap { consumers[$0]?.name })
            if found.count > 1 { return ambiguous("\(source.rawValue) names several consumers") }
            if let name = found.first, let consumer = consumers[name] {
                if let refusal = IdentityRule.conflict(established: context.consumer, presented: consumer.name, by: "client certificate",
                                                       metrics: metrics) {
                    return refusal
                }
                if context.consumer == nil { context.consumer = consumer }
                return .proceed
            }
        }
        metrics?.authFailure("mtls_unknown_consumer").increment()
        return .reject(ProblemDetails(status: .unauthorized, title: "Client certificate names no known consumer",
                                      headers: [("www-authenticate", "Mutual realm=\"triplegate\"")]))
    }

    private func ambiguous(_ why: String) -> PolicyVerdict {
        metrics?.authFailure("mtls_ambiguous_certificate").increment()
        return .reject(ProblemDetails(status: .unauthorized, title: "Client certificate is ambiguous", detail: why,
                                      headers: [("www-authenticate", "Mutual realm=\"triplegate\"")]))
    }
}
