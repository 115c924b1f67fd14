using OrleansStream.Server.Security.Authorization;

namespace OrleansStream.Server.Controller;

/// <summary>
/// The cluster's ACL bindings (Kafka's <c>AclControlManager</c>): stored in the controller's state beside the topics,
/// changed one request at a time, and read by every broker's <see cref="KafkaAuthorizer"/> when the ACL version moves.
/// </summary>
internal sealed partial class ClusterControllerGrain
{
    public Task<IReadOnlyList<AclChangeResult>> CreateAcls(IReadOnlyList<AclBinding> bindings)
    {
        ArgumentNullException.ThrowIfNull(bindings);
        if (_stateLost is { } lost) return Task.FromResult(Refused(bindings.Count, ErrorCode.InconsistentClusterId, lost));
        return Serialized(async () =>
        {
            var results = new AclChangeResult[bindings.Count];
            var existing = new HashSet<AclBinding>(State.Acls);
            var added = new List<AclBinding>();
            for (var i = 0; i < bindings.Count; i++)
            {
                var binding = bindings[i];
                var invalid = binding is null ? "Invalid null binding" : binding.Validate();
                results[i] = new AclChangeResult(invalid is null ? ErrorCode.None : ErrorCode.InvalidRequest, invalid);
                if (invalid is null && existing.Add(binding!)) added.Add(binding!);
            }
            if (added.Count == 0) return (IReadOnlyList<AclChangeResult>)results;
            State.Acls.AddRange(added);
            State.AclVersion++;
            if (!await TryCommitAsync(metadataChanged: false)) return StaleAclWrite(results);
            foreach (var binding in added) LogAclCreated(binding);
            return results;
        });
    }

    public Task<IReadOnlyList<AclChangeResult>> DeleteAcls(IReadOnlyList<AclBindingFilter> filters)
    {
        ArgumentNullException.ThrowIfNull(filters);
        if (_stateLost is { } lost) return Task.FromResult(Refused(filters.Count, ErrorCode.InconsistentClusterId, lost));
        return Serialized(async () =>
        {
            var results = new AclChangeResult[filters.Count];
            var removed = 0;
            for (var i = 0; i < filters.Count; i++)
            {
                var filter = filters[i];
                if (filter is null || filter.Validate() is { })
                {
                    results[i] = new AclChangeResult(ErrorCode.InvalidRequest, filter is null ? "Invalid null filter" : filter.Validate(), []);
                    continue;
                }
                var deleted = new List<AclBinding>();
                State.Acls.RemoveAll(binding =>
                {
                    if (!filter.Matches(binding)) return false;
                    deleted.Add(binding);
                    return true;
                });
                removed += deleted.Count;
                results[i] = new AclChangeResult(ErrorCode.None, null, deleted);
            }
            if (removed == 0) return (IReadOnlyList<AclChangeResult>)results;
            State.AclVersion++;
            if (!await TryCommitAsync(metadataChanged: false)) return StaleAclWrite(results);
            foreach (var result in results)
                foreach (var binding in result.Deleted ?? [])
                    LogAclDeleted(binding);
            return results;
        });
    }

    public Task<AclSnapshot> GetAcls()
    {
        var image = _image;
        return Task.FromResult(new AclSnapshot(image.AclVersion, image.Acls));
    }

    /// <summary>The SDK's CreateAcls: the Kafka listener's controller code (<see cref="CreateAcls"/>), through the contract's shapes.</summary>
    public async Task<IReadOnlyList<AclCreationResult>> CreateAclBindings(IReadOnlyList<AclBindingInfo> bindings)
    {
        ArgumentNullException.ThrowIfNull(bindings);
        var answers = await CreateAcls(bindings.Select(static b => b is null ? null! : SecurityContract.ToBinding(b)).ToList());
        return answers.Select(static a => new AclCreationResult(a.Error, a.Message)).ToList();
    }

    /// <summary>The SDK's DescribeAcls: Kafka's filter check and match (the Kafka listener's), over the controller's latest bindings.</summary>
    public Task<AclDescription> DescribeAcls(AclBindingInfo filter)
    {
        ArgumentNullException.ThrowIfNull(filter);
        var f = SecurityContract.ToFilter(filter);
        if (f.Validate() is { } invalid) return Task.FromResult(new AclDescription(ErrorCode.InvalidRequest, invalid, []));
        var matching = new List<AclBinding>();
        foreach (var binding in _image.Acls)
            if (f.Matches(binding)) matching.Add(binding);
        return Task.FromResult(new AclDescription(ErrorCode.None, null, SecurityContract.ToInfos(matching)));
    }

    /// <summary>The SDK's DeleteAcls: the Kafka listener's controller code (<see cref="DeleteAcls"/>), through the contract's shapes.</summary>
    public async Task<IReadOnlyList<AclDeletionResult>> DeleteAclBindings(IReadOnlyList<AclBindingInfo> filters)
    {
        ArgumentNullException.ThrowIfNull(filters);
        var answers = await DeleteAcls(filters.Select(static f => f is null ? null! : SecurityContract.ToFilter(f)).ToList());
        return answers.Select(static a => new AclDeletionResult(a.Error, a.Message, SecurityContract.ToInfos(a.Deleted))).ToList();
    }

    private static IReadOnlyList<AclChangeResult> Refused(int count, ErrorCode error, string message)
    {
        var results = new AclChangeResult[count];
        Array.Fill(results, new AclChangeResult(error, message, []));
        return results;
    }

    // Another activation wrote the state first: nothing of this request was stored (the state was reloaded).
    private static IReadOnlyList<AclChangeResult> StaleAclWrite(AclChangeResult[] results)
    {
        for (var i = 0; i < results.Length; i++)
            if (results[i].Error == ErrorCode.None) results[i] = new AclChangeResult(ErrorCode.NotController, StaleWriteMessage, []);
        return results;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "ACL created: {Binding}")]
    private partial void LogAclCreated(AclBinding binding);

    [LoggerMessage(Level = LogLevel.Information, Message = "ACL deleted: {Binding}")]
    private partial void LogAclDeleted(AclBinding binding);
}
