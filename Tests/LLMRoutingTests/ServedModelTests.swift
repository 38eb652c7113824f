import Testing

@testable import LLMRouting

@Suite struct ServedModelTests {
    @Test func aDatedSnapshotIsTheModelAsked() {
        #expect(ServedModel.isSnapshot("gpt-4o-2024-08-06", of: "gpt-4o"))
        #expect(ServedModel.isSnapshot("claude-sonnet-4-5-20250929", of: "claude-sonnet-4-5"))
        #expect(ServedModel.isSnapshot("gemini-2.5-flash-001", of: "gemini-2.5-flash"))
        #expect(!ServedModel.isSnapshot("gpt-4o-mini", of: "gpt-4o"))
        #expect(!ServedModel.isSnapshot("gpt-4o-mini-2024-07-18", of: "gpt-4o"))
        #expect(!ServedModel.isSnapshot("gpt-4o-", of: "gpt-4o") && !ServedModel.isSnapshot("gpt-4o---", of: "gpt-4o"))
        #expect(!ServedModel.isSnapshot("gpt-4", of: "gpt-4o"))
    }
}
