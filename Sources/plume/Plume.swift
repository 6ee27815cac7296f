import ArgumentParser

@main
struct Plume: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plume",
        abstract: "Plume: a clustered game-platform backend.",
        subcommands: [NodeCommand.self, StatusCommand.self, BenchCommand.self, CertsCommand.self],
        defaultSubcommand: NodeCommand.self
    )
}
