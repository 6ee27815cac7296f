import ClusterCore
import NIOCore
import NIOEmbedded
import NIOTestUtils
import Testing
import WireProtocol

@Suite struct FrameDecoderTests {
    let allocator = ByteBufferAllocator()

    func frame(_ text: String, type: Wire.MessageType = .echo, correlationID: UInt64 = 7) -> Wire.Frame {
        Wire.Frame(type: type.rawValue, flags: [.response], correlationID: correlationID, payload: ByteBuffer(string: text))
    }

    func bytes(_ frames: Wire.Frame...) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: 256)
        for frame in frames { Wire.write(frame, into: &buffer) }
        return buffer
    }

    @Test func crc32cMatchesTheCheckValue() {
        #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283)
        #expect(CRC32C.checksum([UInt8]()) == 0)
        // Continuing a checksum equals checksumming the concatenation.
        let whole = CRC32C.checksum(Array("hello, world".utf8))
        let split = CRC32C.checksum(Array(", world".utf8), continuing: CRC32C.checksum(Array("hello".utf8)))
        #expect(whole == split)
    }

    @Test func theVerifierAcceptsTheDecoder() throws {
        try ByteToMessageDecoderVerifier.verifyDecoder(
            inputOutputPairs: [
                (bytes(frame("a")), [frame("a")]),
                (bytes(frame("one"), frame("two", correlationID: 9)), [frame("one"), frame("two", correlationID: 9)]),
                (bytes(frame("")), [frame("")]),
            ],
            decoderFactory: { Wire.FrameDecoder() }
        )
    }

    @Test func aTruncatedFrameWaitsForTheRest() throws {
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(Wire.FrameDecoder()))
        var whole = bytes(frame("payload"))
        let head = whole.readSlice(length: 10)!
        try channel.writeInbound(head)
        #expect(try channel.readInbound(as: Wire.Frame.self) == nil)
        try channel.writeInbound(whole)
        #expect(try channel.readInbound(as: Wire.Frame.self) == frame("payload"))
        #expect(try channel.finish().isClean)
    }

    func decodeError(_ input: ByteBuffer, limit: Int = Wire.frameBytesMaxDefault) -> Wire.FrameError? {
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(Wire.FrameDecoder(frameBytesMax: limit)))
        defer { _ = try? channel.finish() }
        do {
            try channel.writeInbound(input)
            return nil
        } catch let error as Wire.FrameError {
            return error
        } catch {
            Issue.record("unexpected error \(error)")
            return nil
        }
    }

    @Test func garbageIsRefusedAtTheFirstByte() {
        #expect(decodeError(ByteBuffer(string: "G"))?.reason == "bad_magic")
        #expect(decodeError(ByteBuffer(string: "GET / HTTP/1.1\r\n\r\n"))?.reason == "bad_magic")
    }

    @Test func anUnknownVersionIsRefused() {
        var buffer = bytes(frame("x"))
        buffer.setInteger(UInt8(9), at: 2)
        #expect(decodeError(buffer) == .unsupportedVersion(9))
    }

    @Test func anOversizedLengthIsRefusedBeforeThePayloadArrives() {
        var header = bytes(frame("x"))
        header.setInteger(UInt32.max, at: 14)
        let onlyHeader = header.getSlice(at: 0, length: Wire.headerBytes)!
        #expect(decodeError(onlyHeader) == .frameTooLarge(length: Int(UInt32.max), limit: Wire.frameBytesMaxDefault))
        #expect(decodeError(bytes(frame(String(repeating: "x", count: 100))), limit: 99)?.reason == "too_large")
    }

    @Test func aFlippedPayloadBitIsRefused() {
        var buffer = bytes(frame("important"))
        let index = Wire.headerBytes + 3
        buffer.setInteger(buffer.getInteger(at: index, as: UInt8.self)! ^ 0x10, at: index)
        #expect(decodeError(buffer)?.reason == "bad_crc")
    }

    @Test func unknownFlagBitsAreRefused() {
        var buffer = bytes(frame("x"))
        buffer.setInteger(UInt8(0x80), at: 4)
        #expect(decodeError(buffer) == .unknownFlags(0x80))
    }

    @Test func randomInputNeverCrashesAndNeverYieldsAFrameWithoutAValidHeader() {
        var random = SystemRandomNumberGenerator()
        for _ in 0..<500 {
            let count = Int.random(in: 0...200, using: &random)
            var buffer = allocator.buffer(capacity: count)
            for _ in 0..<count { buffer.writeInteger(UInt8.random(in: 0...255, using: &random)) }
            let channel = EmbeddedChannel(handler: ByteToMessageHandler(Wire.FrameDecoder(frameBytesMax: 1024)))
            do {
                try channel.writeInbound(buffer)
                // Whatever came out must have passed the magic, version and CRC checks.
                while let frame = try channel.readInbound(as: Wire.Frame.self) {
                    let crc = frame.payload.withUnsafeReadableBytes { CRC32C.checksum($0) }
                    #expect(crc == CRC32C.checksum(Array(frame.payload.readableBytesView)))
                }
            } catch is Wire.FrameError {
                // Refused: the expected outcome for almost all random input.
            } catch {
                Issue.record("unexpected error \(error)")
            }
            _ = try? channel.finish()
        }
    }
}
