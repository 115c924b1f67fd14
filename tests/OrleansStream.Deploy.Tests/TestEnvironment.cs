using System.Reflection;

namespace OrleansStream.Deploy.Tests;

/// <summary>Paths baked in at build time (the test project file sets them).</summary>
internal static class TestEnvironment
{
    public static string BicepExecutable { get; } = Metadata("BicepExecutable");

    private static string Metadata(string key)
    {
        foreach (var attribute in typeof(TestEnvironment).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>())
        {
            if (attribute.Key == key && !string.IsNullOrEmpty(attribute.Value))
            {
                return attribute.Value;
            }
        }

        throw new InvalidOperationException($"Assembly metadata '{key}' is missing; it is set in the test project file.");
    }
}
