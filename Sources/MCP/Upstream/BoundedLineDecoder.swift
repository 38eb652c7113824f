import NIOCore

/// Splits a stdio server's output into lines (`\n`, an optional `\r` before it dropped), as
/// NIO's `LineBasedFrameDecoder` does, but with a maximum: a program writing a gigabyte with no
/// newline made the gate hold all of it. A line longer than `maxLength` is an error: the
/// decoder throws, the channel closes, and the program is treated as exited (its calls fail,
/// an eager one is started again).
struct BoundedLineDecoder: ByteToMessageDecoder {
    typealias InboundOut = ByteBuffer

    struct LineTooLong: Error, CustomStringConvertible {
        var limit: Int
        var description: String { "the program wrote a line longer than \(limit) bytes" }
    }

    let maxLength: Int
    /// Where the search for a newline resumes (bytes before it were searched already).
    private var searched = 0

    init(maxLength: Int) { self.maxLength = maxLength }

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        let view = buffer.readableBytesView
        guard let newline = view.dropFirst(searched).firstIndex(of: UInt8(ascii: "\n")) else {
            searched = view.count
            if view.count > maxLength { throw LineTooLong(limit: maxLength) }
            return .needMoreData
        }
        let length = newline - view.startIndex
        searched = 0
        if length > maxLength { throw LineTooLong(limit: maxLength) }
        var line = buffer.readSlice(length: length)!
        buffer.moveReaderIndex(forwardBy: 1)
        if line.readableBytesView.last == UInt8(ascii: "\r") { line = line.getSlice(at: line.readerIndex, length: line.readableBytes - 1)! }
        context.fireChannelRead(Self.wrapInboundOut(line))
        return .continue
    }

    mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        while try decode(context: context, buffer: &buffer) == .continue {}
        return .needMoreData
    }
}
