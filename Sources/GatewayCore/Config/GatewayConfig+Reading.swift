/// Reading each config type from its YAML mapping. Defaults live on the types themselves;
/// a reader only overrides what the file says.
extension GatewayConfig {
    init(reading o: ConfigObject, sections: [any ConfigSection.Type]) {
        self.init()
        // The access log's fields: the gates' follow the core's, in the order of the sections.
        let knownFields = AccessLogRecord.fieldNames + sections.flatMap { $0.accessLogFields }
        telemetry.accessLog.fields = knownFields
        if let s = o["server"].object({ ServerConfig(reading: $0) }) { server = s }
        if let a = o["admin"].object({ AdminConfig(reading: $0) }) { admin = a }
        if let r = o["reload"].object({ ReloadConfig(reading: $0) }) { reload = r }
        if let t = o["telemetry"].object({ t -> TelemetryConfig in
            var telemetry = TelemetryConfig()
            telemetry.accessLog.fields = knownFields
            if let a = t["access_log"].object({ a -> AccessLogConfig in
                var c = AccessLogConfig()
                c.enabled = a["enabled"].bool() ?? c.enabled
                c.path = a["path"].string() ?? c.path
                let known = knownFields
                c.fields = known
                let fieldsReader = a["fields"]
                if let fields = fieldsReader.list({ $0.string() }) {
                    for (i, f) in fields.enumerated() where !known.contains(f) {
                        fieldsReader.problem(at: "[\(i)]", "unknown field \"\(f)\" (known: \(known.joined(separator: ", ")))")
                    }
                    c.fields = fields
                }
                return c
            }) { telemetry.accessLog = a }
            telemetry.traces = t["traces"].object { tr -> TracesConfig in
                var c = TracesConfig()
                c.endpoint = tr["endpoint"].string() ?? c.endpoint
                if case .failure(let e) = UpstreamURL.parse(c.endpoint) { tr.problem(at: "endpoint", "\(e)") }
                c.protocol = tr["protocol"].oneOf(TracesConfig.ExportProtocol.self) ?? c.protocol
                c.serviceName = tr["service_name"].string() ?? c.serviceName
                c.sampleRatio = tr["sample_ratio"].double(min: 0, max: 1) ?? c.sampleRatio
                c.batchDelay = tr["batch_delay"].duration() ?? c.batchDelay
                return c
            }
            return telemetry
        }) { telemetry = t }
        consumers = o["consumers"].list { $0.object { c -> Consumer? in
            let name = c["name"].requiredString()
            let team = c["team"].string()
            let groups = c["groups"].list { $0.string() } ?? []
            let tags = c["tags"].list { $0.string() } ?? []
            return name.map { Consumer(name: $0, team: team, groups: groups, tags: tags) }
        } ?? nil } ?? []
        store = o["store"].string() ?? store
        redis = o["redis"].string()
        if let a = o["auth"].object({ AuthConfig(reading: $0) }) { auth = a }
        for kind in sections {
            if let section = o[kind.key].object({ kind.init(reading: $0) }) { self.sections[kind.key] = section }
        }
        services = o["services"].list { $0.object { ServiceConfig(reading: $0) } } ?? []
    }
}

extension ServerConfig {
    init(reading o: ConfigObject) {
        self.init()
        listen = o["listen"].string() ?? listen
        eventLoops = o["event_loops"].int(min: 0, max: 256) ?? eventLoops
        h2c = o["h2c"].bool() ?? h2c
        tls = o["tls"].object { t -> TLSFiles? in
            let cert = t["certificate"].requiredString(), key = t["key"].requiredString()
            var files = TLSFiles(certificate: cert ?? "", key: key ?? "")
            files.clientCAFile = t["client_ca_file"].string()
            files.clientAuth = t["client_auth"].oneOf(TLSFiles.ClientAuth.self) ?? (files.clientCAFile == nil ? .none : .optional)
            if files.clientAuth != .none, files.clientCAFile == nil { t.problem(at: "client_auth", "needs client_ca_file") }
            guard cert != nil, key != nil else { return nil }
            return files
        } ?? nil
        if let l = o["limits"].object({ ServerLimits(reading: $0) }) { limits = l }
        escapedSlashes = o["escaped_slashes"].oneOf(EscapedSlashes.self) ?? escapedSlashes
        shutdownGrace = o["shutdown_grace"].duration() ?? shutdownGrace
    }
}

extension ServerLimits {
    init(reading o: ConfigObject) {
        self.init()
        maxHeaderBytes = o["max_header_bytes"].byteSize() ?? maxHeaderBytes
        maxHeaders = o["max_headers"].int(min: 1, max: 10_000) ?? maxHeaders
        maxBodyBytes = o["max_body_bytes"].byteSize() ?? maxBodyBytes
        clientHeaderTimeout = o["client_header_timeout"].duration() ?? clientHeaderTimeout
        clientBodyTimeout = o["client_body_timeout"].duration() ?? clientBodyTimeout
        keepaliveTimeout = o["keepalive_timeout"].duration() ?? keepaliveTimeout
        maxConnections = o["max_connections"].int(min: 0, max: 10_000_000) ?? maxConnections
    }
}

extension AdminConfig {
    init(reading o: ConfigObject) {
        self.init()
        listen = o["listen"].string() ?? listen
        enabled = o["enabled"].bool() ?? enabled
        allowedHosts = o["allowed_hosts"].list { $0.string() } ?? allowedHosts
    }
}

extension ReloadConfig {
    init(reading o: ConfigObject) {
        self.init()
        watch = o["watch"].bool() ?? watch
        interval = o["interval"].duration() ?? interval
    }
}

