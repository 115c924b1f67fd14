using System.CommandLine;
using OrleansStream.Protocol.Sasl;

namespace OrleansStream.Cli.Commands;

/// <summary>
/// <c>sasl scram-credential</c>: a salted SCRAM credential for a user of the Kafka listeners'
/// <c>OrleansStream:Sasl:Users</c>, as kafka-configs' <c>--add-config SCRAM-SHA-256=[password=...]</c> stores one, so
/// the configuration holds no password. Needs no cluster.
/// </summary>
internal static class SaslCommands
{
    public static Command Build()
    {
        var sasl = new Command("sasl", "SASL credentials for the Kafka listeners");
        sasl.Subcommands.Add(ScramCredentialCommand());
        return sasl;
    }

    private static Command ScramCredentialCommand()
    {
        var mechanism = new Option<string>("--mechanism") { Description = "SCRAM-SHA-256 or SCRAM-SHA-512", Required = true };
        mechanism.AcceptOnlyFromAmong(ScramMechanism.Sha256.Name, ScramMechanism.Sha512.Name);
        var password = new Option<string?>("--password") { Description = "The user's password; read from the first line of stdin when absent" };
        var iterations = new Option<int>("--iterations")
        {
            Description = $"PBKDF2 iterations ({ScramMechanism.MinIterations}-{ScramMechanism.MaxIterations})",
            DefaultValueFactory = _ => ScramMechanism.MinIterations,
        };
        var command = new Command("scram-credential",
            "Print salt=…,stored_key=…,server_key=…,iterations=… for OrleansStream:Sasl:Users:<user>:ScramSha256 or :ScramSha512")
        {
            mechanism, password, iterations,
        };
        command.SetAction(parse =>
        {
            var count = parse.GetValue(iterations);
            if (count is < ScramMechanism.MinIterations or > ScramMechanism.MaxIterations)
                throw new CliException($"--iterations must be {ScramMechanism.MinIterations} to {ScramMechanism.MaxIterations}, not {count}", ExitCodes.Usage);
            var secret = CliApp.ReadPassword(parse, password);
            Console.Out.WriteLine(ScramMechanism.ForName(parse.GetRequiredValue(mechanism))!.CreateCredential(secret, count).Format());
            return ExitCodes.Success;
        });
        return command;
    }
}
