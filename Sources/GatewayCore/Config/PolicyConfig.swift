/// A policy entry in a service's or route's `policies:` list.
package enum PolicyConfig: Sendable {
    case rateLimit(RateLimitConfig)
    case keyAuth(KeyAuthConfig)
    case acl(ACLConfig)
    case jwt(JWTPolicyConfig)
    case oauth2Introspection(IntrospectionPolicyConfig)
    case mtlsAuth(MTLSAuthConfig)

    /// The policy names a config may use today.
    package static let known = ["acl", "jwt", "key_auth", "mtls_auth", "oauth2_introspection", "rate_limit"]
}

/// `key_auth`: the caller presents an API key made by `triplegate keys create`.
package struct KeyAuthConfig: Sendable, Hashable {
    /// Headers that may carry the key, besides `Authorization: Bearer`. Default `[x-api-key]`.
    package var headerNames: [String] = ["x-api-key"]
    /// Query parameters that may carry the key. Default none: keys in URLs end up in logs.
    package var queryNames: [String] = []
    /// Remove the credential before the request goes upstream. Default true: upstreams have no
    /// use for it and should never see it.
    package var hideCredentials: Bool = true
    /// Let requests without a key through with no consumer (a bad key is still refused).
    /// Default false.
    package var anonymous: Bool = false

    package init() {}
}

/// `acl`: which consumer groups may pass. `deny` wins over `allow`.
package struct ACLConfig: Sendable, Hashable {
    package var allow: [String] = []
    package var deny: [String] = []

    package init() {}
}

/// `jwt`: the caller presents a JWT that the top-level `auth.jwt` settings verify.
package struct JWTPolicyConfig: Sendable, Hashable {
    /// Let requests without a token through with no consumer (a bad token is still refused).
    package var anonymous: Bool = false
    /// Remove the `Authorization` header before the request goes upstream. Default false: many
    /// upstreams read the token's claims themselves.
    package var hideCredentials: Bool = false

    package init() {}
}

/// `oauth2_introspection`: the caller presents an opaque bearer token that the authorization
/// server named in `auth.introspection` vouches for (RFC 7662).
package struct IntrospectionPolicyConfig: Sendable, Hashable {
    /// The scopes this route accepts.
    package var scopes: [String] = []
    /// Refuse (403) a token that carries none of `scopes`. Default false.
    package var mandatoryScope: Bool = false
    package var anonymous: Bool = false
    package var hideCredentials: Bool = true

    package init() {}
}

/// `mtls_auth`: the TLS client certificate the listener verified names the consumer.
package struct MTLSAuthConfig: Sendable, Hashable {
    /// A certificate field a consumer's name is read from.
    package enum Source: String, Sendable, CaseIterable {
        /// DNS names among the subject alternative names.
        case sanDNS = "san_dns"
        /// URIs among them (SPIFFE ids, say).
        case sanURI = "san_uri"
        /// E-mail addresses among them.
        case sanEmail = "san_email"
        /// Any of the three (the explicit kinds are safer: a CA that puts a user's e-mail in a
        /// certificate should not make that user a service named alike).
        case san
        /// The subject's common name (one; a certificate with several is refused).
        case subject
    }
    /// Where to look for the consumer's name, in order. Default DNS SANs, then the subject CN.
    package var consumerBy: [Source] = [.sanDNS, .subject]
    package var anonymous: Bool = false

    package init() {}
}
