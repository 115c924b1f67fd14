using System.Text.Json;

namespace OrleansStream.KafkaJava.Tests;

/// <summary>
/// The driver in tests/java (kafka-clients and kafka-streams 4.3.1): built once per test run with Maven into the test
/// output (its dependencies cached in ~/.m2), then one JVM per scenario. A machine without Maven Central gives a
/// classpath it built itself in <c>OS_KAFKA_JAVA_CLASSPATH</c> (the driver's classes and the Kafka jars).
/// </summary>
public static class JavaClient
{
    private static readonly Lazy<Task<string>> ClassPath = new(BuildAsync);

    /// <summary>Runs <c>orleansstream.Main</c> with <paramref name="arguments"/>; returns the JSON object it printed last.</summary>
    public static async Task<JsonElement> RunAsync(params string[] arguments)
    {
        var classPath = await ClassPath.Value;
        var run = await ExternalProcess.RunAsync("java", ["-Dorg.slf4j.simpleLogger.defaultLogLevel=warn", "-cp", classPath, "orleansstream.Main", .. arguments], timeout: TimeSpan.FromMinutes(2));
        Assert.True(run.ExitCode == 0, $"java orleansstream.Main {string.Join(' ', arguments)} exited with {run.ExitCode}:\n{run.Output}");
        using var result = JsonDocument.Parse(run.StdoutLines[^1]);
        return result.RootElement.Clone();
    }

    private static async Task<string> BuildAsync()
    {
        if (Environment.GetEnvironmentVariable("OS_KAFKA_JAVA_CLASSPATH") is { Length: > 0 } given) return given;
        var output = Path.Combine(AppContext.BaseDirectory, "java-driver");
        var build = await ExternalProcess.RunAsync("mvn", ["-q", "-B", "compile", $"-Ddriver.build.directory={output}"],
            workingDirectory: Repository.Path("tests", "java"), timeout: TimeSpan.FromMinutes(5));
        Assert.True(build.ExitCode == 0, $"mvn compile of tests/java exited with {build.ExitCode}:\n{build.Output}");
        return $"{Path.Combine(output, "classes")}{Path.PathSeparator}{Path.Combine(output, "lib", "*")}";
    }
}
