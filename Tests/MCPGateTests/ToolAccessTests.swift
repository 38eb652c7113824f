import GatewayCore
@testable import MCPGate
import Testing

@Suite struct ToolAccessTests {
    func rule(groups: [String] = [], consumers: [String] = [], allow: [String] = [], deny: [String] = []) -> MCPAccessRule {
        var r = MCPAccessRule()
        r.groups = groups
        r.consumers = consumers
        r.allow = allow
        r.deny = deny
        return r
    }

    let user = Consumer(name: "ann", groups: ["group-user"])
    let admin = Consumer(name: "root", groups: ["group-admin"])

    @Test func denyByDefault() {
        let access = ToolAccess([rule(groups: ["group-admin"], allow: ["*"])])
        #expect(!access.view(for: user, only: nil).admits("gh.search"))
        #expect(!access.view(for: nil, only: nil).admits("gh.search"))
        #expect(access.view(for: admin, only: nil).admits("gh.search"))
        #expect(!ToolAccess([]).view(for: admin, only: nil).admits("gh.search"))
    }

    @Test func denyWinsOverAllowAcrossRules() {
        let access = ToolAccess([
            rule(groups: ["group-user"], allow: ["gh.*"]),
            rule(allow: ["fs.read_*"], deny: ["gh.delete_*"]),
        ])
        let v = access.view(for: user, only: nil)
        #expect(v.admits("gh.search") && v.admits("fs.read_file"))
        #expect(!v.admits("gh.delete_repo"))
        #expect(!v.admits("fs.write_file"))
        // The rule without groups or consumers applies to everyone, anonymous included.
        #expect(access.view(for: nil, only: nil).admits("fs.read_file"))
    }

    @Test func rulesCanNameConsumers() {
        let access = ToolAccess([rule(consumers: ["ann"], allow: ["*"])])
        #expect(access.view(for: user, only: nil).admits("x.y"))
        #expect(!access.view(for: admin, only: nil).admits("x.y"))
    }

    @Test func aVirtualServerNarrowsButNeverWidens() {
        let access = ToolAccess([rule(groups: ["group-user"], allow: ["gh.search_*", "fs.*"])])
        let v = access.view(for: user, only: [Glob("gh.*")])
        #expect(v.admits("gh.search_issues"))
        #expect(!v.admits("fs.read"))        // outside the virtual server
        #expect(!v.admits("gh.delete_repo"))  // inside it, but not allowed
    }
}
