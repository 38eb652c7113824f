import Foundation

/// A snapshot on disk: a header, then each array as raw little-endian bytes. Written to a
/// temporary file and renamed, so a crash mid-write leaves the previous snapshot.
extension VectorIndex {
    static let magic = Array("TGVIDX02".utf8)

    package func save(to path: String) throws {
        let data: Data = lock.reading {
            var out = Data(Self.magic)
            func int(_ v: Int) { withUnsafeBytes(of: Int64(v).littleEndian) { out.append(contentsOf: $0) } }
            func raw<T>(_ p: UnsafeMutablePointer<T>, _ n: Int) { out.append(UnsafeBufferPointer(start: p, count: n)) }
            for v in [dim, m, options.efConstruction, options.efSearch, options.storage == .int8 ? 1 : 0, options.maxEntries,
                      slots, Int(entry), maxLevel, Int(Int64(bitPattern: options.seed)), Int(Int64(bitPattern: rng)), freeSlots.count] { int(v) }
            switch options.storage {
            case .float32: raw(floats!, slots * dim)
            case .int8:
                raw(bytes!, slots * dim)
                raw(scales!, slots)
            }
            raw(links0, slots * (m0 + 1))
            raw(levels, slots)
            raw(keys, slots)
            raw(deleted, slots)
            for s in 0..<slots where levels[s] > 0 { raw(upper[s]!, Int(levels[s]) * (m + 1)) }
            freeSlots.withUnsafeBufferPointer { out.append($0) }
            return out
        }
        let temporary = path + ".tmp"
        try data.write(to: URL(fileURLWithPath: temporary))
        guard rename(temporary, path) == 0 else { throw Failure.snapshot("cannot replace \(path): errno \(errno)") }
    }

    package static func load(from path: String) throws -> VectorIndex {
        let data = try Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped)
        return try data.withUnsafeBytes { (buffer: UnsafeRawBufferPointer) throws -> VectorIndex in
            var at = 0
            func take(_ n: Int) throws -> UnsafeRawBufferPointer {
                guard n >= 0, at + n <= buffer.count else { throw Failure.snapshot("truncated") }
                defer { at += n }
                return UnsafeRawBufferPointer(rebasing: buffer[at..<(at + n)])
            }
            func int() throws -> Int { Int(Int64(littleEndian: try take(8).loadUnaligned(as: Int64.self))) }
            func copy<T>(into p: UnsafeMutablePointer<T>, _ n: Int) throws {
                let src = try take(n * MemoryLayout<T>.stride)
                UnsafeMutableRawPointer(p).copyMemory(from: src.baseAddress!, byteCount: src.count)
            }
            guard Array(try take(magic.count)) == magic else { throw Failure.snapshot("not a triplegate vector index") }
            let h = try (0..<12).map { _ in try int() }
            let (dim, m, slots) = (h[0], h[1], h[6])
            guard dim > 0, dim <= 65_536, m >= 2, m <= 256, slots >= 0, h[4] == 0 || h[4] == 1 else { throw Failure.snapshot("bad header") }
            var options = Options(dimensions: dim, m: m, efConstruction: h[2], efSearch: h[3], storage: h[4] == 1 ? .int8 : .float32, maxEntries: h[5])
            options.seed = UInt64(bitPattern: Int64(h[9]))
            let index = VectorIndex(options)
            if slots > index.capacity { index.grow(to: Self.roundedCapacity(slots)) }
            switch options.storage {
            case .float32: try copy(into: index.floats!, slots * dim)
            case .int8:
                try copy(into: index.bytes!, slots * dim)
                try copy(into: index.scales!, slots)
            }
            try copy(into: index.links0, slots * (index.m0 + 1))
            try copy(into: index.levels, slots)
            try copy(into: index.keys, slots)
            try copy(into: index.deleted, slots)
            index.slots = slots
            for s in 0..<slots where index.levels[s] > 0 {
                let n = Int(index.levels[s]) * (m + 1)
                let l = UnsafeMutablePointer<Int32>.allocate(capacity: n)
                index.upper[s] = l
                try copy(into: l, n)
            }
            guard h[11] >= 0, h[11] <= slots else { throw Failure.snapshot("bad header") }
            var free = [Int32](repeating: 0, count: h[11])
            try free.withUnsafeMutableBufferPointer { try copy(into: $0.baseAddress!, $0.count) }
            guard free.allSatisfy({ $0 >= 0 && Int($0) < slots && index.deleted[Int($0)] }) else { throw Failure.snapshot("bad free list") }
            index.freeSlots = free
            index.entry = Int32(h[7])
            index.maxLevel = h[8]
            index.rng = UInt64(bitPattern: Int64(h[10]))
            for s in 0..<slots where !index.deleted[s] { index.slotOfKey[index.keys[s]] = Int32(s) }
            // Links must name slots that exist, or a search would read past the arrays.
            for s in 0..<slots {
                guard index.levels[s] <= 15 else { throw Failure.snapshot("bad level") }
                for layer in 0...Int(index.levels[s]) {
                    let l = index.linkList(Int32(s), layer)
                    let limit = layer == 0 ? index.m0 : m
                    guard l[0] >= 0, Int(l[0]) <= limit else { throw Failure.snapshot("bad links") }
                    for i in 0..<Int(l[0]) where l[i + 1] < 0 || Int(l[i + 1]) >= slots { throw Failure.snapshot("bad links") }
                }
            }
            guard slots == 0 ? index.entry == -1 : (index.entry >= 0 && Int(index.entry) < slots && Int(index.levels[Int(index.entry)]) == index.maxLevel)
            else { throw Failure.snapshot("bad entry point") }
            return index
        }
    }

    static func roundedCapacity(_ n: Int) -> Int {
        var c = 1024
        while c < n { c *= 2 }
        return c
    }
}
