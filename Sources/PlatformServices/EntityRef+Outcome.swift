import EntityRuntime

extension EntityRef {
    /// Sends a command: the entity's refusal comes back as the result's failure (what a saga
    /// step answers), a cluster failure is thrown as the client should see it.
    func outcome(_ command: K.State.Command) async throws(ServiceFailure) -> Result<K.Reply, K.Failure> {
        try await Self.sorted { () async throws(EntityFailure<K.Failure>) in try await ask(command) }
    }

    /// Reads the entity, as ``outcome(_:)`` sends a command.
    func outcome(read: K.Read) async throws(ServiceFailure) -> Result<K.Reply, K.Failure> {
        try await Self.sorted { () async throws(EntityFailure<K.Failure>) in try await self.read(read) }
    }

    private static func sorted(_ call: () async throws(EntityFailure<K.Failure>) -> K.Reply)
        async throws(ServiceFailure)
        -> Result<K.Reply, K.Failure>
    {
        do {
            return .success(try await call())
        } catch {
            switch error {
            case .domain(let refusal): return .failure(refusal)
            case .cluster(let failure): throw ServiceFailure(failure)
            }
        }
    }
}
