import NIOSSL
import X509

/// The names in a client certificate that the TLS listener verified against `client_ca_file`,
/// read once per connection: the subject's common name and the subject alternative names (DNS
/// names, e-mail addresses, URIs), for `mtls_auth` to map to a consumer.
public struct ClientCertificate: Sendable, Equatable {
    public var subjectCommonName: String?
    public var alternativeNames: [String]

    public init(subjectCommonName: String?, alternativeNames: [String]) {
        self.subjectCommonName = subjectCommonName
        self.alternativeNames = alternativeNames
    }

    /// Parses a DER certificate with swift-certificates; nil when it cannot be read.
    public init?(der: [UInt8]) {
        guard let cert = try? Certificate(derEncoded: der) else { return nil }
        var cn: String?
        for rdn in cert.subject {
            for attribute in rdn where attribute.type == .RDNAttributeType.commonName {
                cn = String(describing: attribute.value)
            }
        }
        var names: [String] = []
        if let sans = try? cert.extensions.subjectAlternativeNames {
            for name in sans {
                switch name {
                case .dnsName(let n): names.append(n)
                case .rfc822Name(let n): names.append(n)
                case .uniformResourceIdentifier(let n): names.append(n)
                default: break
                }
            }
        }
        self.init(subjectCommonName: cn, alternativeNames: names)
    }

    public init?(_ certificate: NIOSSLCertificate) {
        guard let der = try? certificate.toDERBytes() else { return nil }
        self.init(der: der)
    }
}

/// What a gate's handler knows of the connection it serves.
public struct ConnectionInfo: Sendable {
    /// `http` or `https`, for X-Forwarded-Proto.
    public var scheme: String
    /// The verified client certificate, on TLS listeners that ask for one.
    public var clientCertificate: ClientCertificate?

    public init(scheme: String, clientCertificate: ClientCertificate? = nil) {
        self.scheme = scheme
        self.clientCertificate = clientCertificate
    }
}
