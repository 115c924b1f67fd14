using Microsoft.Extensions.Options;
using OrleansStream.Storage.Tiering;

namespace OrleansStream.Server.Tiering;

public enum TierStoreKind
{
    /// <summary>A folder on the broker's disk (<c>{DataDirectory}/tier</c> unless <see cref="TierStoreOptions.Directory"/> says otherwise).</summary>
    Folder,

    /// <summary>Azure Blob Storage: <see cref="TierStoreOptions.ConnectionString"/>, or <see cref="TierStoreOptions.ServiceUri"/> with DefaultAzureCredential.</summary>
    AzureBlob,
}

/// <summary>Where closed segments are tiered, bound from <c>OrleansStream:TierStore</c>.</summary>
public sealed class TierStoreOptions
{
    public const string SectionName = "OrleansStream:TierStore";

    public TierStoreKind Kind { get; set; } = TierStoreKind.Folder;

    /// <summary>Folder tier root. Empty: <c>{OrleansStream:DataDirectory}/tier</c>.</summary>
    public string? Directory { get; set; }

    /// <summary>Blob container of the AzureBlob tier (created if missing).</summary>
    public string Container { get; set; } = "orleansstream-tier";

    /// <summary>Production: the account's blob endpoint, e.g. <c>https://acct.blob.core.windows.net</c>.</summary>
    public Uri? ServiceUri { get; set; }

    /// <summary>Development (Azurite): a storage connection string. Set this or <see cref="ServiceUri"/>, not both.</summary>
    public string? ConnectionString { get; set; }

    /// <summary>Client id of a user-assigned managed identity for DefaultAzureCredential (empty: system-assigned / environment).</summary>
    public string? ManagedIdentityClientId { get; set; }

    /// <summary>Kafka's <c>remote.log.manager.task.interval.ms</c>: how often a leader runs a tiering pass.</summary>
    public long TaskIntervalMs { get; set; } = 30_000;

    /// <summary>How often a leader compacts the tiered segments of a <c>cleanup.policy=compact</c> topic again.</summary>
    public long RemoteCompactionIntervalMs { get; set; } = 600_000;

    /// <summary>Bytes of remote indexes and segment chunks a broker keeps in memory for reads below the local log start.</summary>
    public long ReadCacheBytes { get; set; } = 128L << 20;

    /// <summary>Size of one ranged read from a tiered segment (and of one cache entry).</summary>
    public int ReadChunkBytes { get; set; } = 1 << 20;

    internal AzureBlobTierStoreSettings ToAzureSettings() => new()
    {
        Container = Container,
        ServiceUri = ServiceUri,
        ConnectionString = ConnectionString,
        ManagedIdentityClientId = ManagedIdentityClientId,
    };
}

public sealed class TierStoreOptionsValidator : IValidateOptions<TierStoreOptions>
{
    public ValidateOptionsResult Validate(string? name, TierStoreOptions options)
    {
        List<string>? failures = null;
        void Fail(string message) => (failures ??= []).Add(message);

        if (!Enum.IsDefined(options.Kind))
            Fail($"{TierStoreOptions.SectionName}:Kind must be Folder or AzureBlob, not '{options.Kind}'.");
        if (options.Kind == TierStoreKind.AzureBlob)
        {
            if (string.IsNullOrWhiteSpace(options.ConnectionString) == (options.ServiceUri is null))
                Fail($"{TierStoreOptions.SectionName}: set exactly one of ConnectionString or ServiceUri for Kind=AzureBlob.");
            if (options.ServiceUri is { IsAbsoluteUri: false })
                Fail($"{TierStoreOptions.SectionName}:ServiceUri must be an absolute URI.");
            if (!IsContainerName(options.Container))
                Fail($"{TierStoreOptions.SectionName}:Container '{options.Container}' is not a valid blob container name (3-63 lowercase letters, digits, dashes).");
        }
        if (options.Directory is { Length: > 0 } dir && dir.IndexOfAny(Path.GetInvalidPathChars()) >= 0)
            Fail($"{TierStoreOptions.SectionName}:Directory '{dir}' is not a valid path.");
        if (options.TaskIntervalMs < 1)
            Fail($"{TierStoreOptions.SectionName}:TaskIntervalMs must be positive, not {options.TaskIntervalMs}.");
        if (options.RemoteCompactionIntervalMs < 1)
            Fail($"{TierStoreOptions.SectionName}:RemoteCompactionIntervalMs must be positive, not {options.RemoteCompactionIntervalMs}.");
        if (options.ReadChunkBytes < 4096)
            Fail($"{TierStoreOptions.SectionName}:ReadChunkBytes must be at least 4096, not {options.ReadChunkBytes}.");
        if (options.ReadCacheBytes < options.ReadChunkBytes)
            Fail($"{TierStoreOptions.SectionName}:ReadCacheBytes must hold at least one chunk ({options.ReadChunkBytes}), not {options.ReadCacheBytes}.");
        return failures is null ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    private static bool IsContainerName(string? c)
    {
        if (c is null || c.Length is < 3 or > 63 || c[0] == '-' || c[^1] == '-' || c.Contains("--", StringComparison.Ordinal)) return false;
        foreach (var ch in c)
            if (!(char.IsAsciiLetterLower(ch) || char.IsAsciiDigit(ch) || ch == '-')) return false;
        return true;
    }
}
