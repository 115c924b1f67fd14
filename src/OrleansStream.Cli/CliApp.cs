using System.CommandLine;
using Orleans.Runtime;
using Orleans.Runtime.Messaging;
using OrleansStream.Cli.Commands;
using OrleansStream.Cli.Connection;
using OrleansStream.Client;

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

    public static readonly Option<bool> Tls = new("--tls")
    {
        Description = "Connect to the gateways with TLS (security.protocol=ssl); implied by --ca and --client-cert",
        Recursive = true,
    };

    public static readonly Option<string?> Ca = new("--ca")
    {
        Description = "PEM bundle of the authorities the gateway's certificate must be issued by (ssl.ca.location; default the system's roots)",
        Recursive = true,
    };

    public static readonly Option<string?> ClientCert = new("--client-cert")
    {
        Description = "This client's certificate for gateways that require one: PEM (key inside or --client-key) or PKCS#12 (ssl.certificate.location)",
        Recursive = true,
    };

    public static readonly Option<string?> ClientKey = new("--client-key")
    {
        Description = "PEM private key of --client-cert when not in the same file (ssl.key.location)",
        Recursive = true,
    };

    public static readonly Option<string?> ClientKeyPassword = new("--client-key-password")
    {
        Description = "Password of an encrypted PEM key or of a PKCS#12 --client-cert (ssl.key.password)",
        Recursive = true,
    };

    public static readonly Option<bool> NoVerifyHostname = new("--no-verify-hostname")
    {
        Description = "Accept a gateway certificate that does not name the address dialled, still issued by --ca (ssl.endpoint.identification.algorithm=none)",
        Recursive = true,
    };

    public static RootCommand BuildRoot()
    {
        var root = new RootCommand("orleansstream: topics, produce, consume and performance tests against an OrleansStream cluster");
        root.Options.Add(Gateway);
        root.Options.Add(ClusterId);
        root.Options.Add(ServiceId);
        root.Options.Add(Tls);
        root.Options.Add(Ca);
        root.Options.Add(ClientCert);
        root.Options.Add(ClientKey);
        root.Options.Add(ClientKeyPassword);
        root.Options.Add(NoVerifyHostname);
        root.Subcommands.Add(TopicsCommands.Build());
        root.Subcommands.Add(ProduceCommand.Build());
        root.Subcommands.Add(ConsumeCommand.Build());
        root.Subcommands.Add(PerfCommands.Build());
        root.Subcommands.Add(GroupsCommands.Build());
        root.Subcommands.Add(ConfigsCommands.Build());
        root.Subcommands.Add(AclsCommands.Build());
        root.Subcommands.Add(UsersCommands.Build());
        root.Subcommands.Add(TransactionsCommands.Build());
        root.Subcommands.Add(SaslCommands.Build());
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
            ConnectionSettings.Resolve(parse.GetValue(Gateway), parse.GetValue(ClusterId), parse.GetValue(ServiceId), SecurityOf(parse)),
            cancellationToken);

    /// <summary>The TLS options as the SDK's <c>security.protocol</c> and <c>ssl.*</c> keys.</summary>
    internal static Config SecurityOf(ParseResult parse)
    {
        var config = new Config
        {
            SslCaLocation = parse.GetValue(Ca),
            SslCertificateLocation = parse.GetValue(ClientCert),
            SslKeyLocation = parse.GetValue(ClientKey),
            SslKeyPassword = parse.GetValue(ClientKeyPassword),
        };
        if (parse.GetValue(NoVerifyHostname)) config.SslEndpointIdentificationAlgorithm = SslEndpointIdentificationAlgorithm.None;
        if (parse.GetValue(Tls) || config.SslCaLocation is not null || config.SslCertificateLocation is not null)
            config.SecurityProtocol = SecurityProtocol.Ssl;
        return config;
    }

    /// <summary>Parses repeatable <c>key=value</c> options into a dictionary.</summary>
    /// <summary>A command's <c>--password</c>, else the first line of stdin (so it stays out of the shell history); a usage error when neither.</summary>
    public static string ReadPassword(ParseResult parse, Option<string?> password)
    {
        var secret = parse.GetValue(password) ?? Console.In.ReadLine();
        if (string.IsNullOrEmpty(secret)) throw new CliException("no password: give --password or one line on stdin", ExitCodes.Usage);
        return secret;
    }

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
