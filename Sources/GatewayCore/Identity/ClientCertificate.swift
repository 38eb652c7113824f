import NIOSSL
import X509

/// The names in a client certificate that the TLS listener verified against `client_ca_file`,
/// read once per connection: the subject's common names and the subject alternative names by
/// kind (DNS names, e-mail addresses, URIs), for `mtls_auth` to map to a consumer.
package struct ClientCertificate: Sendable, Equatable {
    /// Every common name in the subject (a certificate may carry several; `mtls_auth` refuses
    /// to choose among them).
    package var commonNames: [String]
    package var dnsNames: [String]
    package var uris: [String]
    package var emails: [String]

    /// The subject's common name when it has exactly one.
    package var subjectCommonName: String? { commonNames.count == 1 ? commonNames[0] : nil }
    /// Every subject alternative name of the three kinds read.
    package var alternativeNames: [String] { dnsNames + emails + uris }

    package init(commonNames: [String], dnsNames: [String] = [], uris: [String] = [], emails: [String] = []) {
        self.commonNames = commonNames
        self.dnsNames = dnsNames
        self.uris = uris
        self.emails = emails
    }

    /// Parses a DER certificate with swift-certificates; nil when it cannot be read.
    package init?(der: [UInt8]) {
        guard let cert = try? Certificate(derEncoded: der) else { return nil }
        var cns: [String] = []
        for rdn in cert.subject {
            for attribute in rdn where attribute.type == .RDNAttributeType.commonName {
                cns.append(String(describing: attribute.value))
            }
        }
        var dns: [String] = [], uris: [String] = [], emails: [String] = []
        if let sans = try? cert.extensions.subjectAlternativeNames {
            for name in sans {
                switch name {
                case .dnsName(let n): dns.append(n)
                case .rfc822Name(let n): emails.append(n)
                case .uniformResourceIdentifier(let n): uris.append(n)
                default: break
                }
            }
        }
        self.init(commonNames: cns, dnsNames: dns, uris: uris, emails: emails)
    }

    package init?(_ certificate: NIOSSLCertificate) {
        guard let der = try? certificate.toDERBytes() else { return nil }
        self.init(der: der)
    }
}

/// What a gate's handler knows of the connection it serves.
package struct ConnectionInfo: Sendable {
    /// `http` or `https`, for X-Forwarded-Proto.
    package var scheme: String
    /// The verified client certificate, on TLS listeners that ask for one.
    package var clientCertificate: ClientCertificate?

    package init(scheme: String, clientCertificate: ClientCertificate? = nil) {
        self.scheme = scheme
        self.clientCertificate = clientCertificate
    }
}
