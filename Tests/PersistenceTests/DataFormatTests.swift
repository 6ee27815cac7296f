import Foundation
import Persistence
import Testing

/// A data directory says which format it holds; a node refuses another one with a message that
/// names both versions and what to do, before it reads anything.
@Suite struct DataFormatTests {
    static func withDirectory(_ body: (String) throws -> Void) throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "plume-format-\(UUID().uuidString)"
        ).path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try body(directory)
    }

    static func open(_ directory: String, format: Int = DataFormat.current) throws {
        _ = try Storage.open(
            directory: directory,
            segmentBytes: 1 << 20,
            format: format,
            restore: { _ in },
            apply: { _ in }
        )
    }

    @Test func aNewDirectoryIsMarkedAndOpensAgain() throws {
        try Self.withDirectory { directory in
            try Self.open(directory)
            let marker = try String(contentsOfFile: directory + "/FORMAT", encoding: .utf8)
            #expect(marker == "plume-data-format \(DataFormat.current)\n")
            try Self.open(directory)
        }
    }

    @Test func dataOfTheFirstFormatIsRefusedWithWhatToDo() throws {
        try Self.withDirectory { directory in
            // What a node of format 1 left: a log and no marker.
            try FileManager.default.createDirectory(atPath: directory + "/wal", withIntermediateDirectories: true)
            FileManager.default.createFile(atPath: directory + "/wal/wal-000000000001.seg", contents: Data(count: 64))
            do {
                try Self.open(directory)
                Issue.record("a format-1 directory was opened")
            } catch {
                let text = "\(error)"
                #expect(text.contains("format 1") && text.contains("format \(DataFormat.current)"), "\(text)")
                #expect(text.contains("older Plume") && text.contains(directory), "\(text)")
            }
            // Nothing was written into it.
            #expect(!FileManager.default.fileExists(atPath: directory + "/FORMAT"))
        }
    }

    @Test func aNewerFormatIsRefused() throws {
        try Self.withDirectory { directory in
            try Self.open(directory, format: DataFormat.current + 1)
            do {
                try Self.open(directory)
                Issue.record("a newer directory was opened")
            } catch {
                #expect(
                    "\(error)".contains("format \(DataFormat.current + 1)") && "\(error)".contains("newer Plume"),
                    "\(error)"
                )
            }
        }
    }

    @Test func aDamagedMarkerIsRefused() throws {
        try Self.withDirectory { directory in
            try Self.open(directory)
            try Data("not a marker".utf8).write(to: URL(fileURLWithPath: directory + "/FORMAT"))
            #expect(throws: PersistenceError.self) { try Self.open(directory) }
        }
    }
}
