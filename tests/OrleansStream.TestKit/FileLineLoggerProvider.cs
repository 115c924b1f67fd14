using Microsoft.Extensions.Logging;

namespace OrleansStream.TestKit;

/// <summary>Set OS_TEST_LOG=path to append the brokers' OrleansStream logs to one file while diagnosing a test.</summary>
internal sealed class FileLineLoggerProvider(string path, string silo) : ILoggerProvider
{
    private static readonly Lock Gate = new();

    public ILogger CreateLogger(string categoryName) => new Logger(path, silo, categoryName);

    public void Dispose() { }

    private sealed class Logger(string path, string silo, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => category.StartsWith("OrleansStream", StringComparison.Ordinal) && logLevel >= LogLevel.Debug;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (!IsEnabled(logLevel)) return;
            var line = $"{DateTime.UtcNow:HH:mm:ss.fff} {silo} {logLevel} {category[(category.LastIndexOf('.') + 1)..]}: {formatter(state, exception)}{(exception is null ? "" : " | " + exception.GetType().Name + ": " + exception.Message)}\n";
            lock (Gate) File.AppendAllText(path, line);
        }
    }
}
