/// `mtls_auth` in the authenticate phase: the client certificate the TLS listener verified
/// names the consumer, by a subject alternative name or the subject's common name (in the
/// order `consumer_by` gives), matched against the declared consumers.
public struct MTLSAuthPolicy: RequestPolicy {
    public let name = "mtls_auth"
    public let phase = PolicyPhase.authenticate
    public let priority = 1600  // Kong's mtls-auth priority
    let config: MTLSAuthConfig
    let consumers: [String: Consumer]
    let metrics: GatewayMetrics?

    public init(config: MTLSAuthConfig, consumers: [String: Consumer], metrics: GatewayMetrics? = nil) {
        self.config = config
        self.consumers = consumers
        self.metrics = metrics
    }

    public func apply(_ context: inout PolicyContext) -> PolicyVerdict {
        guard let cert = context.clientCertificate else {
            // Already identified (a token): no certificate needed (`IdentityRule`).
            if config.anonymous || context.consumer != nil { return .proceed }
            metrics?.authMissing.increment()
            return .reject(ProblemDetails(status: .unauthorized, title: "No client certificate",
                                          headers: [("www-authenticate", "Mutual realm=\"triplegate\"")]))
        }
        for source in config.consumerBy {
            let names = source == .san ? cert.alternativeNames : cert.subjectCommonName.map { [$0] } ?? []
            for name in names {
                if let consumer = consumers[name] {
                    if let refusal = IdentityRule.conflict(established: context.consumer, presented: consumer.name, by: "client certificate",
                                                           metrics: metrics) {
                        return refusal
                    }
                    if context.consumer == nil { context.consumer = consumer }
                    return .proceed
                }
            }
        }
        metrics?.authFailure("mtls_unknown_consumer").increment()
        return .reject(ProblemDetails(status: .unauthorized, title: "Client certificate names no known consumer",
                                      headers: [("www-authenticate", "Mutual realm=\"triplegate\"")]))
    }
}
