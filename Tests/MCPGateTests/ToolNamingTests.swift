@testable import MCPGate
import Testing

@Suite struct ToolNamingTests {
    let naming = ToolNaming(separator: "_", maxLength: 64)

    @Test func namesArePrefixedWithTheirServer() {
        var taken = Set<String>()
        #expect(naming.exposedName(server: "github", name: "search_issues", taken: &taken) == "github_search_issues")
        #expect(taken == ["github_search_issues"])
    }

    @Test func invalidCharactersBecomeUnderscores() {
        var taken = Set<String>()
        let name = naming.exposedName(server: "files", name: "read.file/v2 ü", taken: &taken)
        #expect(name == "files_read_file_v2__")
        #expect(ToolNaming.isValid(name))
    }

    @Test func aServersPrefixNeverHoldsTheSeparator() {
        // `x_a` + `b` and `x` + `a_b` were one name; the prefix makes them two by construction.
        var taken = Set<String>()
        #expect(naming.exposedName(server: "x", name: "a_b", taken: &taken) == "x_a_b")
        #expect(naming.exposedName(server: "x_a", name: "b", taken: &taken) == "x-a_b")
        let dashed = ToolNaming(separator: "-", maxLength: 64)
        var t = Set<String>()
        #expect(dashed.exposedName(server: "my-srv", name: "get-x", taken: &t) == "my_srv-get-x")
    }

    @Test func aCollisionGetsAHashSuffixAndNothingIsDropped() {
        // Two tools of one server whose names sanitize alike.
        var taken = Set<String>()
        let first = naming.exposedName(server: "a", name: "b_c", taken: &taken)
        let second = naming.exposedName(server: "a", name: "b.c", taken: &taken)
        #expect(first == "a_b_c")
        #expect(second.hasPrefix("a_b_c_") && second.count == "a_b_c_".count + 8)
        #expect(first != second && ToolNaming.isValid(second))
        // Deterministic: the same inputs, the same names.
        var again = Set<String>()
        #expect(naming.exposedName(server: "a", name: "b_c", taken: &again) == first)
        #expect(naming.exposedName(server: "a", name: "b.c", taken: &again) == second)
    }

    /// The hijack: a server listed first adds a tool whose name collides with a trusted one.
    /// The holder keeps its name; the newcomer gets the suffix, whatever the listing order.
    @Test func aNameOnceGivenStaysWithItsTool() {
        let book = ToolNameBook.inMemory()
        let first = book.names(kind: "tools", for: [("evil", "x"), ("good", "a.b")], naming: naming)
        #expect(first == ["evil_x", "good_a_b"])
        // `good` lists a new `a_b`, before the holder: the holder keeps `good_a_b`.
        let second = book.names(kind: "tools", for: [("evil", "x"), ("good", "a_b"), ("good", "a.b")], naming: naming)
        #expect(second[0] == "evil_x" && second[2] == "good_a_b")
        #expect(second[1]!.hasPrefix("good_a_b_") && second[1] != "good_a_b")
        // A name stays reserved while its tool is absent: a newcomer does not get it back.
        let third = book.names(kind: "tools", for: [("good", "a_b")], naming: naming)
        #expect(third == [second[1]])
        // Prompts are a separate namespace.
        #expect(book.names(kind: "prompts", for: [("good", "a_b")], naming: naming) == ["good_a_b"])
    }

    @Test func longNamesAreHashedDownToTheLimit() {
        var taken = Set<String>()
        let long = String(repeating: "x", count: 80)
        let a = naming.exposedName(server: "srv", name: long, taken: &taken)
        let b = naming.exposedName(server: "srv", name: long + "y", taken: &taken)
        #expect(a.count == 64 && b.count == 64 && a != b)
        #expect(ToolNaming.isValid(a) && ToolNaming.isValid(b))
        let short = ToolNaming(separator: "-", maxLength: 20)
        var t = Set<String>()
        #expect(short.exposedName(server: "s", name: String(repeating: "y", count: 30), taken: &t).count == 20)
    }

    @Test func globsMatchServerDotName() {
        #expect(Glob("github.*").matches("github.search_issues"))
        #expect(!Glob("github.*").matches("gitlab.search"))
        #expect(Glob("files.read_*").matches("files.read_file"))
        #expect(!Glob("files.read_*").matches("files.write_file"))
        #expect(Glob("*").matches("anything.at_all"))
        #expect(Glob("*.search_*").matches("gh.search_issues"))
        #expect(Glob("gh.echo").matches("gh.echo") && !Glob("gh.echo").matches("gh.echo2"))
        #expect(Glob("a*b*c").matches("a-b-c") && !Glob("a*b*c").matches("a-c-b"))
    }
}
