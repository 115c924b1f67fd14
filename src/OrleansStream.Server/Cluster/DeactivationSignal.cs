using Orleans.Runtime;

namespace OrleansStream.Server.Cluster;

/// <summary>A grain whose requests may wait long for something only a live activation of it provides.</summary>
internal interface IDeactivationListener
{
    /// <summary>Runs on the grain's scheduler as soon as its deactivation starts, before Orleans waits for its running requests.</summary>
    void OnDeactivating();
}

/// <summary>
/// Orleans 10.4.2 runs a grain's <c>OnDeactivateAsync</c> only once its running requests have ended, and holds every
/// new call until the deactivation completes. It deactivates grains on live silos whose grain directory registration a
/// dead silo held, and on <c>DeactivateOnIdle</c>, migration and shutdown: a request parked in the grain (a JoinGroup
/// waiting for the other members, up to the rebalance timeout; an acks=all produce waiting for followers that can no
/// longer fetch) would hold the deactivation and every call queued behind it. Orleans tells the activation working
/// set's observers when a deactivation starts; this passes it on to the grain, on the grain's own scheduler, so it
/// answers its parked requests at once.
/// </summary>
internal sealed class DeactivationSignal : IActivationWorkingSetObserver
{
    public void OnDeactivating(IActivationWorkingSetMember member)
    {
        // Called under the activation's lock from whichever thread deactivates it: only queue the work.
        if (member is IGrainContext { GrainInstance: IDeactivationListener listener } context)
            context.Scheduler.QueueAction(static state => ((IDeactivationListener)state).OnDeactivating(), listener);
    }
}
