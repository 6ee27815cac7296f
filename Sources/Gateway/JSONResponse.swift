import Foundation
import Hummingbird

enum JSONResponse {
    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        return encoder
    }()

    /// - Parameter carriesTokens: the body holds access or refresh tokens: `Cache-Control:
    ///   no-store`, so no cache or proxy keeps them.
    static func make(_ value: some Encodable, status: HTTPResponse.Status = .ok, carriesTokens: Bool = false) throws
        -> Response
    {
        let data = try Self.encoder.encode(value)
        var headers: HTTPFields = [.contentType: "application/json; charset=utf-8"]
        if carriesTokens { headers[.cacheControl] = "no-store" }
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}
