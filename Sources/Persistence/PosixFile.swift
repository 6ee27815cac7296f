#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// An I/O failure, naming the operation, the file and the errno.
public struct PersistenceError: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Kind: Equatable, Sendable {
        case io(operation: String, errno: Int32)
        /// Committed data is damaged: the node must not start on it.
        case corruption(offset: Int)
        case invalid(String)
    }

    public let kind: Kind
    public let path: String

    public init(_ kind: Kind, path: String) {
        self.kind = kind
        self.path = path
    }

    public var description: String {
        switch kind {
        case .io(let operation, let code): "\(operation) \(path): \(String(cString: strerror(code))) (errno \(code))"
        case .corruption(let offset):
            "corrupt record in \(path) at offset \(offset): refusing to start on damaged committed data"
        case .invalid(let message): "\(path): \(message)"
        }
    }
}

/// A thin, throwing wrapper over a POSIX file descriptor: positional reads and writes,
/// `fdatasync`, `fsync`, preallocation. Durability decisions live with the callers.
///
/// `@unchecked Sendable`: the descriptor is immutable and POSIX positional I/O is thread-safe;
/// callers (the write-ahead log) never issue overlapping writes to the same range.
final class PosixFile: @unchecked Sendable {
    let descriptor: Int32
    let path: String

    static func open(_ path: String, create: Bool) throws(PersistenceError) -> PosixFile {
        let flags = O_RDWR | O_CLOEXEC | (create ? O_CREAT : 0)
        let descriptor = Glibc.open(path, flags, 0o644)
        guard descriptor >= 0 else { throw PersistenceError(.io(operation: "open", errno: errno), path: path) }
        return PosixFile(descriptor: descriptor, path: path)
    }

    private init(descriptor: Int32, path: String) {
        self.descriptor = descriptor
        self.path = path
    }

    deinit { _ = Glibc.close(descriptor) }

    func size() throws(PersistenceError) -> Int {
        var info = stat()
        guard fstat(descriptor, &info) == 0 else {
            throw PersistenceError(.io(operation: "fstat", errno: errno), path: path)
        }
        return Int(info.st_size)
    }

    func write(_ bytes: UnsafeRawBufferPointer, at offset: Int) throws(PersistenceError) {
        var done = 0
        while done < bytes.count {
            let result = pwrite(descriptor, bytes.baseAddress! + done, bytes.count - done, off_t(offset + done))
            if result < 0 {
                if errno == EINTR { continue }
                throw PersistenceError(.io(operation: "pwrite", errno: errno), path: path)
            }
            done += result
        }
    }

    func write(_ bytes: [UInt8], at offset: Int) throws(PersistenceError) {
        let result: Result<Void, PersistenceError> = bytes.withUnsafeBytes { buffer in
            Result { () throws(PersistenceError) in try write(buffer, at: offset) }
        }
        try result.get()
    }

    func read(count: Int, at offset: Int) throws(PersistenceError) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        var done = 0
        while done < count {
            let result = bytes.withUnsafeMutableBytes {
                pread(descriptor, $0.baseAddress! + done, count - done, off_t(offset + done))
            }
            if result < 0 {
                if errno == EINTR { continue }
                throw PersistenceError(.io(operation: "pread", errno: errno), path: path)
            }
            if result == 0 { break }
            done += result
        }
        bytes.removeSubrange(done...)
        return bytes
    }

    func readAll() throws(PersistenceError) -> [UInt8] { try read(count: try size(), at: 0) }

    func dataSync() throws(PersistenceError) {
        guard fdatasync(descriptor) == 0 else {
            throw PersistenceError(.io(operation: "fdatasync", errno: errno), path: path)
        }
    }

    func sync() throws(PersistenceError) {
        guard fsync(descriptor) == 0 else { throw PersistenceError(.io(operation: "fsync", errno: errno), path: path) }
    }

    /// Reserves `bytes` on disk so appends never extend the file (and its metadata) again.
    func preallocate(_ bytes: Int) throws(PersistenceError) {
        let result = posix_fallocate(descriptor, 0, off_t(bytes))
        if result != 0 {
            // Some file systems do not support it: fall back to extending with ftruncate.
            guard ftruncate(descriptor, off_t(bytes)) == 0 else {
                throw PersistenceError(.io(operation: "ftruncate", errno: errno), path: path)
            }
        }
    }

    func truncate(_ bytes: Int) throws(PersistenceError) {
        guard ftruncate(descriptor, off_t(bytes)) == 0 else {
            throw PersistenceError(.io(operation: "ftruncate", errno: errno), path: path)
        }
    }
}

/// Directory operations that durability depends on.
enum Directory {
    static func create(_ path: String) throws(PersistenceError) {
        var components: [String] = []
        for part in path.split(separator: "/", omittingEmptySubsequences: false) {
            components.append(String(part))
            let prefix = components.joined(separator: "/")
            if prefix.isEmpty { continue }
            if mkdir(prefix, 0o755) != 0 && errno != EEXIST {
                throw PersistenceError(.io(operation: "mkdir", errno: errno), path: prefix)
            }
        }
    }

    /// Makes renames and new files in the directory durable.
    static func sync(_ path: String) throws(PersistenceError) {
        let descriptor = Glibc.open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard descriptor >= 0 else { throw PersistenceError(.io(operation: "open dir", errno: errno), path: path) }
        defer { _ = Glibc.close(descriptor) }
        guard fsync(descriptor) == 0 else {
            throw PersistenceError(.io(operation: "fsync dir", errno: errno), path: path)
        }
    }

    static func list(_ path: String) throws(PersistenceError) -> [String] {
        guard let handle = opendir(path) else {
            throw PersistenceError(.io(operation: "opendir", errno: errno), path: path)
        }
        defer { closedir(handle) }
        var names: [String] = []
        while let entry = readdir(handle) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }

    static func rename(_ from: String, _ to: String) throws(PersistenceError) {
        guard Glibc.rename(from, to) == 0 else {
            throw PersistenceError(.io(operation: "rename", errno: errno), path: from)
        }
    }

    /// Whether `path` exists: false only when it does not (ENOENT); any other failure to look
    /// (permissions, I/O) is an error, never taken for absence.
    static func exists(_ path: String) throws(PersistenceError) -> Bool {
        if access(path, F_OK) == 0 { return true }
        guard errno == ENOENT else { throw PersistenceError(.io(operation: "access", errno: errno), path: path) }
        return false
    }

    static func remove(_ path: String) throws(PersistenceError) {
        guard unlink(path) == 0 || errno == ENOENT else {
            throw PersistenceError(.io(operation: "unlink", errno: errno), path: path)
        }
    }
}
