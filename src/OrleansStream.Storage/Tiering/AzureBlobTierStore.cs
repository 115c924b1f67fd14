using System.Runtime.CompilerServices;
using Azure;
using Azure.Core;
using Azure.Identity;
using Azure.Storage;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;

namespace OrleansStream.Storage.Tiering;

/// <summary>How to reach the tier container: a connection string (development, Azurite) or a service URI with
/// <see cref="DefaultAzureCredential"/> (production; <see cref="ManagedIdentityClientId"/> picks a user-assigned identity).</summary>
public sealed class AzureBlobTierStoreSettings
{
    public string Container { get; set; } = "orleansstream-tier";

    public string? ConnectionString { get; set; }

    public Uri? ServiceUri { get; set; }

    public string? ManagedIdentityClientId { get; set; }

    /// <summary>Azure SDK retries per request (exponential back-off from <see cref="RetryDelay"/> up to <see cref="MaxRetryDelay"/>).</summary>
    public int MaxRetries { get; set; } = 4;

    public TimeSpan RetryDelay { get; set; } = TimeSpan.FromMilliseconds(200);

    public TimeSpan MaxRetryDelay { get; set; } = TimeSpan.FromSeconds(5);

    public TimeSpan NetworkTimeout { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>Block size of segment uploads; blocks go up in parallel.</summary>
    public int UploadBlockBytes { get; set; } = 8 << 20;

    public int UploadConcurrency { get; set; } = 4;

    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(Container))
            throw new OrleansStreamException(ErrorCode.InvalidConfig, "The tier container name is empty.");
        if (string.IsNullOrWhiteSpace(ConnectionString) == (ServiceUri is null))
            throw new OrleansStreamException(ErrorCode.InvalidConfig, "Set exactly one of ConnectionString or ServiceUri for the Azure Blob tier store.");
        if (MaxRetries < 0 || UploadBlockBytes < 64 * 1024 || UploadConcurrency < 1)
            throw new OrleansStreamException(ErrorCode.InvalidConfig, "Azure Blob tier store retry or upload settings are out of range.");
    }

    public BlobServiceClient CreateServiceClient()
    {
        Validate();
        var options = new BlobClientOptions
        {
            Retry =
            {
                Mode = RetryMode.Exponential,
                MaxRetries = MaxRetries,
                Delay = RetryDelay,
                MaxDelay = MaxRetryDelay,
                NetworkTimeout = NetworkTimeout,
            },
        };
        if (!string.IsNullOrWhiteSpace(ConnectionString))
            return new BlobServiceClient(ConnectionString, options);
        var credential = new DefaultAzureCredential(new DefaultAzureCredentialOptions { ManagedIdentityClientId = ManagedIdentityClientId });
        return new BlobServiceClient(ServiceUri, credential, options);
    }
}

/// <summary>
/// The tier on Azure Blob Storage: every object is a block blob in one container. Uploads are create-only
/// (If-None-Match: *), so a retried upload after an ambiguous failure never replaces or duplicates a segment.
/// </summary>
public sealed class AzureBlobTierStore : ITierStore
{
    private readonly BlobContainerClient _container;
    private readonly StorageTransferOptions _transfer;
    private volatile bool _containerReady;

    public AzureBlobTierStore(AzureBlobTierStoreSettings settings)
        : this(settings.CreateServiceClient().GetBlobContainerClient(settings.Container), settings)
    {
    }

    public AzureBlobTierStore(BlobContainerClient container, AzureBlobTierStoreSettings? settings = null)
    {
        _container = container;
        settings ??= new AzureBlobTierStoreSettings();
        _transfer = new StorageTransferOptions
        {
            InitialTransferSize = settings.UploadBlockBytes,
            MaximumTransferSize = settings.UploadBlockBytes,
            MaximumConcurrency = settings.UploadConcurrency,
        };
    }

    public BlobContainerClient Container => _container;

