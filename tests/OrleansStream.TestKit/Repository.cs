using System.Reflection;

namespace OrleansStream.TestKit;

/// <summary>The checkout the tests run from, and the solution's built executables in it.</summary>
public static class Repository
{
    /// <summary>Debug or Release: the test kit is built in the configuration of the tests that reference it.</summary>
    public static string Configuration { get; } =
        typeof(Repository).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Debug";

    /// <summary>The folder holding OrleansStream.sln, found above the test's output folder.</summary>
    public static string Root { get; } = FindRoot();

    public static string Path(params string[] parts) => System.IO.Path.Combine([Root, .. parts]);

    /// <summary>The built <paramref name="assembly"/>.dll of src/<paramref name="project"/>, in bin/ or in the artifacts layout.</summary>
    public static string BuiltDll(string project, string assembly)
    {
        List<string> candidates = [Path("src", project, "bin", Configuration, "net10.0", assembly + ".dll")];
        var artifacts = Path(".artifacts");
        if (Directory.Exists(artifacts))
            foreach (var slot in Directory.GetDirectories(artifacts))
                candidates.Add(System.IO.Path.Combine(slot, "bin", project, Configuration.ToLowerInvariant(), assembly + ".dll"));
        foreach (var candidate in candidates)
            if (File.Exists(candidate)) return candidate;
        throw new FileNotFoundException($"{assembly}.dll of {project} is not built; looked at: {string.Join(", ", candidates)}");
    }

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(System.IO.Path.Combine(dir.FullName, "OrleansStream.sln"))) return dir.FullName;
        throw new DirectoryNotFoundException($"No OrleansStream.sln above {AppContext.BaseDirectory}.");
    }
}
