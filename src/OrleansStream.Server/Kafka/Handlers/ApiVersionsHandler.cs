using OrleansStream.Protocol;
using OrleansStream.Protocol.Messages;

namespace OrleansStream.Server.Kafka.Handlers;

/// <summary>
/// ApiVersions: the versions table. Kafka's rule for a version it does not know: answer in the v0 layout with
/// UnsupportedVersion and the list (the client picks a version both know), and keep the connection.
/// </summary>
internal sealed class ApiVersionsHandler : IKafkaApiHandler
{
    public ApiKey ApiKey => ApiKey.ApiVersions;

    public ValueTask<bool> HandleAsync(KafkaRequest request, KafkaWriter response)
    {
        if (!ApiVersionsTable.IsSupported(ApiKey.ApiVersions, request.Version))
        {
            ApiVersionsResponse.Write(response, 0, ErrorCode.UnsupportedVersion, ApiVersionsTable.Advertised);
            return ValueTask.FromResult(true);
        }
        var reader = request.Reader();
        var body = ApiVersionsRequest.Read(ref reader, request.Version);
        if (body.ClientSoftwareName is { } name) request.Connection.ClientSoftware = $"{name} {body.ClientSoftwareVersion}";
        ApiVersionsResponse.Write(response, request.Version, ErrorCode.None, ApiVersionsTable.Advertised);
        return ValueTask.FromResult(true);
    }
}
