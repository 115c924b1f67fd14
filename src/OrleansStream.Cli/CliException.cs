namespace OrleansStream.Cli;

/// <summary>Process exit codes: 0 success, 1 the operation failed, 2 bad arguments, 3 the cluster could not be reached.</summary>
internal static class ExitCodes
{
    public const int Success = 0;
    public const int Failed = 1;
    public const int Usage = 2;
    public const int Unavailable = 3;
}

/// <summary>A failure to report as one line on stderr with an exit code, without a stack trace.</summary>
internal sealed class CliException(string message, int exitCode = ExitCodes.Failed, Exception? inner = null) : Exception(message, inner)
{
    public int ExitCode { get; } = exitCode;
}
