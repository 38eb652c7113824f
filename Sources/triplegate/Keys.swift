import ArgumentParser
import Foundation
import GatewayCore

/// `triplegate keys create|list|revoke`: API keys in the config's store. A key is printed once,
/// when made; only its SHA-256 is stored.
struct Keys: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Manage API keys (shown once at creation; only their SHA-256 is stored).",
        subcommands: [Create.self, List.self, Revoke.self])

    struct StoreOptions: ParsableArguments {
        @Option(name: .shortAndLong, help: "The config file; its `store:` and `consumers:` are used.")
        var config: String?

        @Option(help: "The store, as sqlite:PATH or postgres://user:password@host:port/db (overrides the config's).")
        var store: String?

        func load() throws -> (location: StoreLocation, consumers: [String]?) {
            var consumers: [String]?
            var store = self.store
            if let config {
                let c: GatewayConfig
                do { c = try GatewayConfig.load(path: config, sections: ConfigSections.all) } catch {
                    throw ValidationError(error.description)
                }
                consumers = c.consumers.map(\.name)
                store = store ?? c.store
            }
            let spec = store ?? GatewayConfig().store
            guard let location = StoreLocation(spec) else {
                throw ValidationError("--store must be sqlite:PATH or postgres://user:password@host:port/db (got \"\(spec)\")")
            }
            return (location, consumers)
        }
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Make a key for a consumer and print it once.")
        @OptionGroup var options: StoreOptions
        @Option(help: "The consumer the key belongs to.") var consumer: String

        func run() async throws {
            let (location, consumers) = try options.load()
            if let consumers, !consumers.contains(consumer) {
                throw ValidationError("consumer \"\(consumer)\" is not in the config's consumers (\(consumers.joined(separator: ", ")))")
            }
            let store = try await KeyStore.open(location)
            let (record, key) = try await store.create(consumer: consumer)
            try await store.close()
            print(key)
            FileHandle.standardError.write(Data("created \(record.id) for \(consumer); the key is shown only now\n".utf8))
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List keys (never the keys themselves).")
        @OptionGroup var options: StoreOptions

        func run() async throws {
            let store = try await KeyStore.open(try options.load().location)
            let records = try await store.list()
            try await store.close()
            print("id\tconsumer\tprefix\tcreated\tstatus")
            let format = ISO8601DateFormatter()
            for r in records {
                let created = format.string(from: Date(timeIntervalSince1970: TimeInterval(r.createdAt)))
                let status = r.revokedAt.map { "revoked " + format.string(from: Date(timeIntervalSince1970: TimeInterval($0))) } ?? "active"
                print("\(r.id)\t\(r.consumer)\t\(r.displayPrefix)…\t\(created)\t\(status)")
            }
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a key; gateways sharing the store refuse it within a second.")
        @OptionGroup var options: StoreOptions
        @Argument(help: "The key's id (from `keys list`).") var id: String

        func run() async throws {
            let store = try await KeyStore.open(try options.load().location)
            let revoked = try await store.revoke(id: id)
            try await store.close()
            guard revoked else {
                FileHandle.standardError.write(Data("no active key \(id)\n".utf8))
                throw ExitCode(1)
            }
            print("revoked \(id)")
        }
    }
}
