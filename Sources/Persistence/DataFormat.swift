#if canImport(Glibc)
    import Glibc
#endif

/// The version of what a node's data directory holds, in `<directory>/FORMAT`
/// (`plume-data-format N`). A node refuses a directory of another format, naming both versions
/// and what to do, instead of misreading it.
///
/// Format 1 (no `FORMAT` file): entity records and states in the hand-written positional codecs.
/// Format 2: entity records, requests and states in Protocol Buffers (the entity schemas), shard
/// states in container version 3. Data of format 1 does not load into format 2.
public enum DataFormat {
    /// The format this build reads and writes.
    public static let current = 2
    static let fileName = "FORMAT"

    /// Checks the directory's format; a directory with no data yet is marked with `version`.
    public static func check(directory: String, version: Int = current) throws(PersistenceError) {
        let path = directory + "/" + fileName
        let found: Int
        if let file = try? PosixFile.open(path, create: false) {
            let text = String(decoding: try file.readAll(), as: UTF8.self)
            guard let number = text.split(separator: " ").last.flatMap({ Int($0.trimmingSpaces) }),
                text.hasPrefix("plume-data-format ")
            else {
                throw PersistenceError(
                    .invalid("not a Plume data format marker: \(text.prefix(64).debugDescription)"),
                    path: path
                )
            }
            found = number
        } else if holdsData(directory) {
            found = 1
        } else {
            try Directory.create(directory)
            let file = try PosixFile.open(path, create: true)
            try file.write(Array("plume-data-format \(version)\n".utf8), at: 0)
            try file.sync()
            try Directory.sync(directory)
            return
        }
        guard found == version else {
            let advice =
                found < version
                ? "it was written by an older Plume and does not load here: keep it with the version that wrote it, or move it away (or delete it) to start this node empty — a cluster member then catches up from the other replicas"
                : "it was written by a newer Plume: run that version (or a newer one)"
            throw PersistenceError(
                .invalid(
                    "the data directory holds Plume data format \(found), and this build reads format \(version); \(advice)"
                ),
                path: directory
            )
        }
    }

    /// Whether the directory already holds a log or snapshots.
    private static func holdsData(_ directory: String) -> Bool {
        ["wal", "snapshots"].contains { name in
            ((try? Directory.list(directory + "/" + name)) ?? []).isEmpty == false
        }
    }
}

extension Substring {
    fileprivate var trimmingSpaces: Substring {
        var text = self
        while let last = text.last, last == "\n" || last == " " || last == "\r" { text.removeLast() }
        return text
    }
}
