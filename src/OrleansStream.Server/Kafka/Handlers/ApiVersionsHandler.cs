using System.Text.RegularExpressions;
using Microsoft.Extensions.Options;
using OrleansStream.Protocol;
using OrleansStream.Protocol.Messages;
using OrleansStream.Server.Transactions;

namespace OrleansStream.Server.Kafka.Handlers;

/// <summary>
/// ApiVersions: the versions table. Kafka's rule for a version it does not know: answer in the v0 layout with
/// UnsupportedVersion and the list (the client picks a version both know), and keep the connection. From v3 the
/// client names its software (KIP-511); a name or version Kafka's pattern refuses is answered InvalidRequest with no
/// list, as Kafka's ApiVersionsRequest.isValid decides, and the connection stays open. The features answered are
/// <c>transaction.version</c>'s: supported 0-2, finalized at the broker's setting (a Kafka 4 client runs transactions v2,
/// KIP-890 part 2, when it is finalized at 2). The level is a broker setting read at start, the same on every broker,
/// so its epoch is fixed: a client connected before a change of the setting keeps the level it saw (the broker serves
/// both transaction versions whatever it finalizes, as Kafka does).
/// </summary>
internal sealed partial class ApiVersionsHandler(IOptions<TransactionCoordinatorOptions> options) : IKafkaApiHandler
{
    /// <summary>Kafka's feature name for the transaction protocol's version (KIP-890 part 2, KIP-1022).</summary>
    public const string TransactionVersionFeature = "transaction.version";

    /// <summary>The finalized features' epoch: fixed, as the levels are broker settings (see the class comment).</summary>
    public const long FinalizedFeaturesEpoch = 0;

    private readonly BrokerFeatures _features = new(
        [new SupportedFeature(TransactionVersionFeature, 0, TransactionCoordinatorOptions.MaxTransactionVersion)],
        FinalizedFeaturesEpoch,
        [new FinalizedFeature(TransactionVersionFeature, options.Value.TransactionVersion)]);

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
        if (request.Version >= 3 && !(IsValidSoftware(body.ClientSoftwareName) && IsValidSoftware(body.ClientSoftwareVersion)))
        {
            ApiVersionsResponse.Write(response, request.Version, ErrorCode.InvalidRequest, []);
            return ValueTask.FromResult(true);
        }
        if (body.ClientSoftwareName is { } name) request.Connection.ClientSoftware = $"{name} {body.ClientSoftwareVersion}";
        ApiVersionsResponse.Write(response, request.Version, ErrorCode.None, ApiVersionsTable.Advertised, _features);
        return ValueTask.FromResult(true);
    }

    private static bool IsValidSoftware(string? text) => text is not null && SoftwareNameOrVersion().IsMatch(text);

    /// <summary>Kafka's SOFTWARE_NAME_VERSION_PATTERN, matched against the whole text.</summary>
    [GeneratedRegex(@"^[a-zA-Z0-9](?:[a-zA-Z0-9\-.]*[a-zA-Z0-9])?\z")]
    private static partial Regex SoftwareNameOrVersion();
}
