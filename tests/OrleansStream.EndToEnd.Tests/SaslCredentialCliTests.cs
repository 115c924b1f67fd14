using OrleansStream.Protocol.Sasl;

namespace OrleansStream.EndToEnd.Tests;

/// <summary><c>orleansstream sasl scram-credential</c>: the built CLI, no cluster.</summary>
public sealed class SaslCredentialCliTests
{
    private static readonly string CliDll = Repository.BuiltDll("OrleansStream.Cli", "orleansstream");

    private static Task<ProcessResult> RunAsync(string? stdin, params string[] args) =>
        ExternalProcess.RunAsync("dotnet", [CliDll, "sasl", "scram-credential", .. args], stdin: stdin, timeout: TimeSpan.FromSeconds(60));

    [Theory]
    [InlineData("SCRAM-SHA-256", null)]
    [InlineData("SCRAM-SHA-512", "8192")]
    public async Task Prints_a_salted_credential_of_the_password_that_the_broker_reads(string mechanism, string? iterations)
    {
        string[] args = iterations is null ? ["--mechanism", mechanism, "--password", "alice-secret"] : ["--mechanism", mechanism, "--iterations", iterations];

        var run = await RunAsync(iterations is null ? null : "alice-secret\n", args);

        Assert.True(run.ExitCode == 0, run.ToString());
        var scram = ScramMechanism.ForName(mechanism)!;
        var credential = ScramCredential.Parse(Assert.Single(run.StdoutLines), scram);
        Assert.Equal(iterations is null ? 4096 : 8192, credential.Iterations);
        Assert.True(scram.Matches(credential, "alice-secret"u8));
        Assert.DoesNotContain("alice-secret", run.Stdout, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("SCRAM-SHA-1", "4096")]
    [InlineData("SCRAM-SHA-256", "1000")]
    public async Task Refuses_an_unknown_mechanism_or_too_few_iterations(string mechanism, string iterations)
    {
        var run = await RunAsync(null, "--mechanism", mechanism, "--password", "x", "--iterations", iterations);

        Assert.Equal(2, run.ExitCode);
        Assert.StartsWith("orleansstream: ", run.Stderr, StringComparison.Ordinal);
    }
}
