using Azure;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Runtime;
using Orleans.Serialization.Serializers;
using Orleans.Storage;

namespace OrleansStream.Server.Persistence;

/// <summary>
/// <see cref="IGrainStorage"/> on Azure Blob Storage with Orleans' blob naming (<c>{stateName}-{grainId}.json</c>) and
/// ETag semantics: the first write creates with If-None-Match: *, later writes and clears carry If-Match, and a
/// 409/412 (someone else wrote first) surfaces as <see cref="InconsistentStateException"/>.
/// </summary>
public sealed partial class AzureBlobGrainStorage(
    string name,
    AzureBlobGrainStorageOptions options,
    IActivatorProvider activatorProvider,
    ILogger<AzureBlobGrainStorage> logger) : IGrainStorage, ILifecycleParticipant<ISiloLifecycle>
{
    private const string ContentType = "application/json";
    private BlobContainerClient? _container;

    public static string BlobName(string stateName, GrainId grainId) => $"{stateName}-{grainId}.json";

    public async Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        var blob = Container.GetBlobClient(BlobName(stateName, grainId));
        try
        {
            var response = await blob.DownloadContentAsync().ConfigureAwait(false);
            var content = response.Value.Content;
            var loaded = content is null || content.ToMemory().IsEmpty ? default : options.GrainStorageSerializer.Deserialize<T>(content);
            grainState.ETag = response.Value.Details.ETag.ToString();
            grainState.State = loaded ?? Create<T>();
            grainState.RecordExists = loaded is not null;
        }
        catch (RequestFailedException e) when (e.Status == 404)
        {
            grainState.ETag = null;
            grainState.RecordExists = false;
            grainState.State = Create<T>();
        }
    }

    public async Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        var blob = Container.GetBlobClient(BlobName(stateName, grainId));
        var upload = new BlobUploadOptions
        {
            HttpHeaders = new BlobHttpHeaders { ContentType = ContentType },
            Conditions = ConditionsFor(grainState.ETag),
        };
        var contents = options.GrainStorageSerializer.Serialize(grainState.State);
        var response = await Optimistic(blob, grainState.ETag, () => blob.UploadAsync(contents, upload)).ConfigureAwait(false);
        grainState.ETag = response.Value.ETag.ToString();
        grainState.RecordExists = true;
        LogWritten(name, blob.Name, grainState.ETag);
    }

    public async Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        var blob = Container.GetBlobClient(BlobName(stateName, grainId));
        var conditions = ConditionsFor(grainState.ETag);
        if (options.DeleteStateOnClear)
        {
            await Optimistic(blob, grainState.ETag, () => blob.DeleteIfExistsAsync(DeleteSnapshotsOption.IncludeSnapshots, conditions)).ConfigureAwait(false);
            grainState.ETag = null;
        }
        else
        {
            var upload = new BlobUploadOptions { HttpHeaders = new BlobHttpHeaders { ContentType = ContentType }, Conditions = conditions };
            var response = await Optimistic(blob, grainState.ETag, () => blob.UploadAsync(BinaryData.Empty, upload)).ConfigureAwait(false);
            grainState.ETag = response.Value.ETag.ToString();
        }
        grainState.RecordExists = false;
        grainState.State = Create<T>();
    }

    public void Participate(ISiloLifecycle lifecycle)
        => lifecycle.Subscribe($"{nameof(AzureBlobGrainStorage)}-{name}", options.InitStage, InitAsync);

    private async Task InitAsync(CancellationToken cancellationToken)
    {
        var container = options.CreateClient().GetBlobContainerClient(options.ContainerName);
        await container.CreateIfNotExistsAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
        _container = container;
        LogInitialized(name, container.Uri);
    }

    private BlobContainerClient Container
        => _container ?? throw new InvalidOperationException($"Grain storage '{name}' is used before the silo initialised it.");

    private static BlobRequestConditions ConditionsFor(string? etag)
        => string.IsNullOrEmpty(etag) ? new BlobRequestConditions { IfNoneMatch = ETag.All } : new BlobRequestConditions { IfMatch = new ETag(etag) };

    private static async Task<TResult> Optimistic<TResult>(BlobClient blob, string? currentETag, Func<Task<TResult>> operation)
    {
        try
        {
            return await operation().ConfigureAwait(false);
        }
        catch (RequestFailedException e) when (e.Status is 409 or 412 || (e.Status == 404 && !string.IsNullOrEmpty(currentETag)))
        {
            throw new InconsistentStateException(
                $"Blob '{blob.Name}' in container '{blob.BlobContainerName}' changed since it was read (status {e.Status}).", "Unknown", currentETag ?? "None", e);
        }
    }

    private T Create<T>() => activatorProvider.GetActivator<T>().Create();

    [LoggerMessage(Level = LogLevel.Information, Message = "Grain storage {Name} uses blob container {Container}")]
    private partial void LogInitialized(string name, Uri container);

    [LoggerMessage(Level = LogLevel.Trace, Message = "Grain storage {Name} wrote {Blob} (ETag {ETag})")]
    private partial void LogWritten(string name, string blob, string? etag);

    internal static AzureBlobGrainStorage Create(IServiceProvider services, string name)
        => ActivatorUtilities.CreateInstance<AzureBlobGrainStorage>(
            services, name, services.GetRequiredService<IOptionsMonitor<AzureBlobGrainStorageOptions>>().Get(name));
}