    public async Task<bool> UploadAsync(string key, Stream content, CancellationToken cancellationToken = default)
    {
        await EnsureContainerAsync(cancellationToken).ConfigureAwait(false);
        var options = new BlobUploadOptions
        {
            Conditions = new BlobRequestConditions { IfNoneMatch = ETag.All },
            TransferOptions = _transfer,
        };
        try
        {
            await _container.GetBlobClient(key).UploadAsync(content, options, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (RequestFailedException e) when (e.Status is 409 or 412)
        {
            return false;
        }
        catch (RequestFailedException e) when (e.ErrorCode == BlobErrorCode.ContainerNotFound)
        {
            _containerReady = false; // deleted under us: recreate on the next attempt
            throw;
        }
    }

    public async Task<int> ReadAsync(string key, long position, Memory<byte> destination, CancellationToken cancellationToken = default)
    {
        if (destination.IsEmpty) return 0;
        Response<BlobDownloadStreamingResult> response;
        try
        {
            response = await _container.GetBlobClient(key).DownloadStreamingAsync(
                new BlobDownloadOptions { Range = new HttpRange(position, destination.Length) }, cancellationToken).ConfigureAwait(false);
        }
        catch (RequestFailedException e) when (e.Status == 404)
        {
            throw new TierObjectNotFoundException(key, e);
        }
        catch (RequestFailedException e) when (e.Status == 416)
        {
            return 0;
        }
        using var result = response.Value;
        var total = 0;
        while (total < destination.Length)
        {
            var n = await result.Content.ReadAsync(destination[total..], cancellationToken).ConfigureAwait(false);
            if (n == 0) break;
            total += n;
        }
        return total;
    }

    public async Task<TierObject?> GetAsync(string key, CancellationToken cancellationToken = default)
    {
        try
        {
            var response = await _container.GetBlobClient(key).DownloadContentAsync(cancellationToken).ConfigureAwait(false);
            return new TierObject(response.Value.Content.ToMemory(), response.Value.Details.ETag.ToString());
        }
        catch (RequestFailedException e) when (e.Status == 404)
        {
            return null;
        }
    }

    public async Task<string> WriteConditionalAsync(string key, ReadOnlyMemory<byte> content, string? ifMatch, CancellationToken cancellationToken = default)
    {
        await EnsureContainerAsync(cancellationToken).ConfigureAwait(false);
        var options = new BlobUploadOptions
        {
            Conditions = ifMatch is null
                ? new BlobRequestConditions { IfNoneMatch = ETag.All }
                : new BlobRequestConditions { IfMatch = new ETag(ifMatch) },
        };
        try
        {
            var response = await _container.GetBlobClient(key).UploadAsync(new BinaryData(content), options, cancellationToken).ConfigureAwait(false);
            return response.Value.ETag.ToString();
        }
        catch (RequestFailedException e) when (e.ErrorCode == BlobErrorCode.ContainerNotFound)
        {
            _containerReady = false;
            throw;
        }
        catch (RequestFailedException e) when (e.Status is 409 or 412 || (e.Status == 404 && ifMatch is not null))
        {
            throw new TierConditionFailedException(key, e);
        }
    }

    public async Task<bool> DeleteAsync(string key, CancellationToken cancellationToken = default)
    {
        try
        {
            var response = await _container.GetBlobClient(key).DeleteIfExistsAsync(DeleteSnapshotsOption.IncludeSnapshots, cancellationToken: cancellationToken).ConfigureAwait(false);
            return response.Value;
        }
        catch (RequestFailedException e) when (e.Status == 404)
        {
            return false;
        }
    }

    public async IAsyncEnumerable<TierObjectInfo> ListAsync(string prefix, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var pages = _container.GetBlobsAsync(new GetBlobsOptions { Prefix = prefix }, cancellationToken);
        IAsyncEnumerator<BlobItem> e;
        try
        {
            e = pages.GetAsyncEnumerator(cancellationToken);
        }
        catch (RequestFailedException ex) when (ex.Status == 404)
        {
            yield break;
        }
        await using (e.ConfigureAwait(false))
        {
            while (true)
            {
                bool more;
                try
                {
                    more = await e.MoveNextAsync().ConfigureAwait(false);
                }
                catch (RequestFailedException ex) when (ex.Status == 404)
                {
                    yield break;
                }
                if (!more) yield break;
                yield return new TierObjectInfo(e.Current.Name, e.Current.Properties.ContentLength ?? 0);
            }
        }
    }

    private async ValueTask EnsureContainerAsync(CancellationToken cancellationToken)
    {
        if (_containerReady) return;
        await _container.CreateIfNotExistsAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
        _containerReady = true;
    }
}
