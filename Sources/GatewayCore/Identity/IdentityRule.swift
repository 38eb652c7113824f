/// The rule for several authenticators on one route, kept by every one of them alike:
///
/// 1. They run by priority (`oauth2_introspection`, `mtls_auth`, `jwt`, `key_auth`); the first
///    that identifies the consumer decides who the request is.
/// 2. A later one does not require its credential: without it, the request passes as the
///    consumer already identified (a client with Alice's certificate needs no key).
/// 3. With its credential, that credential must be valid and name the same consumer; one that
///    names another is refused with 403. A request is never one consumer by its certificate
///    and another by its key: taking the later one would let a key override a certificate,
///    taking the earlier one silently would hide a misconfigured or stolen credential.
package enum IdentityRule {
    /// Nil when `presented` is the consumer already identified (or none was); otherwise the
    /// refusal, counted.
    static func conflict(established: Consumer?, presented: String, by policy: String, metrics: GatewayMetrics?) -> PolicyVerdict? {
        guard let established, established.name != presented else { return nil }
        metrics?.authFailure("conflicting_identities").increment()
        return .reject(ProblemDetails(status: .forbidden, title: "Conflicting identities",
                                      detail: "the request's \(policy) credential names another consumer than the one already identified"))
    }
}
