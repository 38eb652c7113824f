import ArgumentParser
import Foundation
import GatewayCore

/// `triplegate config-reference`: the config file's keys as Markdown tables (type, default,
/// meaning, secrets marked), generated from their declarations; `--update` writes them into a
/// document between its `<!-- keys: ID -->` and `<!-- /keys -->` markers, `--check` fails when
/// that document is stale.
struct ConfigReference: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config-reference",
        abstract: "Print every config key with its type, default and meaning (Markdown), or update or check a document's key tables.")

    @Option(help: "Write the tables into this Markdown file, between its <!-- keys: ID --> and <!-- /keys --> markers.")
    var update: String?

    @Option(help: "Exit 1 unless this Markdown file's key tables are what --update would write.")
    var check: String?

    func run() throws {
        let tables = ConfigSections.keyTables
        guard let file = update ?? check else {
            for table in tables { print("### \(table.id)\n\n\(table.markdown)") }
            return
        }
        do {
            let text = try String(contentsOfFile: file, encoding: .utf8)
            let generated = try ConfigKeyTable.splice(tables, into: text)
            if update != nil {
                if generated != text { try generated.write(toFile: file, atomically: true, encoding: .utf8) }
            } else if generated != text {
                FileHandle.standardError.write(Data("\(file): the key tables are stale; run triplegate config-reference --update \(file)\n".utf8))
                throw ExitCode(1)
            }
        } catch let error as ConfigKeyTable.SpliceError {
            FileHandle.standardError.write(Data("\(file): \(error)\n".utf8))
            throw ExitCode(1)
        }
    }
}
