#if canImport(Glibc)
import Glibc
#endif

#if FUZZING
/// libFuzzer's entry: the target is named by `TRIPLEGATE_FUZZ_TARGET`.
@_cdecl("LLVMFuzzerTestOneInput")
package func fuzzOneInput(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let name = getenv("TRIPLEGATE_FUZZ_TARGET").map { String(cString: $0) } ?? ""
    guard let target = FuzzTargets.all[name] else { fatalError("TRIPLEGATE_FUZZ_TARGET must be one of \(FuzzTargets.all.keys.sorted())") }
    target(start.map { Array(UnsafeBufferPointer(start: $0, count: count)) } ?? [])
    return 0
}

@_silgen_name("LLVMFuzzerRunDriver")
private func runDriver(_ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
                       _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> CInt

/// SwiftPM links a debug executable's entry as `<module>_main` (so tests can link it): this is
/// it, handing over to libFuzzer's driver.
@_cdecl("triplegate_fuzz_main")
package func fuzzDriverMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var argc = argc
    var argv = argv
    return runDriver(&argc, &argv, fuzzOneInput)
}
#else
import Foundation

/// Without libFuzzer: `triplegate-fuzz TARGET FILE...` runs each file through the target (the
/// seed corpus, or a crash libFuzzer saved), so a crash found once stays a test.
@main
struct FuzzMain {
    static func main() throws {
        let args = CommandLine.arguments.dropFirst()
        guard let name = args.first, let target = FuzzTargets.all[name] else {
            print("usage: triplegate-fuzz \(FuzzTargets.all.keys.sorted().joined(separator: "|")) FILE...")
            exit(2)
        }
        for path in args.dropFirst() {
            target(Array(try Data(contentsOf: URL(fileURLWithPath: path))))
        }
        print("\(name): \(args.count - 1) inputs")
    }
}
#endif
