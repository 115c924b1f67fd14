using Azure.Data.Tables;
using Azure.Identity;
using Azure.Storage.Blobs;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Clustering.AzureStorage;
using Orleans.Configuration;

namespace Orleans.Hosting;

/// <summary>
/// Managed identity for Orleans' Azure Storage providers selected from configuration. Their provider builders take a
/// <c>ConnectionString</c> (keys, Azurite) or a <c>ServiceKey</c>; a deployment without keys sets <c>ServiceUri</c> (and
/// optionally <c>ManagedIdentityClientId</c>, a user-assigned identity) beside <c>ProviderType</c>, and this connects
/// with <see cref="DefaultAzureCredential"/>:
/// <c>Orleans:GrainStorage:{name}</c> with ProviderType <c>AzureBlobStorage</c>, and <c>Orleans:Clustering</c> with
/// ProviderType <c>AzureTableStorage</c>.
/// </summary>
public static class AzureStorageIdentity
{
    public const string BlobProviderType = "AzureBlobStorage";
    public const string TableProviderType = "AzureTableStorage";

    public static ISiloBuilder AddAzureStorageIdentity(this ISiloBuilder builder)
    {
        var configuration = builder.Configuration;
        foreach (var storage in configuration.GetSection("Orleans:GrainStorage").GetChildren())
        {
            if (ServiceUriOf(storage, BlobProviderType) is not { } uri) continue;
            var credential = CredentialOf(storage);
            builder.Services.AddOptions<AzureBlobStorageOptions>(storage.Key)
                .PostConfigure(o => o.BlobServiceClient = new BlobServiceClient(uri, credential, o.ClientOptions));
        }
        if (ServiceUriOf(configuration.GetSection("Orleans:Clustering"), TableProviderType) is { } tableUri)
        {
            var credential = CredentialOf(configuration.GetSection("Orleans:Clustering"));
            builder.Services.AddOptions<AzureStorageClusteringOptions>()
                .PostConfigure(o => o.TableServiceClient = new TableServiceClient(tableUri, credential, o.ClientOptions));
        }
        return builder;
    }

    private static Uri? ServiceUriOf(IConfigurationSection section, string providerType)
    {
        if (!string.Equals(section["ProviderType"], providerType, StringComparison.Ordinal)) return null;
        var text = section["ServiceUri"];
        if (string.IsNullOrEmpty(text)) return null;
        if (!string.IsNullOrEmpty(section["ConnectionString"]))
            throw new OrleansConfigurationException($"{section.Path}: set ConnectionString or ServiceUri, not both.");
        return Uri.TryCreate(text, UriKind.Absolute, out var uri)
            ? uri
            : throw new OrleansConfigurationException($"{section.Path}:ServiceUri must be an absolute URI, not '{text}'.");
    }

    private static DefaultAzureCredential CredentialOf(IConfigurationSection section)
        => new(new DefaultAzureCredentialOptions { ManagedIdentityClientId = section["ManagedIdentityClientId"] });
}
