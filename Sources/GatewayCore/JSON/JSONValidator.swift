import NIOCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Checks that bytes are one strict JSON text (RFC 8259) that every reader reads the same way,
/// without building its tree: the AI and MCP gates judge a body by a few fields and forward its
/// bytes, so the body must have exactly one meaning.
///
/// Refused, with the byte offset: anything outside the grammar (trailing bytes, control
/// characters in strings, bad escapes, leading zeros, invalid UTF-8), nesting deeper than
/// `maxDepth`, and **a key given twice in one object at any depth**, compared after escapes
/// are decoded (`"model"` and `"mod\u0065l"` are the same key). Readers disagree on duplicates
/// (Python's `json` keeps the last, this gateway's scanner found the first), which let a
/// caller be judged and billed by one value and served by another.
///
/// Linear in the input: keys are compared by hash, then by bytes only on equal hashes.
package enum JSONValidator {
    package typealias Failure = JSONParser.Failure

    package static let maxDepth = JSONParser.maxDepth

    package static func validate(_ bytes: UnsafeRawBufferPointer) throws(Failure) {
        _ = try walk(bytes, wanted: [])
    }

    /// Validates `bytes` and, in the same pass, finds the value ranges of the top-level members
    /// named `keys` (as bytes, compared after escapes are decoded), in their order: what
    /// `JSONScanner.slots` finds, without walking the body twice. Nil when the valid JSON text
    /// is not an object.
    package static func validate(_ bytes: UnsafeRawBufferPointer, findingTopLevel keys: [[UInt8]]) throws(Failure) -> [Range<Int>?]? {
        try walk(bytes, wanted: keys)
    }

    package static func validate(_ bytes: [UInt8]) throws(Failure) {
        try bytes.withUnsafeBytes { b in Result { () throws(Failure) in try validate(b) } }.get()
    }

    /// A buffer's readable bytes.
    package static func validate(_ buffer: ByteBuffer) throws(Failure) {
        try buffer.withUnsafeReadableBytes { b in Result { () throws(Failure) in try validate(b) } }.get()
    }

    /// Keys kept on the stack before the walk moves them to the heap: a request body of a few
    /// dozen keys allocates nothing but the ranges it returns. Every body of the AI and MCP gates
    /// is walked, and a walk that set up heap arrays for its stack and its keys cost 3-4 times
    /// what the scanner it replaced cost on an 87-byte chat request (about 600 ns against 170).
    package static let inlineKeys = 32

    /// The walk, with its scratch space (the open containers, at most `maxDepth`, and the first
    /// `inlineKeys` keys) on the stack. The value ranges of `wanted`, nil when the text is not
    /// an object.
    private static func walk(_ bytes: UnsafeRawBufferPointer, wanted: [[UInt8]]) throws(Failure) -> [Range<Int>?]? {
        try withUnsafeTemporaryAllocation(of: Int.self, capacity: maxDepth) { (stack) throws(Failure) -> [Range<Int>?]? in
            try withUnsafeTemporaryAllocation(of: Key.self, capacity: inlineKeys) { (keys) throws(Failure) -> [Range<Int>?]? in
                var w = Walk(bytes, stack: stack.baseAddress!, keys: keys.baseAddress!, keyCapacity: keys.count)
                defer { w.releaseKeys() }
                w.wanted = wanted
                w.found = [Range<Int>?](repeating: nil, count: wanted.count)
                try w.run()
                return w.rootIsObject ? w.found : nil
            }
        }
    }

    /// A key of an open object. Trivial, so that keys are copied as bytes and freed with nothing
    /// to release.
    private struct Key {
        var hash: UInt64
        /// The key's bytes in the input, between its quotes.
        var start: Int
        var end: Int
        /// Its decoded bytes' index in `Walk.decodedKeys` when it has escapes, else -1.
        var decoded: Int
    }

    private struct Walk {
        let b: UnsafeRawBufferPointer
        var i = 0
        /// Each open container, `stack[..<depth]`: for an object, where its keys start in
        /// `keys`; -1 for an array. Its room is `maxDepth`, which `value` checks before a push.
        let stack: UnsafeMutablePointer<Int>
        var depth = 0
        /// The keys of the open objects, innermost last: `keys[..<keyCount]` (entries past it
        /// are overwritten, so closing an object frees nothing). On the stack until
        /// `keyCapacity` is reached, then on the heap (`keysOnHeap`).
        var keys: UnsafeMutablePointer<Key>
        var keyCapacity: Int
        var keysOnHeap = false
        var keyCount = 0
        /// The decoded bytes of the open objects' keys that have escapes (rare).
        var decodedKeys: [[UInt8]] = []
        /// Hash → indices in `keys`, for each open object (by depth) that has many keys.
        var indexes: [Int: [UInt64: [Int]]] = [:]
        /// Top-level members to find (`validate(_:findingTopLevel:)`), and their value ranges.
        var wanted: [[UInt8]] = []
        var found: [Range<Int>?] = []
        var rootIsObject = false
        /// Which of `wanted` the top-level member being read is, and where its value starts.
        var pendingSlot = -1
        var pendingStart = 0
        /// Objects with more keys than this index them by hash (a linear scan above it would
        /// make a 100,000-key object cost billions of comparisons).
        static let linearLimit = 16

        init(_ b: UnsafeRawBufferPointer, stack: UnsafeMutablePointer<Int>, keys: UnsafeMutablePointer<Key>, keyCapacity: Int) {
            self.b = b
            self.stack = stack
            self.keys = keys
            self.keyCapacity = keyCapacity
        }

        func releaseKeys() {
            if keysOnHeap { keys.deallocate() }
        }

        func failure(_ reason: String) -> Failure { Failure(offset: i, reason: reason) }

        mutating func skipSpace() {
            while i < b.count {
                switch b[i] {
                case 0x20, 0x09, 0x0A, 0x0D: i += 1
                default: return
                }
            }
        }

        mutating func run() throws(Failure) {
            skipSpace()
            try value()
            // After the first value, containers are walked iteratively until the stack empties.
            while depth > 0 {
                skipSpace()
                guard i < b.count else { throw failure("unexpected end") }
                let isObject = stack[depth - 1] >= 0
                let c = b[i]
                if c == (isObject ? UInt8(ascii: "}") : UInt8(ascii: "]")) {
                    i += 1
                    close()
                    continue
                }
                guard c == UInt8(ascii: ",") else { throw failure(isObject ? "expected , or }" : "expected , or ]") }
                i += 1
                skipSpace()
                if isObject { try member() } else { try value() }
            }
            skipSpace()
            if i != b.count { throw failure("trailing characters") }
        }

        /// Opens a container: `first` is where an object's keys start, -1 for an array.
        mutating func open(_ first: Int) throws(Failure) {
            guard depth < maxDepth else { throw failure("nested deeper than \(maxDepth)") }
            stack[depth] = first
            depth += 1
        }

        mutating func close() {
            depth -= 1
            let first = stack[depth]
            if depth == 1, pendingSlot >= 0 { foundValue() }
            guard first >= 0 else { return }
            if !decodedKeys.isEmpty {
                // Its keys' decoded bytes are the last ones (inner objects dropped theirs).
                for k in first..<keyCount where keys[k].decoded >= 0 {
                    decodedKeys.removeSubrange(keys[k].decoded...)
                    break
                }
            }
            keyCount = first
            if !indexes.isEmpty { indexes[depth] = nil }
        }

        /// One value; a container is opened (and its first member read) and left on the stack.
        mutating func value() throws(Failure) {
            guard i < b.count else { throw failure("unexpected end") }
            switch b[i] {
            case UInt8(ascii: "{"):
                if depth == 0 { rootIsObject = true }
                try open(keyCount)
                i += 1
                skipSpace()
                if i < b.count, b[i] == UInt8(ascii: "}") {
                    i += 1
                    close()
                    return
                }
                try member()
            case UInt8(ascii: "["):
                try open(-1)
                i += 1
                skipSpace()
                if i < b.count, b[i] == UInt8(ascii: "]") {
                    i += 1
                    close()
                    return
                }
                try value()
            case UInt8(ascii: "\""): _ = try string(decode: false)
            case UInt8(ascii: "t"): try literal("true")
            case UInt8(ascii: "f"): try literal("false")
            case UInt8(ascii: "n"): try literal("null")
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): try number()
            default: throw failure("unexpected character")
            }
        }

        /// `"key": value` inside the innermost open object.
        mutating func member() throws(Failure) {
            guard i < b.count, b[i] == UInt8(ascii: "\"") else { throw failure("expected a key") }
            let keyAt = i
            let (raw, decoded) = try string(decode: true)
            try addKey(raw: raw, decoded: decoded, at: keyAt)
            skipSpace()
            guard i < b.count, b[i] == UInt8(ascii: ":") else { throw failure("expected :") }
            i += 1
            skipSpace()
            guard depth == 1, !wanted.isEmpty else {
                try value()
                return
            }
            pendingSlot = slot(raw: raw, decoded: decoded)
            pendingStart = i
            try value()
            // A scalar ends here; a container's value ends when it closes (`close`).
            if depth == 1, pendingSlot >= 0 { foundValue() }
        }

        /// Which of `wanted` a top-level key is, or -1.
        func slot(raw: Range<Int>, decoded: [UInt8]?) -> Int {
            for k in wanted.indices {
                let w = wanted[k]
                if let decoded {
                    if decoded == w { return k }
                } else if raw.count == w.count, w.withUnsafeBytes({ memcmp($0.baseAddress!, b.baseAddress! + raw.lowerBound, raw.count) == 0 }) {
                    return k
                }
            }
            return -1
        }

        mutating func foundValue() {
            found[pendingSlot] = pendingStart..<i
            pendingSlot = -1
        }

        mutating func addKey(raw: Range<Int>, decoded: [UInt8]?, at offset: Int) throws(Failure) {
            let hash = decoded.map { Self.fnv($0) } ?? Self.fnv(UnsafeRawBufferPointer(rebasing: b[raw]))
            let level = depth - 1
            let first = stack[level]
            if keyCount - first > Self.linearLimit {
                for k in indexes[level]?[hash] ?? [] where same(keys[k], raw, decoded) { throw duplicate(raw, decoded, at: offset) }
                indexes[level, default: [:]][hash, default: []].append(keyCount)
                push(hash, raw, decoded)
                return
            }
            for k in first..<keyCount where keys[k].hash == hash && same(keys[k], raw, decoded) {
                throw duplicate(raw, decoded, at: offset)
            }
            push(hash, raw, decoded)
            if keyCount - first > Self.linearLimit {
                var index: [UInt64: [Int]] = [:]
                for k in first..<keyCount { index[keys[k].hash, default: []].append(k) }
                indexes[level] = index
            }
        }

        mutating func push(_ hash: UInt64, _ raw: Range<Int>, _ decoded: [UInt8]?) {
            if keyCount == keyCapacity {
                // Out of stack room: the keys move to the heap, doubling as they grow.
                let bigger = UnsafeMutablePointer<Key>.allocate(capacity: keyCapacity * 2)
                bigger.initialize(from: keys, count: keyCount)
                releaseKeys()
                keys = bigger
                keyCapacity *= 2
                keysOnHeap = true
            }
            var index = -1
            if let decoded {
                index = decodedKeys.count
                decodedKeys.append(decoded)
            }
            (keys + keyCount).initialize(to: Key(hash: hash, start: raw.lowerBound, end: raw.upperBound, decoded: index))
            keyCount += 1
        }

        func duplicate(_ raw: Range<Int>, _ decoded: [UInt8]?, at offset: Int) -> Failure {
            let text = decoded.map { String(decoding: $0, as: UTF8.self) }
                ?? String(decoding: UnsafeRawBufferPointer(rebasing: b[raw]), as: UTF8.self)
            let shown = text.count > 64 ? String(text.prefix(64)) + "…" : text
            return Failure(offset: offset, reason: "duplicate key \"\(shown)\"")
        }

        /// Whether an open key is the key at `raw` (`decoded`, when it has escapes).
        func same(_ key: Key, _ raw: Range<Int>, _ decoded: [UInt8]?) -> Bool {
            let mine = key.decoded >= 0 ? decodedKeys[key.decoded] : nil
            switch (mine, decoded) {
            case (nil, nil):
                return key.end - key.start == raw.count && memcmp(b.baseAddress! + key.start, b.baseAddress! + raw.lowerBound, raw.count) == 0
            case (let x?, nil):
                return x.count == raw.count && x.elementsEqual(b[raw])
            case (nil, let y?):
                return y.count == key.end - key.start && y.elementsEqual(b[key.start..<key.end])
            case (let x?, let y?):
                return x == y
            }
        }

        static func fnv<C: Sequence>(_ bytes: C) -> UInt64 where C.Element == UInt8 {
            var h: UInt64 = 0xcbf2_9ce4_8422_2325
            for byte in bytes {
                h ^= UInt64(byte)
                h = h &* 0x100_0000_01b3
            }
            return h
        }

        mutating func literal(_ word: StaticString) throws(Failure) {
            let n = word.utf8CodeUnitCount
            guard i + n <= b.count else { throw failure("unexpected end") }
            for k in 0..<n where b[i + k] != word.utf8Start[k] { throw failure("unexpected character") }
            i += n
        }

        mutating func number() throws(Failure) {
            if b[i] == UInt8(ascii: "-") { i += 1 }
            guard i < b.count, isDigit(b[i]) else { throw failure("invalid number") }
            if b[i] == UInt8(ascii: "0") {
                i += 1
                if i < b.count, isDigit(b[i]) { throw failure("leading zero") }
            } else {
                while i < b.count, isDigit(b[i]) { i += 1 }
            }
            if i < b.count, b[i] == UInt8(ascii: ".") {
                i += 1
                guard i < b.count, isDigit(b[i]) else { throw failure("invalid number") }
                while i < b.count, isDigit(b[i]) { i += 1 }
            }
            if i < b.count, b[i] == UInt8(ascii: "e") || b[i] == UInt8(ascii: "E") {
                i += 1
                if i < b.count, b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-") { i += 1 }
                guard i < b.count, isDigit(b[i]) else { throw failure("invalid number") }
                while i < b.count, isDigit(b[i]) { i += 1 }
            }
        }

        func isDigit(_ c: UInt8) -> Bool { c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") }

        /// A string at `i` (its opening quote). Returns the range between its quotes and, when
        /// `decode` is asked and it has escapes, its decoded UTF-8 bytes.
        mutating func string(decode: Bool) throws(Failure) -> (Range<Int>, [UInt8]?) {
            i += 1
            let start = i
            var decoded: [UInt8]?
            while true {
                // The common run: printable ASCII that needs nothing done, a word at a time,
                // then byte by byte up to what ends it.
                if decoded == nil {
                    while i + 8 <= b.count, JSONWords.plainASCII(b, i) { i += 8 }
                    while i < b.count {
                        let c = b[i]
                        guard c >= 0x20, c < 0x80, c != UInt8(ascii: "\""), c != UInt8(ascii: "\\") else { break }
                        i += 1
                    }
                }
                guard i < b.count else { throw failure("unterminated string") }
                let c = b[i]
                if c == UInt8(ascii: "\"") {
                    let range = start..<i
                    i += 1
                    return (range, decoded)
                }
                if c < 0x20 { throw failure("control character in string") }
                if c == UInt8(ascii: "\\") {
                    if decode, decoded == nil { decoded = Array(b[start..<i]) }
                    try escape(into: &decoded)
                    continue
                }
                if c < 0x80 {
                    decoded?.append(c)
                    i += 1
                    continue
                }
                let n = try utf8Sequence()
                decoded?.append(contentsOf: b[i..<(i + n)])
                i += n
            }
        }

        /// One escape at `i` (its backslash), appended decoded to `out` when there is one.
        mutating func escape(into out: inout [UInt8]?) throws(Failure) {
            guard i + 1 < b.count else { throw failure("unterminated string") }
            let e = b[i + 1]
            i += 2
            let simple: UInt8?
            switch e {
            case UInt8(ascii: "\""): simple = 0x22
            case UInt8(ascii: "\\"): simple = 0x5C
            case UInt8(ascii: "/"): simple = 0x2F
            case UInt8(ascii: "b"): simple = 0x08
            case UInt8(ascii: "f"): simple = 0x0C
            case UInt8(ascii: "n"): simple = 0x0A
            case UInt8(ascii: "r"): simple = 0x0D
            case UInt8(ascii: "t"): simple = 0x09
            case UInt8(ascii: "u"): simple = nil
            default: throw failure("invalid escape")
            }
            if let simple {
                out?.append(simple)
                return
            }
            var scalar = try hex4()
            // A surrogate must be a high one escaped right before a low one: a lone half is
            // refused, as `JSONParser` refuses it (readers disagree on what it means).
            if scalar >= 0xDC00, scalar < 0xE000 { throw failure("lone surrogate in \\u escape") }
            if scalar >= 0xD800, scalar < 0xDC00 {
                guard i + 1 < b.count, b[i] == UInt8(ascii: "\\"), b[i + 1] == UInt8(ascii: "u") else {
                    throw failure("lone surrogate in \\u escape")
                }
                i += 2
                let low = try hex4()
                guard low >= 0xDC00, low < 0xE000 else { throw failure("lone surrogate in \\u escape") }
                scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
            }
            guard out != nil else { return }
            Self.appendUTF8(scalar, to: &out!)
        }

        static func appendUTF8(_ v: UInt32, to out: inout [UInt8]) {
            switch v {
            case 0..<0x80:
                out.append(UInt8(v))
            case 0x80..<0x800:
                out.append(UInt8(0xC0 | (v >> 6)))
                out.append(UInt8(0x80 | (v & 0x3F)))
            case 0x800..<0x10000:
                out.append(UInt8(0xE0 | (v >> 12)))
                out.append(UInt8(0x80 | ((v >> 6) & 0x3F)))
                out.append(UInt8(0x80 | (v & 0x3F)))
            default:
                out.append(UInt8(0xF0 | (v >> 18)))
                out.append(UInt8(0x80 | ((v >> 12) & 0x3F)))
                out.append(UInt8(0x80 | ((v >> 6) & 0x3F)))
                out.append(UInt8(0x80 | (v & 0x3F)))
            }
        }

        mutating func hex4() throws(Failure) -> UInt32 {
            guard i + 4 <= b.count else { throw failure("unterminated string") }
            var v: UInt32 = 0
            for k in 0..<4 {
                guard let d = ASCII.hexDigitValue(b[i + k]) else { throw failure("invalid \\u escape") }
                v = v << 4 | UInt32(d)
            }
            i += 4
            return v
        }

        /// The length of the well-formed UTF-8 sequence at `i` (its lead byte is ≥ 0x80).
        func utf8Sequence() throws(Failure) -> Int {
            let lead = b[i]
            let n: Int
            var low: UInt8 = 0x80, high: UInt8 = 0xBF
            switch lead {
            case 0xC2...0xDF: n = 2
            case 0xE0: n = 3; low = 0xA0
            case 0xE1...0xEC, 0xEE...0xEF: n = 3
            case 0xED: n = 3; high = 0x9F  // no surrogates
            case 0xF0: n = 4; low = 0x90
            case 0xF1...0xF3: n = 4
            case 0xF4: n = 4; high = 0x8F
            default: throw failure("invalid UTF-8")
            }
            guard i + n <= b.count else { throw failure("invalid UTF-8") }
            let second = b[i + 1]
            guard second >= low, second <= high else { throw failure("invalid UTF-8") }
            for k in 2..<max(n, 2) where b[i + k] & 0xC0 != 0x80 { throw failure("invalid UTF-8") }
            return n
        }
    }
}
