using Azure.Core;
using Azure.Identity;
using Azure.Storage.Blobs;
using Orleans.Runtime;
using Orleans.Storage;

namespace OrleansStream.Server.Persistence;

/// <summary>
/// Grain state in Azure Blob Storage, one JSON blob per grain. Connect with <see cref="ConnectionString"/> (development,
/// Azurite) or <see cref="ServiceUri"/> and <see cref="DefaultAzureCredential"/> (production; <see cref="ManagedIdentityClientId"/>
/// selects a user-assigned managed identity).
/// </summary>
public sealed class AzureBlobGrainStorageOptions : IStorageProviderSerializerOptions
{
    public const string DefaultContainerName = "grainstate";

    public string ContainerName { get; set; } = DefaultContainerName;

    public string? ConnectionString { get; set; }

    public Uri? ServiceUri { get; set; }

    public string? ManagedIdentityClientId { get; set; }

    /// <summary>Delete the blob on ClearStateAsync rather than writing an empty one (which keeps the ETag chain).</summary>
    public bool DeleteStateOnClear { get; set; }

    /// <summary>The silo lifecycle stage at which the container is created.</summary>
    public int InitStage { get; set; } = ServiceLifecycleStage.ApplicationServices;

    public IGrainStorageSerializer GrainStorageSerializer { get; set; } = null!;

    internal BlobServiceClient CreateClient()
    {
        var options = new BlobClientOptions
        {
            Retry = { Mode = RetryMode.Exponential, MaxRetries = 4, Delay = TimeSpan.FromMilliseconds(200), MaxDelay = TimeSpan.FromSeconds(5) },
        };
        if (!string.IsNullOrWhiteSpace(ConnectionString))
            return new BlobServiceClient(ConnectionString, options);
        var credential = new DefaultAzureCredential(new DefaultAzureCredentialOptions { ManagedIdentityClientId = ManagedIdentityClientId });
        return new BlobServiceClient(ServiceUri, credential, options);
    }
}

/// <summary>Fails silo start-up on a storage configuration that cannot work.</summary>
public sealed class AzureBlobGrainStorageOptionsValidator(AzureBlobGrainStorageOptions options, string name) : IConfigurationValidator
{
    public void ValidateConfiguration()
    {
        if (string.IsNullOrWhiteSpace(options.ConnectionString) == (options.ServiceUri is null))
            throw new OrleansConfigurationException(
                $"Grain storage '{name}': set exactly one of {nameof(options.ConnectionString)} or {nameof(options.ServiceUri)}.");
        // Azure container names: 3-63 characters, lowercase letters, digits and single dashes.
        var c = options.ContainerName;
        if (string.IsNullOrEmpty(c) || c.Length is < 3 or > 63 || c.StartsWith('-') || c.EndsWith('-') || c.Contains("--", StringComparison.Ordinal))
            throw new OrleansConfigurationException($"Grain storage '{name}': '{c}' is not a valid blob container name.");
        foreach (var ch in c)
            if (!(char.IsAsciiLetterLower(ch) || char.IsAsciiDigit(ch) || ch == '-'))
                throw new OrleansConfigurationException($"Grain storage '{name}': '{c}' is not a valid blob container name.");
    }
}
