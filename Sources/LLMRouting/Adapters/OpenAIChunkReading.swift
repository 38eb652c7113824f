import GatewayCore

/// What the gate reads from an OpenAI stream chunk it passes through as it came (an OpenAI
/// caller, an OpenAI or Azure deployment, no cache to fill), read from the chunk's bytes: no
/// tree is built. A stream is twenty or more chunks, and building each one's tree only to read
/// three fields was most of what a passed-through stream cost. `translate` reads the same from
/// the tree where the chunks are needed whole.
enum OpenAIChunkReading: Equatable {
    /// `[DONE]`: the stream's last event.
    case done
    /// Empty data, or data that is not a JSON object: nothing to read, forwarded all the same.
    case nothing
    case chunk(Chunk)

    struct Chunk: Equatable {
        /// The provider's usage, when the chunk carries it (not `null`).
        var usage: TokenUsage?
        /// The chunk's `model`, when asked for.
        var model: String?
        /// The text this chunk delivers (the first choice's content and tool-call arguments),
        /// in UTF-8 bytes: what a cut stream is billed by.
        var deliveredBytes = 0
        /// `choices` is an empty array: OpenAI's usage-only chunk.
        var usageOnly = false
    }

    private static let chunkKeys: [[UInt8]] = ["error", "usage", "choices", "model"].map { Array($0.utf8) }
    private static let deltaKey: [[UInt8]] = [Array("delta".utf8)]
    private static let deltaKeys: [[UInt8]] = ["content", "tool_calls"].map { Array($0.utf8) }
    private static let functionKey: [[UInt8]] = [Array("function".utf8)]
    private static let argumentsKey: [[UInt8]] = [Array("arguments".utf8)]

    /// Reads `event`; throws the provider's error event, as `translate` does.
    static func read(_ event: SSEEvent, model wantsModel: Bool) throws(StreamError) -> OpenAIChunkReading {
        if event.data == "[DONE]" { return .done }
        if event.data.isEmpty { return .nothing }
        var data = event.data
        let (reading, error) = data.withUTF8 { utf8 -> (OpenAIChunkReading, StreamError?) in
            let b = UnsafeRawBufferPointer(utf8)
            guard let s = JSONScanner.slots(chunkKeys, in: b) else { return (.nothing, nil) }
            if let r = s[0], !isNull(slice(r, of: b)) {
                // Rare: the tree is built for the error's words.
                let e = try? JSONParser.parse(slice(r, of: b))
                return (.nothing, StreamError(message: e?["message"]?.stringValue ?? "the provider's stream failed", type: e?["type"]?.stringValue))
            }
            var c = Chunk()
            c.usage = s[1].flatMap { TokenUsage(openAIBytes: slice($0, of: b)) }
            if wantsModel, let r = s[3] { c.model = (try? JSONParser.parse(slice(r, of: b)))?.stringValue }
            if let r = s[2], let choices = JSONScanner.elements(in: slice(r, of: b)) {
                c.usageOnly = choices.isEmpty
                if let first = choices.first {
                    let choice = slice(first, of: slice(r, of: b))
                    c.deliveredBytes = delivered(byChoice: choice)
                }
            }
            return (.chunk(c), nil)
        }
        if let error { throw error }
        return reading
    }

    /// The first choice's delta: its content and each tool call's arguments, in UTF-8 bytes.
    private static func delivered(byChoice choice: UnsafeRawBufferPointer) -> Int {
        guard let d = JSONScanner.slots(deltaKey, in: choice)?[0] else { return 0 }
        let delta = slice(d, of: choice)
        guard let s = JSONScanner.slots(deltaKeys, in: delta) else { return 0 }
        var n = s[0].flatMap { JSONScanner.decodedStringLength(slice($0, of: delta)) } ?? 0
        if let t = s[1], let calls = JSONScanner.elements(in: slice(t, of: delta)) {
            let list = slice(t, of: delta)
            for call in calls {
                let callBytes = slice(call, of: list)
                guard let f = JSONScanner.slots(functionKey, in: callBytes)?[0] else { continue }
                let function = slice(f, of: callBytes)
                guard let a = JSONScanner.slots(argumentsKey, in: function)?[0] else { continue }
                n += JSONScanner.decodedStringLength(slice(a, of: function)) ?? 0
            }
        }
        return n
    }

    /// The bytes of a value the scanner located in `outer`.
    private static func slice(_ r: Range<Int>, of outer: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: outer[r])
    }

    private static func isNull(_ b: UnsafeRawBufferPointer) -> Bool { b.elementsEqual("null".utf8) }
}
