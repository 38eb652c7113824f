#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#else
import Darwin
#endif
import NIOCore

/// Finds top-level members of a JSON object without building its tree: the AI and MCP gates
/// read a few fields of a body (`model`, `usage`, `id`) and pass the rest on as bytes. Values
/// are located, not validated; parse the ones you need with `JSONParser`.
package enum JSONScanner {
    /// Walks the top-level members of an object, in order: `visit` gets the key's bytes (between
    /// the quotes, escapes left as they are), the range from the key's opening quote to the end
    /// of the value, and the value's range; it returns false to stop early. Returns false when
    /// `bytes` is not a well-framed object (up to where the walk stopped).
    private static func walkMembers(_ bytes: UnsafeRawBufferPointer,
                                    _ visit: (_ key: Range<Int>, _ span: Range<Int>, _ value: Range<Int>) -> Bool) -> Bool {
        var i = skipSpace(bytes, 0)
        guard i < bytes.count, bytes[i] == UInt8(ascii: "{") else { return false }
        i = skipSpace(bytes, i + 1)
        if i < bytes.count, bytes[i] == UInt8(ascii: "}") { return true }
        while i < bytes.count {
            guard bytes[i] == UInt8(ascii: "\""), let keyEnd = skipString(bytes, i) else { return false }
            let keyStart = i
            var j = skipSpace(bytes, keyEnd)
            guard j < bytes.count, bytes[j] == UInt8(ascii: ":") else { return false }
            j = skipSpace(bytes, j + 1)
            guard let valueEnd = skipValue(bytes, j) else { return false }
            if !visit((keyStart + 1)..<(keyEnd - 1), keyStart..<valueEnd, j..<valueEnd) { return true }
            i = skipSpace(bytes, valueEnd)
            guard i < bytes.count else { return false }
            if bytes[i] == UInt8(ascii: "}") { return true }
            guard bytes[i] == UInt8(ascii: ",") else { return false }
            i = skipSpace(bytes, i + 1)
        }
        return false
    }

    /// A key's text, escapes decoded: `"mod\u0065l"` is the key `model`, as every reader takes it.
    private static func keyText(_ bytes: UnsafeRawBufferPointer, _ r: Range<Int>) -> String {
        if let decoded = decodedKey(bytes, r) { return decoded }
        return String(decoding: UnsafeRawBufferPointer(rebasing: bytes[r]), as: UTF8.self)
    }

    private static func rawKeyEquals(_ bytes: UnsafeRawBufferPointer, _ r: Range<Int>, _ key: UnsafeRawBufferPointer) -> Bool {
        r.count == key.count && (r.isEmpty || memcmp(bytes.baseAddress! + r.lowerBound, key.baseAddress!, r.count) == 0)
    }

    /// Whether the key at `r` is `key`, compared as bytes, escapes decoded first.
    private static func keyEquals(_ bytes: UnsafeRawBufferPointer, _ r: Range<Int>, _ key: UnsafeRawBufferPointer) -> Bool {
        if r.count == key.count, r.isEmpty || memcmp(bytes.baseAddress! + r.lowerBound, key.baseAddress!, r.count) == 0 {
            return true
        }
        // An escaped key is never shorter than its text; only then is it decoded (rarely).
        guard r.count > key.count, let decoded = decodedKey(bytes, r) else { return false }
        return decoded.utf8.elementsEqual(key)
    }

    /// The key's decoded text when it has an escape; nil when it has none (or is not a string).
    private static func decodedKey(_ bytes: UnsafeRawBufferPointer, _ r: Range<Int>) -> String? {
        guard !r.isEmpty, memchr(bytes.baseAddress! + r.lowerBound, 0x5C, r.count) != nil else { return nil }
        let quoted = UnsafeRawBufferPointer(rebasing: bytes[(r.lowerBound - 1)..<(r.upperBound + 1)])
        return (try? JSONParser.parse(quoted))?.stringValue
    }

    /// The byte ranges of the values of `names` among the object's top-level members (the first
    /// occurrence of each); nil when `bytes` is not a well-framed JSON object.
    package static func members(_ names: Set<String>, in bytes: UnsafeRawBufferPointer) -> [String: Range<Int>]? {
        var found = [String: Range<Int>](minimumCapacity: names.count)
        // A key longer than every name cannot be one: it is skipped without making a String.
        let longest = names.reduce(0) { max($0, $1.utf8.count) }
        let framed = walkMembers(bytes) { key, _, value in
            guard key.count <= longest || bytes[key].contains(UInt8(ascii: "\\")) else { return true }
            let name = keyText(bytes, key)
            if names.contains(name), found[name] == nil { found[name] = value }
            return true
        }
        return framed ? found : nil
    }

    /// The byte range of the value of the first top-level member named `name` (compared as
    /// bytes: no key is made into a String, nothing is allocated); nil when absent or when
    /// `bytes` is not a well-framed object.
    package static func member(_ name: String, in bytes: UnsafeRawBufferPointer) -> Range<Int>? {
        var name = name
        return name.withUTF8 { utf8 in
            let wanted = UnsafeRawBufferPointer(utf8)
            var found: Range<Int>?
            _ = walkMembers(bytes) { key, _, value in
                guard keyEquals(bytes, key, wanted) else { return true }
                found = value
                return false
            }
            return found
        }
    }

    /// The value ranges of `keys` (as bytes), in their order, first occurrence each, in one pass
    /// with no String made; nil when `bytes` is not a well-framed object. For the few members a
    /// gate reads from every message.
    package static func slots(_ keys: [[UInt8]], in bytes: UnsafeRawBufferPointer) -> [Range<Int>?]? {
        var out = [Range<Int>?](repeating: nil, count: keys.count)
        let framed = walkMembers(bytes) { key, _, value in
            // An escaped key (rare) is decoded once and compared as text; any other as bytes.
            if let decoded = decodedKey(bytes, key) {
                if let k = keys.indices.first(where: { out[$0] == nil && keys[$0].elementsEqual(decoded.utf8) }) { out[k] = value }
                return true
            }
            if let k = keys.indices.first(where: { k in out[k] == nil && keys[k].withUnsafeBytes { rawKeyEquals(bytes, key, $0) } }) { out[k] = value }
            return true
        }
        return framed ? out : nil
    }

    /// Every top-level member of an object in order: its key and the range from the key's opening
    /// quote to the end of its value (what removing the member removes); nil when `bytes` is
    /// not a well-framed object.
    package static func memberSpans(in bytes: UnsafeRawBufferPointer) -> [(key: String, span: Range<Int>)]? {
        var out: [(key: String, span: Range<Int>)] = []
        let framed = walkMembers(bytes) { key, span, _ in
            out.append((keyText(bytes, key), span))
            return true
        }
        return framed ? out : nil
    }

    /// The byte ranges of the elements of a JSON array (a JSON-RPC batch); nil when `bytes` is
    /// not a well-framed array.
    package static func elements(in bytes: UnsafeRawBufferPointer) -> [Range<Int>]? {
        var i = skipSpace(bytes, 0)
        guard i < bytes.count, bytes[i] == UInt8(ascii: "[") else { return nil }
        i = skipSpace(bytes, i + 1)
        var out: [Range<Int>] = []
        if i < bytes.count, bytes[i] == UInt8(ascii: "]") { return skipSpace(bytes, i + 1) == bytes.count ? out : nil }
        while i < bytes.count {
            guard let end = skipValue(bytes, i) else { return nil }
            out.append(i..<end)
            i = skipSpace(bytes, end)
            guard i < bytes.count else { return nil }
            if bytes[i] == UInt8(ascii: "]") { return skipSpace(bytes, i + 1) == bytes.count ? out : nil }
            guard bytes[i] == UInt8(ascii: ",") else { return nil }
            i = skipSpace(bytes, i + 1)
        }
        return nil
    }

    /// The escapes that stand for one byte: `\"`, `\\`, `\/`, `\b`, `\f`, `\n`, `\r`, `\t`.
    private static let shortEscapes: Set<UInt8> = Set("\"\\/bfnrt".utf8)

    /// The length in UTF-8 bytes of a JSON string's text, escapes resolved, as `JSONParser`
    /// would decode it, read from its bytes with nothing allocated; nil when `b` is not a
    /// string (or has an escape the parser refuses, such as a lone surrogate).
    package static func decodedStringLength(_ b: UnsafeRawBufferPointer) -> Int? {
        let quote = UInt8(ascii: "\""), backslash = UInt8(ascii: "\\"), u = UInt8(ascii: "u")
        guard b.count >= 2, b[0] == quote, b[b.count - 1] == quote else { return nil }
        func hex4(_ at: Int) -> Int? {
            guard at + 4 <= b.count - 1 else { return nil }
            var v = 0
            for k in at..<(at + 4) {
                guard let d = ASCII.hexDigitValue(b[k]) else { return nil }
                v = v << 4 | Int(d)
            }
            return v
        }
        let end = b.count - 1
        var i = 1, n = 0
        while i < end {
            guard b[i] == backslash else {
                // As the parser: no control characters, no quote before the last.
                guard b[i] >= 0x20, b[i] != quote else { return nil }
                n += 1
                i += 1
                continue
            }
            guard i + 1 < end else { return nil }
            guard b[i + 1] == u else {
                guard Self.shortEscapes.contains(b[i + 1]) else { return nil }
                n += 1
                i += 2
                continue
            }
            guard let v = hex4(i + 2) else { return nil }
            i += 6
            switch v {
            case ..<0x80: n += 1
            case ..<0x800: n += 2
            case 0xD800..<0xDC00:
                // A high surrogate must be followed by an escaped low one: one 4-byte scalar.
                guard i + 1 < end, b[i] == backslash, b[i + 1] == u, let low = hex4(i + 2), (0xDC00..<0xE000).contains(low) else { return nil }
                i += 6
                n += 4
            case 0xDC00..<0xE000: return nil
            default: n += 3
            }
        }
        return n
    }

    /// The value of a JSON number that is an integer (as `JSONValue.intValue` reads it): plain
    /// integers straight from their bytes, with nothing allocated; anything else through
    /// `JSONParser` and its rules. Nil for non-numbers and non-integers.
    package static func int(_ b: UnsafeRawBufferPointer) -> Int? {
        var i = 0
        let negative = i < b.count && b[i] == UInt8(ascii: "-")
        if negative { i += 1 }
        let digits = b.count - i
        if digits >= 1, digits <= 18, !(digits > 1 && b[i] == UInt8(ascii: "0")),
           b[i...].allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) {
            var n = 0
            for k in i..<b.count { n = n &* 10 &+ Int(b[k] &- UInt8(ascii: "0")) }
            return negative ? -n : n
        }
        return (try? JSONParser.parse(b))?.intValue
    }

    /// The parsed values of `names` (absent or unparseable members are left out); nil when
    /// `bytes` is not a JSON object.
    package static func values(_ names: Set<String>, in buffer: ByteBuffer) -> [String: JSONValue]? {
        buffer.withUnsafeReadableBytes { raw -> [String: JSONValue]? in
            guard let ranges = members(names, in: raw) else { return nil }
            var out = [String: JSONValue](minimumCapacity: ranges.count)
            for (name, range) in ranges {
                if let v = try? JSONParser.parse(UnsafeRawBufferPointer(rebasing: raw[range])) { out[name] = v }
            }
            return out
        }
    }

    private static func skipSpace(_ b: UnsafeRawBufferPointer, _ start: Int) -> Int {
        var i = start
        while i < b.count, b[i] == 0x20 || b[i] == 0x0A || b[i] == 0x0D || b[i] == 0x09 { i += 1 }
        return i
    }

    /// The index after the closing quote of the string opening at `start`.
    private static func skipString(_ b: UnsafeRawBufferPointer, _ start: Int) -> Int? {
        var i = start + 1
        while i < b.count {
            // A word at a time through text with no quote or escape in it.
            while i + 8 <= b.count, JSONWords.noQuoteOrEscape(b, i) { i += 8 }
            guard i < b.count else { return nil }
            switch b[i] {
            case UInt8(ascii: "\\"): i += 2
            case UInt8(ascii: "\""): return i + 1
            default: i += 1
            }
        }
        return nil
    }

    /// The index after the value starting at `start`.
    private static func skipValue(_ b: UnsafeRawBufferPointer, _ start: Int) -> Int? {
        guard start < b.count else { return nil }
        switch b[start] {
        case UInt8(ascii: "\""):
            return skipString(b, start)
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            var depth = 0
            var i = start
            while i < b.count {
                switch b[i] {
                case UInt8(ascii: "\""):
                    guard let end = skipString(b, i) else { return nil }
                    i = end
                    continue
                case UInt8(ascii: "{"), UInt8(ascii: "["):
                    depth += 1
                    guard depth <= JSONParser.maxDepth else { return nil }
                case UInt8(ascii: "}"), UInt8(ascii: "]"):
                    depth -= 1
                    if depth == 0 { return i + 1 }
                default:
                    break
                }
                i += 1
            }
            return nil
        default:
            var i = start
            while i < b.count {
                switch b[i] {
                case UInt8(ascii: ","), UInt8(ascii: "}"), UInt8(ascii: "]"), 0x20, 0x0A, 0x0D, 0x09: return i == start ? nil : i
                default: i += 1
                }
            }
            return i == start ? nil : i
        }
    }
}
