using System.CommandLine;
using Orleans.Runtime;
using Orleans.Runtime.Messaging;
using OrleansStream.Cli.Commands;
using OrleansStream.Cli.Connection;

namespace OrleansStream.Cli;

/// <summary>The <c>orleansstream</c> command tree and its error handling: every failure is one stderr line and an exit code.</summary>
internal static class CliApp
{
    public static readonly Option<string[]> Gateway = new("--gateway")
    {
        Description = $"Gateway host:port, repeatable (env {ConnectionSettings.GatewayVariable}, default {ConnectionSettings.DefaultGateway})",
        Recursive = true,
        Arity = ArgumentArity.OneOrMore,
        AllowMultipleArgumentsPerToken = false,
    };

    public static readonly Option<string?> ClusterId = new("--cluster-id")
    {
        Description = $"Orleans cluster id (env {ConnectionSettings.ClusterIdVariable}, default {ConnectionSettings.DefaultClusterId})",
        Recursive = true,
    };

    public static readonly Option<string?> ServiceId = new("--service-id")
    {
        Description = $"Orleans service id (env {ConnectionSettings.ServiceIdVariable}, default {ConnectionSettings.DefaultClusterId})",
        Recursive = true,
    };

    public static RootCommand BuildRoot()
    {
        var root = new RootCommand("orleansstream: topics, produce, consume and performance tests against an OrleansStream cluster");
        root.Options.Add(Gateway);
        root.Options.Add(ClusterId);
        root.Options.Add(ServiceId);
        root.Subcommands.Add(TopicsCommands.Build());
        root.Subcommands.Add(ProduceCommand.Build());
        root.Subcommands.Add(ConsumeCommand.Build());
        root.Subcommands.Add(PerfCommands.Build());
        root.Subcommands.Add(GroupsCommands.Build());
        return root;
    }

    public static async Task<int> RunAsync(string[] args)
    {
        var root = BuildRoot();
        var parse = root.Parse(args);
        if (parse.Errors.Count > 0)
        {
            Console.Error.WriteLine($"orleansstream: {OneLine(parse.Errors[0].Message)} (see --help)");
            return ExitCodes.Usage;
        }
        try
        {
            // Ctrl-C / SIGTERM cancel the command; a group consumer then needs time to commit and leave its group.
            return await parse.InvokeAsync(new InvocationConfiguration
            {
                EnableDefaultExceptionHandler = false,
                ProcessTerminationTimeout = TimeSpan.FromSeconds(15),
            });
        }
        catch (Exception e)
        {
            var (message, code) = Describe(e);
            Console.Error.WriteLine($"orleansstream: {message}");
            return code;
        }
    }

    /// <summary>One line for a failure: Kafka's error name first when there is one.</summary>
    internal static (string Message, int ExitCode) Describe(Exception e) => e switch
    {
        CliException cli => (cli.Message, cli.ExitCode),
        OrleansStreamException os => ($"{os.Code}: {OneLine(os.Message)}", ExitCodes.Failed),
        OperationCanceledException => ("cancelled", ExitCodes.Failed),
        SiloUnavailableException or ConnectionFailedException or GatewayTooBusyException =>
            ($"cluster unavailable: {OneLine(e.Message)}", ExitCodes.Unavailable),
        TimeoutException => ($"timed out: {OneLine(e.Message)}", ExitCodes.Unavailable),
        AggregateException { InnerExceptions.Count: 1 } agg => Describe(agg.InnerExceptions[0]),
        _ => (OneLine(e.GetBaseException().Message), ExitCodes.Failed),
    };

    /// <summary>Collapses line breaks and tabs (System.CommandLine lists allowed values on separate lines) into single spaces.</summary>
    private static string OneLine(string text) =>
        System.Text.RegularExpressions.Regex.Replace(text, @"\s*[\r\n\t]+\s*", " ").Trim();

    /// <summary>Connects with the global options of <paramref name="parse"/>.</summary>
    public static Task<ClusterConnection> ConnectAsync(ParseResult parse, CancellationToken cancellationToken) =>
        ClusterConnection.ConnectAsync(
            ConnectionSettings.Resolve(parse.GetValue(Gateway), parse.GetValue(ClusterId), parse.GetValue(ServiceId)),
            cancellationToken);

    /// <summary>Parses repeatable <c>key=value</c> options into a dictionary.</summary>
    public static Dictionary<string, string> ParseKeyValues(IEnumerable<string>? pairs, string option)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        if (pairs is null)
            return result;
        foreach (var pair in pairs)
        {
            int eq = pair.IndexOf('=');
            if (eq <= 0)
                throw new CliException($"{option} '{pair}' is not key=value", ExitCodes.Usage);
            result[pair[..eq].Trim()] = pair[(eq + 1)..].Trim();
        }
        return result;
    }
}
