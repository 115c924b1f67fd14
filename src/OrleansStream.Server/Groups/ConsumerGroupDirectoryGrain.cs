using Orleans.Runtime;

namespace OrleansStream.Server.Groups;

/// <summary>The list of groups for ListGroups: each group registers when it first persists and leaves when it is removed.</summary>
[GrainType("os-group-directory")]
internal sealed partial class ConsumerGroupDirectoryGrain(
    [PersistentState("groups", OrleansStreamDefaults.GrainStorageName)] IPersistentState<ConsumerGroupDirectoryState> state,
    ILogger<ConsumerGroupDirectoryGrain> logger)
    : Grain, IConsumerGroupDirectoryGrain
{
    private readonly SortedSet<string> _groups = new(StringComparer.Ordinal);

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        foreach (var g in state.State.Groups) _groups.Add(g);
        return Task.CompletedTask;
    }

    public async Task Register(string groupId)
    {
        if (!_groups.Add(groupId)) return;
        await SaveAsync();
        LogRegistered(groupId);
    }

    public async Task Unregister(string groupId)
    {
        if (!_groups.Remove(groupId)) return;
        await SaveAsync();
    }

    public Task<IReadOnlyList<string>> List() => Task.FromResult<IReadOnlyList<string>>([.. _groups]);

    private Task SaveAsync()
    {
        state.State.Groups = [.. _groups];
        return state.WriteStateAsync();
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Group {GroupId} registered")]
    private partial void LogRegistered(string groupId);
}
