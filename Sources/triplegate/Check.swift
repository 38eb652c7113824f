import ArgumentParser
import Foundation
import GatewayCore

/// `triplegate check FILE`: validates without serving; every problem with its path; exit 1.
struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Validate a config file and report every problem.")

    @Argument(help: "The config file.")
    var file: String

    func run() throws {
        do {
            let config = try GatewayConfig.load(path: file)
            let routes = config.services.reduce(0) { $0 + $1.routes.count }
            print("\(file): valid (\(config.services.count) service\(config.services.count == 1 ? "" : "s"), \(routes) route\(routes == 1 ? "" : "s"))")
        } catch {
            FileHandle.standardError.write(Data((error.description + "\n").utf8))
            throw ExitCode(1)
        }
    }
}
