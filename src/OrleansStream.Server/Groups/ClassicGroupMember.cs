namespace OrleansStream.Server.Groups;

/// <summary>
/// Kafka's <c>ClassicGroupMember</c>: one member of a <see cref="ClassicGroup"/>, its protocols in order of preference,
/// its session, its assignment, and the Join or Sync it is waiting in (the coordinator owes it that answer).
/// A static member (KIP-345) has a <see cref="GroupInstanceId"/> that outlives its member id: a restart rejoins under a
/// new member id and keeps the member's place and assignment.
/// </summary>
internal sealed class ClassicGroupMember(string memberId, string clientId, string? groupInstanceId)
{
    public string MemberId { get; private set; } = memberId;

    public string ClientId { get; private set; } = clientId;

    public string? GroupInstanceId { get; } = groupInstanceId;

    public int SessionTimeoutMs { get; private set; }

    public int RebalanceTimeoutMs { get; private set; }

    public IReadOnlyList<JoinGroupProtocol> Protocols { get; private set; } = [];

    public ConsumerProtocolAssignment Assignment { get; set; } = ConsumerProtocolAssignment.Empty;

    public long HeartbeatDeadlineMs { get; set; }

    public TaskCompletionSource<JoinGroupResponse>? AwaitingJoin { get; set; }

    public TaskCompletionSource<SyncGroupResponse>? AwaitingSync { get; set; }

    public void Update(JoinGroupRequest request, int rebalanceTimeoutMs) =>
        Update(request.SessionTimeoutMs, rebalanceTimeoutMs, request.Protocols);

    private void Update(int sessionTimeoutMs, int rebalanceTimeoutMs, IReadOnlyList<JoinGroupProtocol> protocols)
    {
        SessionTimeoutMs = sessionTimeoutMs;
        RebalanceTimeoutMs = rebalanceTimeoutMs;
        Protocols = protocols;
    }

    /// <summary>A member as a coordinator loads it from the group's stored metadata.</summary>
    public static ClassicGroupMember Load(StoredGroupMember stored)
    {
        var member = new ClassicGroupMember(stored.MemberId, stored.ClientId, stored.GroupInstanceId) { Assignment = stored.Assignment };
        member.Update(stored.SessionTimeoutMs, stored.RebalanceTimeoutMs, stored.Protocols);
        return member;
    }

    public StoredGroupMember ToStored(ConsumerProtocolAssignment assignment) =>
        new(MemberId, ClientId, GroupInstanceId, SessionTimeoutMs, RebalanceTimeoutMs, [.. Protocols], assignment);

    public Task<JoinGroupResponse> StartJoin()
    {
        // A duplicate join replaces the earlier one, which is told to retry.
        AwaitingJoin?.TrySetResult(ClassicGroup.JoinError(ErrorCode.RebalanceInProgress, MemberId, "superseded by a newer join"));
        AwaitingJoin = new TaskCompletionSource<JoinGroupResponse>(TaskCreationOptions.RunContinuationsAsynchronously);
        return AwaitingJoin.Task;
    }

    public Task<SyncGroupResponse> StartSync()
    {
        AwaitingSync?.TrySetResult(new SyncGroupResponse(ErrorCode.RebalanceInProgress, null, "superseded by a newer sync"));
        AwaitingSync = new TaskCompletionSource<SyncGroupResponse>(TaskCreationOptions.RunContinuationsAsynchronously);
        return AwaitingSync.Task;
    }

    /// <summary>
    /// KIP-345: a static member's new incarnation takes this member's place; the old one's waiting Join and Sync are
    /// fenced with <see cref="ErrorCode.FencedInstanceId"/>.
    /// </summary>
    public void Replace(string newMemberId, string clientId)
    {
        Fail(ErrorCode.FencedInstanceId, $"instance '{GroupInstanceId}' rejoined as member '{newMemberId}'");
        MemberId = newMemberId;
        ClientId = clientId;
    }

    /// <summary>Answers the Join and Sync this member waits in, if any, and forgets them.</summary>
    public void Fail(ErrorCode error, string message)
    {
        AwaitingJoin?.TrySetResult(ClassicGroup.JoinError(error, MemberId, message));
        AwaitingSync?.TrySetResult(new SyncGroupResponse(error, null, message));
        AwaitingJoin = null;
        AwaitingSync = null;
    }

    public bool Supports(string protocol)
    {
        foreach (var p in Protocols)
            if (p.Name == protocol) return true;
        return false;
    }

    public ConsumerProtocolSubscription SubscriptionFor(string protocol)
    {
        foreach (var p in Protocols)
            if (p.Name == protocol) return p.Metadata;
        return Protocols[0].Metadata;
    }

    /// <summary>
    /// Kafka's <c>ClassicGroupMember.matches</c>: the same assignors in the same order with the same metadata. A Kafka
    /// client's metadata is compared as the bytes it sent (<see cref="ConsumerProtocolSubscription.Encoded"/>), as
    /// Kafka compares them: a Kafka Connect worker's new config offset or a consumer's new user data is a change, and a
    /// follower rejoining with it starts a rebalance. Our SDK's members send no bytes and are compared by topics and
    /// owned partitions, whatever their generations.
    /// </summary>
    public bool Matches(IReadOnlyList<JoinGroupProtocol> protocols)
    {
        if (protocols.Count != Protocols.Count) return false;
        for (var i = 0; i < protocols.Count; i++)
        {
            var a = protocols[i];
            var b = Protocols[i];
            if (a.Name != b.Name || !SameSubscription(a.Metadata, b.Metadata)) return false;
        }
        return true;
    }

    private static bool SameSubscription(ConsumerProtocolSubscription a, ConsumerProtocolSubscription b)
    {
        if (a.Encoded is not null || b.Encoded is not null)
            return a.Encoded is not null && b.Encoded is not null && a.Encoded.AsSpan().SequenceEqual(b.Encoded);
        return a.Topics.SequenceEqual(b.Topics) && a.OwnedPartitions.SequenceEqual(b.OwnedPartitions);
    }
}
