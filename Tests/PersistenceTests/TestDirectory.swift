import Foundation

/// A fresh temporary directory, removed when the test ends.
final class TestDirectory {
    let path: String

    init() {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("plume-persistence-\(UUID().uuidString)").path
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    func copy() -> TestDirectory {
        let copy = TestDirectory()
        try! FileManager.default.removeItem(atPath: copy.path)
        try! FileManager.default.copyItem(atPath: path, toPath: copy.path)
        return copy
    }

    func files(in subdirectory: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: path + "/" + subdirectory)) ?? []).sorted()
    }

    func bytes(_ relative: String) -> [UInt8] { Array(FileManager.default.contents(atPath: path + "/" + relative)!) }

    func write(_ bytes: [UInt8], to relative: String) {
        _ = FileManager.default.createFile(atPath: path + "/" + relative, contents: Data(bytes))
    }
}
