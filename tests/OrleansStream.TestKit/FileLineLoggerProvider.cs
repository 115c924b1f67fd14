using Microsoft.Extensions.Logging;

namespace OrleansStream.TestKit;

/// <summary>
/// Set OS_TEST_LOG=path to append the brokers' OrleansStream logs to one file while diagnosing a test (or
/// OS_TEST_CLIENT_LOG=path for the Orleans log of <see cref="SiloProcesses"/>' clients).
/// </summary>
internal sealed class FileLineLoggerProvider(string path, string silo, string categoryPrefix = "OrleansStream", LogLevel minimum = LogLevel.Debug) : ILoggerProvider
{
    private static readonly Lock Gate = new();

    public ILogger CreateLogger(string categoryName) => new Logger(path, silo, categoryName, categoryPrefix, minimum);

    public void Dispose() { }

    private sealed class Logger(string path, string silo, string category, string categoryPrefix, LogLevel minimum) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => category.StartsWith(categoryPrefix, StringComparison.Ordinal) && logLevel >= minimum;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (!IsEnabled(logLevel)) return;
            var line = $"{DateTime.UtcNow:HH:mm:ss.fff} {silo} {logLevel} {category[(category.LastIndexOf('.') + 1)..]}: {formatter(state, exception)}{(exception is null ? "" : " | " + exception.GetType().Name + ": " + exception.Message)}\n";
            lock (Gate) File.AppendAllText(path, line);
        }
    }
}
