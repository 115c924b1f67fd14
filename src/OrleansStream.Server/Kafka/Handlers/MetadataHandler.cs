using OrleansStream.Protocol;
using OrleansStream.Protocol.Messages;
using Microsoft.Extensions.Options;
using OrleansStream.Server.Cluster;
using OrleansStream.Server.Security.Authorization;

namespace OrleansStream.Server.Kafka.Handlers;

/// <summary>
/// Metadata: the live brokers with their advertised address on the client's listener, the cluster id, the
/// controller's node, and each partition's leader as the node of the broker that hosts its leader replica.
/// Auto-creation follows the controller's <c>auto.create.topics.enable</c>. While the controller cannot answer, the
/// broker's <see cref="MetadataCache"/> does, as a Kafka broker answers from its own. From v10 each topic carries its
/// id (KIP-516), and v12 asks by id: the ids are resolved to names as Kafka's <c>handleTopicMetadataRequest</c> does
/// (any id in the request makes it a request by id; an id no topic has is <c>UnknownTopicId</c> with a null name, and
/// an id or a null name before v12 is <c>InvalidRequest</c>).
/// With the authorizer on, as Kafka's handleTopicMetadataRequest: a request for every topic lists only those the
/// principal may DESCRIBE; a topic named without DESCRIBE is TopicAuthorizationFailed with the zero id (asked by id:
/// with its id and a null name), never looked up; a topic that does not exist is auto-created only with CREATE on the
/// cluster or on it, else it is TopicAuthorizationFailed. The authorized-operations fields, when asked, are computed
/// (the cluster's 0 without DESCRIBE on it); without an authorizer they stay omitted.
/// </summary>
internal sealed class MetadataHandler(
    MetadataCache metadataCache, KafkaBrokers brokers, TopicDescriptions descriptions, BrokerRegistration registration, KafkaAuthorizer authorizer,
    IOptions<BrokerOptions> options)
    : KafkaApiHandler<Protocol.Messages.MetadataRequest>(ApiKey.Metadata, Protocol.Messages.MetadataRequest.Read)
{
    /// <summary>The first version whose request may name topics by id.</summary>
    private const short TopicIdsVersion = 12;

    /// <summary>The first version whose answer carries authorized operations.</summary>
    private const short AuthorizedOperationsVersion = 8;

    protected override async ValueTask<bool> AnswerAsync(Protocol.Messages.MetadataRequest body, KafkaRequest request, KafkaWriter response)
    {
        HashSet<Guid>? ids = null;
        List<string>? names = null;
        if (body.Topics is { } requested)
        {
            names = new List<string>(requested.Count);
            foreach (var t in requested)
            {
                if (t.TopicId != Guid.Empty) (ids ??= []).Add(t.TopicId);
                else if (t.Name is { } name) names.Add(name);
                if ((t.Name is null && t.TopicId == Guid.Empty) || (request.Version < TopicIdsVersion && (t.Name is null || t.TopicId != Guid.Empty)))
                {
                    WriteInvalid(requested, request.Version, response);
                    return true;
                }
            }
        }

        var view = brokers.DescribeAsync(request.Connection.ListenerName);
        var topics = new List<MetadataTopic>();
        Dictionary<Guid, string>? resolved = null;
        if (ids is not null)
        {
            // Kafka's rule: a request with any id is a request by id; the names beside them are not looked at.
            resolved = await metadataCache.TopicNamesAsync(ids);
            names = [.. resolved.Values];
            foreach (var id in ids)
                if (!resolved.ContainsKey(id)) topics.Add(UnknownId(id));
        }
        List<string>? mayNotCreate = null;
        if (authorizer.IsEnabled && names is not null)
        {
            names = Describable(names, resolved, request, topics);
            if (ids is null && body.AllowAutoTopicCreation && options.Value.AutoCreateTopicsEnable && names.Count > 0
                && !request.IsAllowedOnCluster(authorizer, AclOperation.Create))
                mayNotCreate = MayNotCreate(names, request);
        }
        IReadOnlyList<TopicMetadata> answered = (ids is not null || authorizer.IsEnabled) && names is { Count: 0 } ? []
            : mayNotCreate is not null ? await TopicsAsync(names!, mayNotCreate)
            : await descriptions.TopicsAsync(names, ids is null && body.AllowAutoTopicCreation);
        var cluster = await view;

        var operations = authorizer.IsEnabled && body.IncludeTopicAuthorizedOperations && request.Version >= AuthorizedOperationsVersion;
        foreach (var t in answered)
        {
            if (authorizer.IsEnabled && names is null && !request.IsAllowed(authorizer, AclOperation.Describe, AclResourceType.Topic, t.Name)) continue;
            if (mayNotCreate is not null && t.Error == ErrorCode.UnknownTopicOrPartition && mayNotCreate.Contains(t.Name))
            {
                topics.Add(new MetadataTopic(ErrorCode.TopicAuthorizationFailed, t.Name, IsInternal: false, []));
                continue;
            }
            // Asked by id, a name now held by another topic (deleted and created again since) is not the topic asked for.
            if (resolved is not null && (t.Error != ErrorCode.None || !resolved.TryGetValue(t.TopicId, out var asked) || asked != t.Name))
            {
                foreach (var (id, name) in resolved)
                    if (name == t.Name) topics.Add(UnknownId(id));
                continue;
            }
            var partitions = new MetadataPartition[t.Partitions.Count];
            for (var i = 0; i < partitions.Length; i++) partitions[i] = TopicDescriptions.Describe(t.Partitions[i], cluster);
            topics.Add(new MetadataTopic(t.Error, t.Name, IsInternal: false, partitions, t.Error == ErrorCode.None ? t.TopicId : Guid.Empty,
                operations ? request.AuthorizedOperations(authorizer, AclResourceType.Topic, t.Name) : int.MinValue));
        }
        var clusterOperations = authorizer.IsEnabled && body.IncludeClusterAuthorizedOperations && request.Version is >= AuthorizedOperationsVersion and <= 10
            ? ClusterOperations(request, authorizer)
            : int.MinValue;
        new Protocol.Messages.MetadataResponse(cluster.Brokers, registration.Meta.ClusterId, cluster.ControllerId, topics, clusterOperations)
            .Write(response, request.Version);
        return true;
    }

    /// <summary>
    /// The topics of <paramref name="names"/> the request may DESCRIBE; each other one is answered in <paramref name="answer"/>
    /// TopicAuthorizationFailed: by name with the zero id, or, asked by id (<paramref name="resolved"/>), with its id and no name.
    /// </summary>
    private List<string> Describable(List<string> names, Dictionary<Guid, string>? resolved, KafkaRequest request, List<MetadataTopic> answer)
    {
        List<string>? allowed = null;
        for (var i = 0; i < names.Count; i++)
        {
            if (request.IsAllowed(authorizer, AclOperation.Describe, AclResourceType.Topic, names[i]))
            {
                allowed?.Add(names[i]);
                continue;
            }
            allowed ??= names[..i];
            if (resolved is null) answer.Add(new MetadataTopic(ErrorCode.TopicAuthorizationFailed, names[i], IsInternal: false, []));
            else
                foreach (var (id, name) in resolved)
                    if (name == names[i]) answer.Add(new MetadataTopic(ErrorCode.TopicAuthorizationFailed, null, IsInternal: false, [], id));
        }
        return allowed ?? names;
    }

    /// <summary>The topics the request may not create (no CREATE on them; the caller checked the cluster); null when none.</summary>
    private List<string>? MayNotCreate(List<string> names, KafkaRequest request)
    {
        List<string>? refused = null;
        foreach (var name in names)
            if (!request.IsAllowed(authorizer, AclOperation.Create, AclResourceType.Topic, name)) (refused ??= []).Add(name);
        return refused;
    }

    /// <summary>The topics of <paramref name="names"/>, those of <paramref name="mayNotCreate"/> looked up without being created.</summary>
    private async Task<IReadOnlyList<TopicMetadata>> TopicsAsync(List<string> names, List<string> mayNotCreate)
    {
        var creatable = new List<string>(names.Count);
        foreach (var name in names)
            if (!mayNotCreate.Contains(name)) creatable.Add(name);
        var created = creatable.Count > 0 ? descriptions.TopicsAsync(creatable, create: true) : null;
        var looked = await descriptions.TopicsAsync(mayNotCreate, create: false);
        return created is null ? looked : [.. await created, .. looked];
    }

    /// <summary>
    /// The cluster's authorized-operations field (Metadata v8-10, DescribeCluster): the principal's operations on the
    /// cluster, 0 without DESCRIBE on it (Kafka's rule), every one without an authorizer.
    /// </summary>
    internal static int ClusterOperations(KafkaRequest request, KafkaAuthorizer authorizer) =>
        request.IsAllowedOnCluster(authorizer, AclOperation.Describe) ? request.AuthorizedOperations(authorizer, AclResourceType.Cluster, AclBinding.ClusterName) : 0;

    private static MetadataTopic UnknownId(Guid id) => new(ErrorCode.UnknownTopicId, null, IsInternal: false, [], id);

    /// <summary>Kafka's answer to a request it cannot read (<c>MetadataRequest.getErrorResponse</c>): each topic asked, with the error, and no brokers.</summary>
    private static void WriteInvalid(IReadOnlyList<MetadataRequestTopic> requested, short version, KafkaWriter response)
    {
        var topics = new List<MetadataTopic>(requested.Count);
        foreach (var t in requested) topics.Add(new MetadataTopic(ErrorCode.InvalidRequest, t.Name ?? "", IsInternal: false, [], t.TopicId));
        new Protocol.Messages.MetadataResponse([], null, -1, topics).Write(response, version);
    }
}

