using System.Text.RegularExpressions;
using OrleansStream.Protocol;
using OrleansStream.Protocol.Messages;

namespace OrleansStream.Server.Kafka.Handlers;

/// <summary>
/// ApiVersions: the versions table. Kafka's rule for a version it does not know: answer in the v0 layout with
/// UnsupportedVersion and the list (the client picks a version both know), and keep the connection. From v3 the
/// client names its software (KIP-511); a name or version Kafka's pattern refuses is answered InvalidRequest with no
/// list, as Kafka's ApiVersionsRequest.isValid decides, and the connection stays open. From v3 the features: what
/// <see cref="FinalizedFeatures"/> holds (<c>transaction.version</c>: a Kafka 4 client runs transactions v2, KIP-890
/// part 2, when it is finalized at 2; the broker serves both transaction versions whatever it finalizes, as Kafka does).
/// </summary>
internal sealed partial class ApiVersionsHandler(FinalizedFeatures features, ApiVersionManager advertised) : IKafkaApiHandler
{
    public ApiKey ApiKey => ApiKey.ApiVersions;

    public ValueTask<bool> HandleAsync(KafkaRequest request, KafkaWriter response)
    {
        if (!ApiVersionsTable.IsSupported(ApiKey.ApiVersions, request.Version))
        {
            ApiVersionsResponse.Write(response, 0, ErrorCode.UnsupportedVersion, advertised.Apis);
            return ValueTask.FromResult(true);
        }
        var reader = request.Reader();
        var body = ApiVersionsRequest.Read(ref reader, request.Version);
        if (request.Version >= 3 && !(IsValidSoftware(body.ClientSoftwareName) && IsValidSoftware(body.ClientSoftwareVersion)))
        {
            ApiVersionsResponse.Write(response, request.Version, ErrorCode.InvalidRequest, []);
            return ValueTask.FromResult(true);
        }
        if (body.ClientSoftwareName is { } name)
        {
            request.Connection.ClientSoftware = $"{name} {body.ClientSoftwareVersion}";
            (request.Connection.ClientSoftwareName, request.Connection.ClientSoftwareVersion) = (name, body.ClientSoftwareVersion);
        }
        ApiVersionsResponse.Write(response, request.Version, ErrorCode.None, advertised.Apis, features.Current);
        return ValueTask.FromResult(true);
    }

    private static bool IsValidSoftware(string? text) => text is not null && SoftwareNameOrVersion().IsMatch(text);

    /// <summary>Kafka's SOFTWARE_NAME_VERSION_PATTERN, matched against the whole text.</summary>
    [GeneratedRegex(@"^[a-zA-Z0-9](?:[a-zA-Z0-9\-.]*[a-zA-Z0-9])?\z")]
    private static partial Regex SoftwareNameOrVersion();
}
