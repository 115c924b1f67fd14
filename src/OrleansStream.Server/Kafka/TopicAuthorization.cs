using OrleansStream.Server.Security.Authorization;

namespace OrleansStream.Server.Kafka;

/// <summary>
/// Kafka's checks of a request's topics (<c>AuthHelper.filterByAuthorized</c>): one check per topic named, not per
/// partition or record, done only while the authorizer is on, so that a broker without one does no more work than before.
/// </summary>
internal static class TopicAuthorization
{
    /// <summary>
    /// Which of <paramref name="topics"/> the request may not do <paramref name="operation"/> on; null when it may on
    /// all of them (always so without an authorizer).
    /// </summary>
    public static bool[]? Denied<T>(this KafkaRequest request, KafkaAuthorizer authorizer, AclOperation operation, IReadOnlyList<T> topics, Func<T, string?> name)
    {
        if (!authorizer.IsEnabled) return null;
        bool[]? denied = null;
        for (var i = 0; i < topics.Count; i++)
            if (!request.IsAllowed(authorizer, operation, AclResourceType.Topic, name(topics[i]) ?? ""))
                (denied ??= new bool[topics.Count])[i] = true;
        return denied;
    }

    /// <summary>The topics not <paramref name="denied"/>, for the leader lookups: a topic refused is never looked up.</summary>
    public static T[] Allowed<T>(IReadOnlyList<T> topics, bool[] denied)
    {
        var allowed = new List<T>(topics.Count);
        for (var i = 0; i < topics.Count; i++)
            if (!denied[i]) allowed.Add(topics[i]);
        return [.. allowed];
    }

    /// <summary>Whether topic <paramref name="index"/> is refused by the result of <see cref="Denied"/>.</summary>
    public static bool IsDenied(this bool[]? denied, int index) => denied is not null && denied[index];
}
