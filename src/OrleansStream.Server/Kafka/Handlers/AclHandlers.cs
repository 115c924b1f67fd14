using OrleansStream.Protocol;
using OrleansStream.Protocol.Messages;
using OrleansStream.Server.Controller;
using OrleansStream.Server.Security.Authorization;

namespace OrleansStream.Server.Kafka.Handlers;

/// <summary>
/// DescribeAcls, CreateAcls and DeleteAcls v1-3 (Kafka's <c>AclApis</c>). Without an authorizer
/// (<c>OrleansStream:Authorizer:Enabled</c> false, Kafka's default) they answer <c>SecurityDisabled</c> (54), as a Kafka
/// cluster without one does: admin tools (kafka-acls.sh, UIs) tell that state apart from a broker without the API. With
/// one, changes go to the controller, which stores the bindings, and the broker that forwarded them reloads its own
/// copy before it answers, so the client that made a change sees it on this broker at once; the other brokers follow
/// within a second (<see cref="MetadataCache.PollInterval"/>), as Kafka's brokers follow the metadata log.
/// </summary>
internal static class AclApis
{
    /// <summary>Kafka's message for DescribeAcls (the broker's) and for Create/DeleteAcls (the controller's).</summary>
    public const string BrokerMessage = "No Authorizer is configured on the broker";
    public const string ControllerMessage = "No Authorizer is configured.";

    public static AclSpec ToSpec(AclBinding b) =>
        new((sbyte)b.ResourceType, b.ResourceName, (sbyte)b.PatternType, b.Principal, b.Host, (sbyte)b.Operation, (sbyte)b.Permission);

    public static AclBinding ToBinding(AclSpec s) =>
        new((AclResourceType)s.ResourceType, s.ResourceName ?? "", (AclPatternType)s.PatternType, s.Principal ?? "", s.Host ?? "",
            (AclOperation)s.Operation, (AclPermissionType)s.PermissionType);

    public static AclBindingFilter ToFilter(AclSpec s) =>
        new((AclResourceType)s.ResourceType, s.ResourceName, (AclPatternType)s.PatternType, s.Principal, s.Host,
            (AclOperation)s.Operation, (AclPermissionType)s.PermissionType);

    public static IControllerInternalGrain ControllerInternal(this IGrainFactory grains) =>
        grains.GetGrain<IControllerInternalGrain>(GrainKeys.Controller);
}

/// <summary>DescribeAcls: the bindings matching the filter, from this broker's authorizer; DESCRIBE on the cluster.</summary>
internal sealed class DescribeAclsHandler(KafkaAuthorizer authorizer, MetadataCache metadata)
    : KafkaApiHandler<DescribeAclsRequest>(ApiKey.DescribeAcls, DescribeAclsRequest.Read)
{
    protected override async ValueTask<bool> AnswerAsync(DescribeAclsRequest body, KafkaRequest request, KafkaWriter response)
    {
        if (!authorizer.IsEnabled)
        {
            new DescribeAclsResponse(ErrorCode.SecurityDisabled, AclApis.BrokerMessage).Write(response, request.Version);
            return true;
        }
        if (!request.IsAllowedOnCluster(authorizer, AclOperation.Describe))
        {
            new DescribeAclsResponse(ErrorCode.ClusterAuthorizationFailed, AuthorizationMessages.ClusterOperation(AclOperation.Describe)).Write(response, request.Version);
            return true;
        }
        var filter = AclApis.ToFilter(body.Filter);
        if (filter.Validate() is { } invalid)
        {
            new DescribeAclsResponse(ErrorCode.InvalidRequest, invalid).Write(response, request.Version);
            return true;
        }
        // The controller's latest, where it answers: a client that just changed ACLs through another broker sees them.
        await metadata.CatchUpAsync();
        var matching = new List<AclSpec>();
        foreach (var binding in authorizer.Bindings)
            if (filter.Matches(binding)) matching.Add(AclApis.ToSpec(binding));
        new DescribeAclsResponse(ErrorCode.None, null, matching).Write(response, request.Version);
        return true;
    }
}

