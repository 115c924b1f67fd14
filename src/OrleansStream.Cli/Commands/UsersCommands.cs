using System.CommandLine;
using System.Text;
using OrleansStream.Client;
using OrleansStream.Client.Admin;

namespace OrleansStream.Cli.Commands;

/// <summary>
/// <c>users describe|set-scram|delete-scram</c>: the SCRAM credentials the Kafka listeners authenticate against, as
/// kafka-configs.sh <c>--entity-type users</c> with <c>SCRAM-SHA-256=[iterations=…,password=…]</c> changes them. The
/// password is salted in this process (the SDK's AlterUserScramCredentials); only the salted password is sent.
/// </summary>
internal static class UsersCommands
{
    public static Command Build()
    {
        var users = new Command("users", "Describe, set and delete users' SCRAM credentials");
        users.Subcommands.Add(Describe());
        users.Subcommands.Add(SetScram());
        users.Subcommands.Add(DeleteScram());
        return users;
    }

    private static Command Describe()
    {
        var user = new Option<string[]>("--user") { Description = "A user to describe, repeatable; none: every user with a credential" };
        var command = new Command("describe", "Each user's SCRAM mechanisms and iterations, as kafka-configs.sh --describe --entity-type users") { user };
        command.SetAction(async (parse, ct) =>
        {
            await using var connection = await CliApp.ConnectAsync(parse, ct);
            using var admin = new AdminClientBuilder(connection.Client).Build();
            List<UserScramCredentialsDescription> descriptions;
            try
            {
                descriptions = (await admin.DescribeUserScramCredentialsAsync(parse.GetValue(user) ?? [])).UserScramCredentialsDescriptions;
            }
            catch (DescribeUserScramCredentialsException e)
            {
                // The users described, then the first failure, as one line.
                Console.Out.Write(Format(e.Results.UserScramCredentialsDescriptions.Where(static d => !d.Error.IsError)));
                var failed = e.Results.UserScramCredentialsDescriptions.First(static d => d.Error.IsError).Error;
                throw new CliException($"{failed.Code}: {failed.Reason}");
            }
            Console.Out.Write(Format(descriptions));
            return ExitCodes.Success;
        });
        return command;
    }

    private static Command SetScram()
    {
        var user = new Option<string>("--user") { Description = "The user", Required = true };
        var mechanism = MechanismOption();
        var iterations = new Option<int>("--iterations") { Description = "PBKDF2 iterations (Kafka takes 4096-16384)", DefaultValueFactory = _ => 4096 };
        var password = new Option<string?>("--password") { Description = "The password; read from the first line of stdin when absent" };
        var command = new Command("set-scram", "Set a user's SCRAM credential for a mechanism (a new user, or a new password)") { user, mechanism, iterations, password };
        command.SetAction(async (parse, ct) =>
        {
            var secret = CliApp.ReadPassword(parse, password);
            var upsertion = new UserScramCredentialUpsertion
            {
                User = parse.GetRequiredValue(user),
                ScramCredentialInfo = new ScramCredentialInfo { Mechanism = Mechanism(parse, mechanism), Iterations = parse.GetValue(iterations) },
                Password = Encoding.UTF8.GetBytes(secret),
            };
            return await AlterAsync(parse, upsertion, ct);
        });
        return command;
    }

    private static Command DeleteScram()
    {
        var user = new Option<string>("--user") { Description = "The user", Required = true };
        var mechanism = MechanismOption();
        var command = new Command("delete-scram", "Delete a user's SCRAM credential for a mechanism") { user, mechanism };
        command.SetAction((parse, ct) =>
            AlterAsync(parse, new UserScramCredentialDeletion { User = parse.GetRequiredValue(user), Mechanism = Mechanism(parse, mechanism) }, ct));
        return command;
    }

    private static async Task<int> AlterAsync(ParseResult parse, UserScramCredentialAlteration alteration, CancellationToken ct)
    {
        await using var connection = await CliApp.ConnectAsync(parse, ct);
        using var admin = new AdminClientBuilder(connection.Client).Build();
        try
        {
            await admin.AlterUserScramCredentialsAsync([alteration]);
        }
        catch (AlterUserScramCredentialsException e)
        {
            var failed = e.Results.First(static r => r.Error.IsError).Error;
            throw new CliException($"{failed.Code}: {failed.Reason}");
        }
        Console.Out.WriteLine($"Completed updating config for user {alteration.User}.");
        return ExitCodes.Success;
    }

    private static Option<string> MechanismOption()
    {
        var mechanism = new Option<string>("--mechanism") { Description = "SCRAM-SHA-256 or SCRAM-SHA-512", Required = true };
        mechanism.AcceptOnlyFromAmong(ScramMechanisms.Name(ScramMechanism.ScramSha256), ScramMechanisms.Name(ScramMechanism.ScramSha512));
        return mechanism;
    }

    private static ScramMechanism Mechanism(ParseResult parse, Option<string> option) => ScramMechanisms.Parse(parse.GetRequiredValue(option))!.Value;

    /// <summary>kafka-configs.sh's line per user: <c>SCRAM credential configs for user-principal 'alice' are SCRAM-SHA-256=iterations=8192</c>.</summary>
    private static string Format(IEnumerable<UserScramCredentialsDescription> descriptions)
    {
        var output = new StringBuilder();
        foreach (var d in descriptions)
            output.Append("SCRAM credential configs for user-principal '").Append(d.User).Append("' are ")
                .AppendJoin(", ", d.ScramCredentialInfos.Select(static i => $"{ScramMechanisms.Name(i.Mechanism)}=iterations={i.Iterations}")).Append('\n');
        return output.ToString();
    }
}
