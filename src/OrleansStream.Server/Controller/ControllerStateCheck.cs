using Orleans.Core;
using OrleansStream.Server.Cluster;

namespace OrleansStream.Server.Controller;

/// <summary>
/// What a controller activation makes of the state it read (Kafka's <c>cluster.id</c>), by the rules of
/// <see cref="ClusterIdentity"/>: a state with a cluster id is the cluster's; an empty one is a new cluster only when no
/// live broker holds data of one.
/// </summary>
internal static class ControllerStateCheck
{
    public enum Outcome
    {
        /// <summary>The state names the cluster: serve it.</summary>
        Loaded,

        /// <summary>A new cluster, or state written before cluster ids existed: give it a cluster id.</summary>
        NeedsClusterId,

        /// <summary>Live brokers hold a cluster's data this state knows nothing of: serve nothing.</summary>
        StateLost,
    }

    /// <summary>
    /// Judges <paramref name="state"/> as read; <paramref name="describeLiveBrokers"/> asks the live brokers (null for one
    /// that did not answer) what their data directories hold. Throws while an empty state cannot be judged yet (a live
    /// broker did not answer). <paramref name="lostReason"/> says why for <see cref="Outcome.StateLost"/>.
    /// </summary>
    public static async Task<(Outcome Outcome, string? LostReason)> JudgeAsync(
        IStorage<ControllerState> state, Func<Task<IReadOnlyList<BrokerDescription?>>> describeLiveBrokers)
    {
        if (state.State.ClusterId is not null) return (Outcome.Loaded, null);
        if (state.State.Topics.Count > 0) return (Outcome.NeedsClusterId, null);
        switch (ClusterIdentity.JudgeEmptyState(await describeLiveBrokers(), out var evidence))
        {
            case ClusterIdentity.Verdict.StateLost:
                // Orleans may briefly run two activations: this one may have read before the other's first write
                // committed, which the broker's cluster id now reflects. Lost only if the record is still empty; a
                // record read now carries its ETag, so a write of this activation is fenced as every controller write is.
                await state.ReadStateAsync();
                if (state.State.ClusterId is not null) return (Outcome.Loaded, null);
                return state.State.Topics.Count > 0
                    ? (Outcome.NeedsClusterId, null)
                    : (Outcome.StateLost, ClusterIdentity.StateLostMessage(evidence));
            case ClusterIdentity.Verdict.Undecided:
                throw new InvalidOperationException(
                    "The controller has no state and not every live broker said whether it holds a cluster's data; it retries on the next call.");
            default:
                return (Outcome.NeedsClusterId, null);
        }
    }
}