/// <summary>CreateAcls: ALTER on the cluster; the controller stores every valid binding in one write.</summary>
internal sealed class CreateAclsHandler(KafkaAuthorizer authorizer, MetadataCache metadata, IGrainFactory grains)
    : KafkaApiHandler<CreateAclsRequest>(ApiKey.CreateAcls, CreateAclsRequest.Read)
{
    protected override async ValueTask<bool> AnswerAsync(CreateAclsRequest body, KafkaRequest request, KafkaWriter response)
    {
        if (!authorizer.IsEnabled)
        {
            new CreateAclsResponse(body.Creations.Length, ErrorCode.SecurityDisabled, AclApis.ControllerMessage).Write(response, request.Version);
            return true;
        }
        if (!request.IsAllowedOnCluster(authorizer, AclOperation.Alter))
        {
            new CreateAclsResponse(body.Creations.Length, ErrorCode.ClusterAuthorizationFailed, AuthorizationMessages.ClusterOperation(AclOperation.Alter)).Write(response, request.Version);
            return true;
        }
        var bindings = new AclBinding[body.Creations.Length];
        for (var i = 0; i < bindings.Length; i++) bindings[i] = AclApis.ToBinding(body.Creations[i]);
        var answers = bindings.Length == 0 ? [] : await ControllerCalls.UnlessUnreachableAsync(grains.ControllerInternal().CreateAcls(bindings));
        if (answers is null)
        {
            new CreateAclsResponse(bindings.Length, ErrorCode.RequestTimedOut, ControllerCalls.ControllerDidNotAnswer).Write(response, request.Version);
            return true;
        }
        await metadata.CatchUpAsync();
        var results = new AclResult[answers.Count];
        for (var i = 0; i < results.Length; i++) results[i] = new AclResult(answers[i].Error, answers[i].Message);
        new CreateAclsResponse(results).Write(response, request.Version);
        return true;
    }
}

/// <summary>DeleteAcls: ALTER on the cluster; the controller removes what each filter matches, in one write.</summary>
internal sealed class DeleteAclsHandler(KafkaAuthorizer authorizer, MetadataCache metadata, IGrainFactory grains)
    : KafkaApiHandler<DeleteAclsRequest>(ApiKey.DeleteAcls, DeleteAclsRequest.Read)
{
    protected override async ValueTask<bool> AnswerAsync(DeleteAclsRequest body, KafkaRequest request, KafkaWriter response)
    {
        if (!authorizer.IsEnabled)
        {
            new DeleteAclsResponse(body.Filters.Length, ErrorCode.SecurityDisabled, AclApis.ControllerMessage).Write(response, request.Version);
            return true;
        }
        if (!request.IsAllowedOnCluster(authorizer, AclOperation.Alter))
        {
            new DeleteAclsResponse(body.Filters.Length, ErrorCode.ClusterAuthorizationFailed, AuthorizationMessages.ClusterOperation(AclOperation.Alter)).Write(response, request.Version);
            return true;
        }
        var filters = new AclBindingFilter[body.Filters.Length];
        for (var i = 0; i < filters.Length; i++) filters[i] = AclApis.ToFilter(body.Filters[i]);
        var answers = filters.Length == 0 ? [] : await ControllerCalls.UnlessUnreachableAsync(grains.ControllerInternal().DeleteAcls(filters));
        if (answers is null)
        {
            new DeleteAclsResponse(filters.Length, ErrorCode.RequestTimedOut, ControllerCalls.ControllerDidNotAnswer).Write(response, request.Version);
            return true;
        }
        await metadata.CatchUpAsync();
        var results = new AclResult[answers.Count];
        for (var i = 0; i < results.Length; i++)
        {
            var deleted = answers[i].Deleted ?? [];
            var matching = new AclSpec[deleted.Count];
            for (var j = 0; j < matching.Length; j++) matching[j] = AclApis.ToSpec(deleted[j]);
            results[i] = new AclResult(answers[i].Error, answers[i].Message, matching);
        }
        new DeleteAclsResponse(results).Write(response, request.Version);
        return true;
    }
}
