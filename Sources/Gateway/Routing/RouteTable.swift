import Foundation
import GatewayCore
import NIOHTTP1

/// The routes of one config snapshot, indexed for matching.
///
/// Precedence (documented in docs/configuration.md): an exact path (`=/x`) first, then the longest
/// matching prefix (on segment boundaries: `/abc` matches `/abc/def`, never `/abcd`), then
/// regexes in config order; among routes with the same path, the one with more method, host,
/// header and query conditions wins; then the one written first.
package struct RouteTable: Sendable {
    struct RegexEntry: @unchecked Sendable {
        // NSRegularExpression is immutable and thread-safe once built.
        let regex: NSRegularExpression
        let route: Route
    }

    private var exact: [String: [Route]] = [:]
    /// Keyed by the prefix without its trailing slash; "" is the root.
    private var prefixes: [String: [Route]] = [:]
    private var regexes: [RegexEntry] = []
    package private(set) var routes: [Route] = []

    /// The outcome of matching one request.
    package enum Match {
        /// `matchedLength`: how many bytes of the normalized path the route's path consumed.
        case route(Route, matchedLength: Int)
        /// Some route has this path but not this method.
        case methodNotAllowed(allow: [String])
        case notFound
    }

    package init(services: [ServiceConfig], serverMaxBody: Int) {
        var order = 0
        for (si, service) in services.enumerated() {
            for (ri, rc) in service.routes.enumerated() {
                let name = rc.name.isEmpty ? "\(service.name).\(ri)" : rc.name
                let route = Route(config: rc, name: name, serviceIndex: si, indexInService: ri, order: order, serverMaxBody: serverMaxBody)
                order += 1
                routes.append(route)
                let paths = rc.paths.isEmpty ? ["/"] : rc.paths
                for p in paths {
                    if p.hasPrefix("=") {
                        exact[String(p.dropFirst()), default: []].append(route)
                    } else if p.hasPrefix("~") {
                        if let re = try? NSRegularExpression(pattern: String(p.dropFirst())) {
                            regexes.append(RegexEntry(regex: re, route: route))
                        }
                    } else {
                        var key = p
                        while key.hasSuffix("/") { key.removeLast() }
                        prefixes[key, default: []].append(route)
                    }
                }
            }
        }
        let bySpecificity: (Route, Route) -> Bool = { a, b in
            a.specificity != b.specificity ? a.specificity > b.specificity : a.order < b.order
        }
        exact = exact.mapValues { $0.sorted(by: bySpecificity) }
        prefixes = prefixes.mapValues { $0.sorted(by: bySpecificity) }
        // Regexes keep config order among equal specificity; a stable sort keeps it.
        regexes = regexes.enumerated().sorted { x, y in
            x.element.route.specificity != y.element.route.specificity
                ? x.element.route.specificity > y.element.route.specificity : x.offset < y.offset
        }.map(\.element)
    }

    package func match(_ request: RouteRequest) -> Match {
        var allow: [String] = []
        var pathMatched = false

        func pick(_ candidates: [Route]) -> Route? {
            for route in candidates where route.matchesConditions(request) {
                pathMatched = true
                if route.allows(request.method) { return route }
                if let m = route.methods { allow.append(contentsOf: m) }
            }
            return nil
        }

        let path = request.path
        if let candidates = exact[String(path)], let route = pick(candidates) {
            return .route(route, matchedLength: path.utf8.count)
        }
        if !prefixes.isEmpty {
            // Walk the path's segment boundaries from the longest prefix to the root.
            var end = path.utf8.endIndex
            var probe = path
            while probe.hasSuffix("/") { probe = probe.dropLast() }
            end = probe.endIndex
            while true {
                let candidatePrefix = path[path.startIndex..<end]
                if let candidates = prefixes[String(candidatePrefix)], let route = pick(candidates) {
                    return .route(route, matchedLength: candidatePrefix.utf8.count)
                }
                guard end > path.startIndex, let slash = path[path.startIndex..<end].lastIndex(of: "/") else { break }
                end = slash
            }
        }
        if !regexes.isEmpty {
            let text = String(path)
            let range = NSRange(text.startIndex..., in: text)
            for entry in regexes {
                guard let m = entry.regex.firstMatch(in: text, range: range) else { continue }
                if let route = pick([entry.route]) {
                    let consumed = m.range.location == 0 ? m.range.length : 0
                    return .route(route, matchedLength: consumed)
                }
            }
        }
        if pathMatched, !allow.isEmpty {
            return .methodNotAllowed(allow: Set(allow).sorted())
        }
        return .notFound
    }
}
