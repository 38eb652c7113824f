import Foundation
import GatewayCore
import NIOCore
import Testing
import Tracing

/// A gate's section as a made-up gate would declare it: the core must read, check and print it
/// without knowing any gate, and know nothing of it when the section is not given.
private struct WidgetsConfig: ConfigSection {
    static let key = "widgets"
    static let servesWhat = "widgets.items"
    static let accessLogFields = ["widget"]
    static let resourcePolicyLists = ["widgets.per_item_policies"]
    static let keys = [ConfigKeyTable("widgets", [
        ConfigKey("widgets.items", "list of strings", default: "[]", "what it serves"),
        ConfigKey("widgets.secret", "string", secret: true, "a credential"),
    ])]

    var items: [String] = []
    var policies: [PolicyConfig] = []
    var perItemPolicies: [PolicyConfig] = []
    var secret = ""

    init(reading o: ConfigObject) {
        items = o["items"].list { $0.string() } ?? []
        policies = PolicyConfig.readList(o["policies"])
        perItemPolicies = PolicyConfig.readList(o["per_item_policies"])
        secret = o["secret"].string() ?? ""
    }

    var servesSomething: Bool { !items.isEmpty }

    var policyLists: [ConfigPolicyList] {
        [ConfigPolicyList(path: "widgets.policies", policies: policies),
         ConfigPolicyList(path: "widgets.per_item_policies", policies: perItemPolicies, resourceKeys: true)]
    }

    func validate(in config: GatewayConfig, problems: ProblemCollector) {
        for (i, item) in items.enumerated() where items.firstIndex(of: item) != i {
            problems.add("widgets.items[\(i)]", "duplicates \"\(item)\"")
        }
    }

    var effectiveJSON: JSONValue {
        .object([("items", .array(items.map { .string($0) })), ("secret", .string("[redacted]"))])
    }

    func explanation(chain: ([PolicyConfig]) -> String) -> String { "widgets: \(items.joined(separator: ", ")), \(chain(policies))\n" }
}

private struct WidgetAnnotation: RequestAnnotation {
    var name: String
    var accessLogField: String { "widget" }
    func writeAccessLogValue(to buffer: inout ByteBuffer) { JSONValue.writeQuoted(name, to: &buffer) }
    func setSpanAttributes(_ attributes: inout SpanAttributes) { attributes["widget.name"] = name }
}

private func sectionProblems(_ yaml: String, sections: [any ConfigSection.Type] = [WidgetsConfig.self]) -> [String] {
    do {
        _ = try GatewayConfig.parse(yaml: yaml, environment: [:], sections: sections)
        return []
    } catch {
        return error.problems.map(\.description)
    }
}

@Suite struct ConfigSectionTests {
    @Test func aSectionNoGateDeclaresIsAnUnknownKey() {
        #expect(sectionProblems("widgets: { items: [a] }", sections: []) == [
            "widgets: unknown key",
            "services: must list at least one service",
        ])
    }

    @Test func aGateSectionIsReadCheckedAndPrintedThroughTheProtocol() throws {
        let config = try GatewayConfig.parse(yaml: "widgets: { items: [a, b], secret: hush, policies: [{ key_auth: {} }] }", environment: [:],
                                             sections: [WidgetsConfig.self])
        let widgets = try #require(config[section: WidgetsConfig.self])
        #expect(widgets.items == ["a", "b"])
        // A section that serves something is enough without services; its key_auth counts.
        #expect(config.services.isEmpty && config.usesKeys)
        let printed = config.effectiveJSON
        #expect(printed["widgets"]?["items"] == .array([.string("a"), .string("b")]))
        #expect(printed["widgets"]?["secret"] == .string("[redacted]"))
        #expect(config.telemetry.accessLog.fields.last == "widget")
        // A section the binary has but the file does not is printed as null.
        let without = try GatewayConfig.parse(yaml: "services: [{ name: e, upstream: builtin:echo, routes: [{ paths: [/] }] }]",
                                              environment: [:], sections: [WidgetsConfig.self])
        #expect(without.effectiveJSON["widgets"] == .null)
        #expect(without[section: WidgetsConfig.self] == nil)
    }

    @Test func everyProblemOfTheSectionAndTheCoreIsReportedInOneRun() {
        #expect(sectionProblems("""
            server: { listen: nowhere }
            widgets:
              items: [a, a]
              colour: red
              policies: [{ rate_limit: { minute: 1, by: [tool] } }]
              per_item_policies: [{ rate_limit: { minute: 1, by: [tool], store: redis } }]
            """) == [
            "widgets.colour: unknown key",
            "server.listen: must be host:port (got \"nowhere\")",
            "widgets.policies[0].rate_limit.by: tool applies only in widgets.per_item_policies",
            "widgets.per_item_policies[0].rate_limit.store: redis needs a top-level redis: redis://host:port",
            "widgets.items[1]: duplicates \"a\"",
        ])
    }

    @Test func nothingToServeNamesWhatEachSectionServes() {
        #expect(sectionProblems("widgets: { items: [] }") == ["services: must list at least one service (or widgets.items)"])
    }

    @Test func theAccessLogWritesAGateFieldFromTheRequestAnnotation() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("tg-annotation-\(UUID().uuidString).log").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        var config = AccessLogConfig()
        config.path = path
        config.fields = ["status", "widget"]
        let log = AccessLog(config: config)
        var record = AccessLogRecord()
        record.status = 200
        record.annotation = WidgetAnnotation(name: "w\"1")
        log.record(record)
        var plain = AccessLogRecord()
        plain.status = 404
        log.record(plain)
        log.flush()
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
        #expect(lines == [#"{"status":200,"widget":"w\"1"}"#, #"{"status":404,"widget":null}"#])
    }
}
