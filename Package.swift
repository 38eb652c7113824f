// swift-tools-version:6.1
import PackageDescription

/// Every target compiles in Swift 6 language mode with strict concurrency (the default for
/// tools-version 6). Release builds of the data plane drop exclusivity checks: they cost
/// 3–7% of a proxied request (ARCHITECTURE.md, "The hot path").
let releaseSpeed: [SwiftSetting] = [
    .unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))
]

let nio: [Target.Dependency] = [
    .product(name: "NIOCore", package: "swift-nio"),
    .product(name: "NIOPosix", package: "swift-nio"),
    .product(name: "NIOHTTP1", package: "swift-nio"),
    .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
    .product(name: "NIOHTTP2", package: "swift-nio-http2"),
    .product(name: "NIOSSL", package: "swift-nio-ssl"),
    .product(name: "NIOExtras", package: "swift-nio-extras"),
    .product(name: "DequeModule", package: "swift-collections"),
]

let package = Package(
    name: "triplegate",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "triplegate", targets: ["triplegate"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.3"),
        .package(url: "https://github.com/apple/swift-nio-http2", from: "1.46.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.35.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
        .package(url: "https://github.com/vapor/jwt-kit", from: "5.8.0"),
        .package(url: "https://github.com/apple/swift-certificates", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-distributed-tracing", from: "1.7.3"),
        // OTLP over HTTP/protobuf only: the gRPC exporter would add grpc-swift to every build.
        .package(url: "https://github.com/swift-otel/swift-otel", from: "1.6.0", traits: ["OTLPHTTP"]),
        .package(url: "https://github.com/vapor/sqlite-nio", from: "1.13.2"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
    ],
    targets: [
        .target(
            name: "GatewayCore",
            dependencies: nio + [
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "SQLiteNIO", package: "sqlite-nio"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "CryptoExtras", package: "swift-crypto"),
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "OTel", package: "swift-otel"),
            ],
            swiftSettings: releaseSpeed
        ),
        .target(name: "Gateway", dependencies: ["GatewayCore"] + nio, swiftSettings: releaseSpeed),
        // The vector index's distance kernels, per instruction set, picked at run time.
        .target(name: "CVectorMath"),
        .target(name: "SemanticCache", dependencies: ["CVectorMath", .product(name: "DequeModule", package: "swift-collections")],
                swiftSettings: releaseSpeed),
        .target(
            name: "LLMRouting",
            dependencies: ["GatewayCore", "SemanticCache"] + nio + [
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
            ],
            // The provider files of `providers/` (linked into the target as Providers/Shipped, as
            // resources must be inside it), built into the binary: `ProviderCatalog.shipped`. A
            // gateway prices calls with no files beside its config. One name per file.
            exclude: ["README.md"],
            resources: ["anthropic", "azure-openai", "gemini", "openai-compatible", "openai"].map { .embedInCode("Providers/Shipped/\($0).yaml") },
            swiftSettings: releaseSpeed),
        // Named MCPGate so it never clashes with the official Swift MCP SDK's `MCP` module.
        .target(name: "MCPGate", dependencies: ["GatewayCore"] + nio + [
                    .product(name: "Logging", package: "swift-log"),
                    .product(name: "Crypto", package: "swift-crypto"),
                    .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                    .product(name: "Prometheus", package: "swift-prometheus"),
                ], path: "Sources/MCP", exclude: ["README.md"], swiftSettings: releaseSpeed),
        .executableTarget(
            name: "triplegate",
            dependencies: [
                "GatewayCore", "Gateway", "LLMRouting", "SemanticCache", "MCPGate",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ] + nio,
            swiftSettings: releaseSpeed
        ),
        // The benchmarks' helpers (bench/): not part of the shipped binary.
        .executableTarget(
            name: "triplegate-bench",
            dependencies: [
                "GatewayCore", "LLMRouting", "SemanticCache",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ] + nio,
            swiftSettings: releaseSpeed
        ),
        .target(name: "GatewayTesting", dependencies: ["GatewayCore", "Gateway"] + nio),
        // The parsers under libFuzzer (scripts/fuzz builds it with -sanitize=fuzzer); a plain
        // build replays the seed corpus (Tests/Fuzz/Corpus) through the same targets.
        .executableTarget(name: "triplegate-fuzz", dependencies: ["GatewayCore", "Gateway", "LLMRouting", "MCPGate"] + nio, path: "Tests/Fuzz",
                          exclude: ["Corpus"]),
        .testTarget(name: "GatewayCoreTests", dependencies: ["GatewayCore", "GatewayTesting", .product(name: "NIOEmbedded", package: "swift-nio"),
                                                          .product(name: "Tracing", package: "swift-distributed-tracing"),
                                                          .product(name: "JWTKit", package: "jwt-kit"), .product(name: "CryptoExtras", package: "swift-crypto")]),
        .testTarget(name: "LLMRoutingTests", dependencies: ["LLMRouting", "GatewayCore", "GatewayTesting"] + nio),
        .testTarget(name: "GatewayTests", dependencies: ["Gateway", "GatewayCore", "GatewayTesting"] + nio),
        .testTarget(name: "SemanticCacheTests", dependencies: ["SemanticCache"]),
        .testTarget(name: "MCPGateTests", dependencies: ["MCPGate", "GatewayCore", "GatewayTesting", .product(name: "NIOEmbedded", package: "swift-nio")] + nio),
    ]
)
