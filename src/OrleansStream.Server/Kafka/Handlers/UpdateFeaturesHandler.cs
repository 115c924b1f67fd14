using OrleansStream.Protocol;
using OrleansStream.Protocol.Messages;
using OrleansStream.Server.Controller;
using OrleansStream.Server.Security.Authorization;

namespace OrleansStream.Server.Kafka.Handlers;

/// <summary>
/// UpdateFeatures v0-2 (KIP-584; kafka-features.sh <c>upgrade</c>/<c>downgrade --feature transaction.version=1</c>, the
/// admin clients' updateFeatures): ALTER on the cluster when the authorizer is on (else ClusterAuthorizationFailed for
/// the request). The controller checks every update as Kafka's FeatureControlManager and stores them together with the
/// finalized features epoch moved, or none (InvalidUpdateVersion, nothing stored; nothing either when validate_only).
/// The broker that forwarded them answers ApiVersions with the new levels before it answers, the others within a
/// second. The request's timeout is not used: the controller answers or the call fails (RequestTimedOut).
/// </summary>
internal sealed class UpdateFeaturesHandler(KafkaAuthorizer authorizer, MetadataCache metadata, IGrainFactory grains)
    : KafkaApiHandler<UpdateFeaturesRequest>(ApiKey.UpdateFeatures, UpdateFeaturesRequest.Read)
{
    protected override async ValueTask<bool> AnswerAsync(UpdateFeaturesRequest body, KafkaRequest request, KafkaWriter response)
    {
        var features = new List<string>(body.Updates.Length);
        foreach (var u in body.Updates) features.Add(u.Feature);
        if (!request.IsAllowedOnCluster(authorizer, AclOperation.Alter))
        {
            new UpdateFeaturesResponse(ErrorCode.ClusterAuthorizationFailed, AuthorizationMessages.Cluster, features).Write(response, request.Version);
            return true;
        }
        var updates = new List<FeatureLevelUpdate>(body.Updates.Length);
        foreach (var u in body.Updates) updates.Add(new FeatureLevelUpdate(u.Feature, u.MaxVersionLevel, (sbyte)u.UpgradeType));
        var stored = await ControllerCalls.UnlessUnreachableAsync(grains.ControllerInternal().UpdateFeatures(updates, body.ValidateOnly));
        var (error, message) = stored is null ? (ErrorCode.RequestTimedOut, ControllerCalls.ControllerDidNotAnswer) : (stored.Error, stored.Message);
        if (error == ErrorCode.None && !body.ValidateOnly) await metadata.CatchUpAsync();
        new UpdateFeaturesResponse(error, message, features).Write(response, request.Version);
        return true;
    }
}