extension ServiceConfig {
    init(reading o: ConfigObject) {
        self.init()
        name = o["name"].requiredString() ?? ""
        let up = o["upstream"]
        if up.isAbsent {
            up.problem("is required")
        } else if let single = up.scalarIfPresent() {
            // `upstream: builtin:echo` or `upstream: http://host:port`: one target, defaults for the rest.
            upstream.targets = [TargetConfig(url: single, weight: 100)]
        } else if let u = up.object({ UpstreamConfig(reading: $0) }) {
            upstream = u
        }
        routes = o["routes"].list { $0.object { RouteConfig(reading: $0) } } ?? []
        policies = PolicyConfig.readList(o["policies"])
    }
}

extension ConfigReader {
    /// The string value when this node is a scalar; nil (and no problem) otherwise.
    package func scalarIfPresent() -> String? {
        if case .scalar = node { return string() }
        return nil
    }
}

extension UpstreamConfig {
    init(reading o: ConfigObject) {
        self.init()
        let t = o["targets"]
        if t.isAbsent { t.problem("is required") }
        targets = t.list { r in
            r.object { x -> TargetConfig? in
                // Read every key before deciding, so each is checked and none is called unknown.
                let url = x["url"].requiredString()
                let weight = x["weight"].int(min: 0, max: 65_535) ?? 100
                return url.map { TargetConfig(url: $0, weight: weight) }
            } ?? nil
        } ?? []
        balance = o["balance"].oneOf(BalanceAlgorithm.self) ?? balance
        hashOn = o["hash_on"].object { h -> HashKey? in
            let header = h["header"].string(), cookie = h["cookie"].string(), ip = h["client_ip"].bool() ?? false
            let chosen = [header != nil, cookie != nil, ip].filter { $0 }.count
            if chosen != 1 {
                h.problem("must name exactly one of header, cookie or client_ip")
                return nil
            }
            if let header { return .header(header) }
            if let cookie { return .cookie(cookie) }
            return .clientIP
        } ?? nil
        if let p = o["pool"].object({ PoolConfig(reading: $0) }) { pool = p }
        if let x = o["timeouts"].object({ UpstreamTimeouts(reading: $0) }) { timeouts = x }
        if let r = o["retries"].object({ RetryConfig(reading: $0) }) { retries = r }
        `protocol` = o["protocol"].oneOf(UpstreamProtocol.self) ?? `protocol`
        if let t = o["tls"].object({ t -> UpstreamTLS in
            var tls = UpstreamTLS()
            tls.verify = t["verify"].bool() ?? tls.verify
            tls.caFile = t["ca_file"].string()
            tls.serverName = t["server_name"].string()
            return tls
        }) { tls = t }
    }
}

extension PoolConfig {
    init(reading o: ConfigObject) {
        self.init()
        maxConnections = o["max_connections"].int(min: 1, max: 100_000) ?? maxConnections
        idleTimeout = o["idle_timeout"].duration() ?? idleTimeout
    }
}

extension UpstreamTimeouts {
    init(reading o: ConfigObject) {
        self.init()
        connect = o["connect"].duration() ?? connect
        perTry = o["per_try"].duration() ?? perTry
        total = o["total"].duration() ?? total
        read = o["read"].duration() ?? read
    }
}

extension RetryConfig {
    init(reading o: ConfigObject) {
        self.init()
        attempts = o["attempts"].int(min: 0, max: 10) ?? attempts
        if let words = o["on"].list({ r -> String? in r.string() }) {
            var c = RetryConditions(connect: false, timeout: false, statuses: [])
            for (i, w) in words.enumerated() {
                switch w {
                case "connect": c.connect = true
                case "timeout": c.timeout = true
                default:
                    if let code = Int(w), (500...599).contains(code) || code == 429 || code == 408 {
                        c.statuses.insert(code)
                    } else {
                        o.problem(at: "on[\(i)]", "must be connect, timeout, 408, 429 or a 5xx status (got \"\(w)\")")
                    }
                }
            }
            on = c
        }
        if let b = o["backoff"].object({ b -> (Duration?, Duration?) in (b["base"].duration(), b["max"].duration()) }) {
            backoffBase = b.0 ?? backoffBase
            backoffMax = b.1 ?? backoffMax
        }
        if let b = o["budget"].object({ b -> (Double?, Int?) in (b["ratio"].double(min: 0, max: 1), b["min_per_second"].int(min: 0)) }) {
            budgetRatio = b.0 ?? budgetRatio
            budgetMinPerSecond = b.1 ?? budgetMinPerSecond
        }
        bufferBytes = o["buffer_bytes"].byteSize() ?? bufferBytes
    }
}

extension RouteConfig {
    init(reading o: ConfigObject) {
        self.init()
        name = o["name"].string() ?? ""
        paths = o["paths"].list { $0.string() } ?? []
        methods = o["methods"].list { $0.string() } ?? []
        hosts = o["hosts"].list { $0.string() } ?? []
        headers = Self.conditions(o["headers"])
        query = Self.conditions(o["query"])
        stripPath = o["strip_path"].bool() ?? stripPath
        rewritePrefix = o["rewrite_prefix"].string()
        preserveHost = o["preserve_host"].bool() ?? preserveHost
        maxBodyBytes = o["max_body_bytes"].byteSize() ?? maxBodyBytes
        policies = PolicyConfig.readList(o["policies"])
    }

    /// `{ Name: [v1, v2] }` or `{ Name: v }`.
    private static func conditions(_ r: ConfigReader) -> [(name: String, values: [String])] {
        let pairs = r.dictionary { _, v -> [String]? in
            if let one = v.scalarIfPresent() { return [one] }
            return v.list { $0.string() }
        } ?? []
        return pairs.map { (name: $0.0, values: $0.1) }
    }
}