/// <summary>
/// DescribeCluster (KIP-700): the live brokers on the client's listener, the controller's node (-1 when it is not one
/// of them) and the cluster id, as Metadata gives them. Asked for, the cluster's authorized operations are, without an
/// authorizer, every operation Kafka defines on a cluster (Kafka's answer then). v1's endpoint type
/// (KIP-919) is answered as a Kafka broker answers it (<c>computeDescribeClusterResponse</c>): brokers are described,
/// controllers are MismatchedEndpointType (a broker is no controller endpoint), any other type UnsupportedEndpointType.
/// With the authorizer on, the authorized operations are those the principal may do on the cluster, 0 without DESCRIBE
/// on it (Kafka's <c>computeDescribeClusterResponse</c>). v2 (KIP-1073) answers whether each broker is fenced and may ask
/// for the fenced ones too: a Kafka broker is fenced while registered with the controller but not heartbeating, and
/// stays listed with the endpoints it registered. Here the brokers listed are the live silos, each with the listeners it
/// describes itself; the controller keeps the node id of a broker that is gone, but not its endpoints, so there is no
/// fenced broker to list honestly: each broker is answered unfenced, and IncludeFencedBrokers adds none.
/// </summary>
internal sealed class DescribeClusterHandler(KafkaBrokers brokers, BrokerRegistration registration, KafkaAuthorizer authorizer)
    : KafkaApiHandler<DescribeClusterRequest>(ApiKey.DescribeCluster, DescribeClusterRequest.Read)
{
    protected override async ValueTask<bool> AnswerAsync(DescribeClusterRequest body, KafkaRequest request, KafkaWriter response)
    {
        if (body.EndpointType != DescribeClusterRequest.Brokers)
        {
            var (error, message) = body.EndpointType == DescribeClusterRequest.Controllers
                ? (ErrorCode.MismatchedEndpointType, "The request was sent to an endpoint of type BROKER, but we wanted an endpoint of type CONTROLLER")
                : (ErrorCode.UnsupportedEndpointType, $"Unsupported endpoint type {body.EndpointType}");
            new DescribeClusterResponse(error, message, "", -1, [], int.MinValue).Write(response, request.Version);
            return true;
        }
        var cluster = await brokers.DescribeAsync(request.Connection.ListenerName);
        var controllerListed = false;
        foreach (var b in cluster.Brokers) controllerListed |= b.NodeId == cluster.ControllerId;
        new DescribeClusterResponse(ErrorCode.None, null, registration.Meta.ClusterId ?? "", controllerListed ? cluster.ControllerId : -1, cluster.Brokers,
            body.IncludeClusterAuthorizedOperations ? MetadataHandler.ClusterOperations(request, authorizer) : int.MinValue).Write(response, request.Version);
        return true;
    }
}
