import ArgumentParser

@main
struct Triplegate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "triplegate",
        abstract: "An API, AI and MCP gateway.",
        subcommands: [Serve.self, Check.self, Keys.self, Chargeback.self, ConfigReference.self],
        defaultSubcommand: Serve.self)
}
