import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A disk that fails under a node running in this process, for tests of what a node does when
/// its write-ahead log can no longer be written.
public enum FailingDisk {
    public struct LogNotOpen: Error, CustomStringConvertible {
        public let segment: String
        public var description: String { "no open descriptor of \(segment) in this process" }
    }

    /// Makes every later write of the node's log fail, as a full or failing disk would: the
    /// descriptor of its first segment (open in this process) now points at `/dev/full`.
    public static func failWrites(toLogIn dataDirectory: String) throws {
        try redirect(logIn: dataDirectory, to: "/dev/full")
    }

    /// Makes every later sync of the node's log fail while its writes still succeed, as a disk
    /// that loses what it was asked to flush would (the kernel reports it at `fdatasync`): the
    /// descriptor of its first segment now points at `/dev/null`, which takes writes and refuses
    /// syncs (EINVAL).
    public static func failSyncs(toLogIn dataDirectory: String) throws {
        try redirect(logIn: dataDirectory, to: "/dev/null")
    }

    private static func redirect(logIn dataDirectory: String, to device: String) throws {
        let segment = dataDirectory + "/wal/wal-000000000001.seg"
        let descriptors = try FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").compactMap(Int32.init)
        guard
            let walDescriptor = descriptors.first(where: {
                (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/\($0)")) == segment
            })
        else { throw LogNotOpen(segment: segment) }
        let full = open(device, O_WRONLY)
        guard full >= 0 else { throw POSIXError(.init(rawValue: errno) ?? .EIO) }
        defer { close(full) }
        guard dup2(full, walDescriptor) == walDescriptor else { throw POSIXError(.init(rawValue: errno) ?? .EIO) }
    }
}
