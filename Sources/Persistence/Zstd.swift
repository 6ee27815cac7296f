import CZstd

/// zstd compression of whole buffers (libzstd through the `CZstd` system library).
public enum Zstd {
    public struct Error: Swift.Error, Equatable, CustomStringConvertible {
        public let message: String
        public var description: String { "zstd: \(message)" }
    }

    /// Compresses `bytes` at `level` (1 fast … 19 small; 3 is zstd's default).
    public static func compress(_ bytes: [UInt8], level: Int32 = 3) throws(Error) -> [UInt8] {
        let bound = ZSTD_compressBound(bytes.count)
        var output = [UInt8](repeating: 0, count: bound)
        let written = output.withUnsafeMutableBytes { out in
            bytes.withUnsafeBytes { input in
                ZSTD_compress(out.baseAddress, bound, input.baseAddress, input.count, level)
            }
        }
        if ZSTD_isError(written) != 0 { throw Error(message: String(cString: ZSTD_getErrorName(written))) }
        output.removeSubrange(written...)
        return output
    }

    /// Decompresses one frame that records its content size (as ``compress(_:level:)`` writes
    /// it), refusing sizes above `bytesMax`.
    public static func decompress(_ bytes: [UInt8], bytesMax: Int) throws(Error) -> [UInt8] {
        guard let size = contentSize(bytes) else { throw Error(message: "not a zstd frame with a recorded size") }
        guard size <= bytesMax else { throw Error(message: "frame of \(size) bytes exceeds \(bytesMax)") }
        return try decompress(bytes, expectedBytes: size)
    }

    /// The content size a frame records in its header, if it is a frame that records one.
    public static func contentSize(_ bytes: [UInt8]) -> Int? {
        let size = bytes.withUnsafeBytes { ZSTD_getFrameContentSize($0.baseAddress, $0.count) }
        // ZSTD_CONTENTSIZE_UNKNOWN and ZSTD_CONTENTSIZE_ERROR are the two largest values.
        guard size < UInt64.max - 1, size <= UInt64(Int.max) else { return nil }
        return Int(size)
    }

    /// Decompresses one frame whose content size is `expectedBytes`.
    public static func decompress(_ bytes: [UInt8], expectedBytes: Int) throws(Error) -> [UInt8] {
        var output = [UInt8](repeating: 0, count: expectedBytes)
        let written = output.withUnsafeMutableBytes { out in
            bytes.withUnsafeBytes { input in
                ZSTD_decompress(out.baseAddress, expectedBytes, input.baseAddress, input.count)
            }
        }
        if ZSTD_isError(written) != 0 { throw Error(message: String(cString: ZSTD_getErrorName(written))) }
        guard written == expectedBytes else {
            throw Error(message: "decompressed \(written) bytes, expected \(expectedBytes)")
        }
        return output
    }
}
