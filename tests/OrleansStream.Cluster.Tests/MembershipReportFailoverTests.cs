using Microsoft.Extensions.DependencyInjection;
using OrleansStream.Server.Controller;

namespace OrleansStream.Cluster.Tests;

/// <summary>
/// Membership reports in flight to the controller's silo when that silo dies hold back no later report: the dying
/// silo's stop does not wait for its own watcher's unanswered report (it waited for Orleans' response timeout, 30 s,
/// before the silo left membership), and the survivors' reports are given up when it leaves and made again to the
/// controller's next activation.
/// </summary>
[Collection(SiloKillCollection.Name)]
public sealed class MembershipReportFailoverTests(MembershipReportFailoverTests.Fixture fixture) : IClassFixture<MembershipReportFailoverTests.Fixture>
{
    public sealed class Fixture : BrokerLifecycleFixture
    {
        public HeldReports Held { get; } = new();

        protected override void ConfigureSilo(string brokerId, ISiloBuilder silo)
        {
            base.ConfigureSilo(brokerId, silo);
            silo.Services.AddSingleton<IOutgoingGrainCallFilter>(new HeldReports.Sender(Held, brokerId));
            silo.Services.AddSingleton<IIncomingGrainCallFilter>(new HeldReports.Receiver(Held, brokerId));
        }
    }

    [Fact]
    public async Task A_report_in_flight_to_the_dying_controller_is_given_up_and_the_report_of_the_death_reaches_the_next_activation()
    {
        var (_, controllerBroker) = await fixture.CreateTopicAsync("inflight", partitions: 1, replicationFactor: 3);
        var joining = ClusterFixture.BrokerIdOf(fixture.SiloCount);
        Task? kill = null;
        try
        {
            // A broker joins; the controller's silo holds the first report of it unanswered, and the others queue behind it.
            fixture.Held.HoldAt(controllerBroker);
            await fixture.StartSiloAsync(joining);
            var survivors = fixture.Silos.Values.Where(s => s.Name != controllerBroker).ToList();
            await Eventually.WaitUntilAsync(() => fixture.Held.Holding && survivors.All(s => fixture.Held.HasSent(s.Name)),
                "every survivor's report of the join is in flight to the controller's silo", state: fixture.Held.Describe);

            kill = fixture.KillSiloAsync(controllerBroker);

            // Each survivor's report of the controller silo's death is taken by the next activation: the report held by
            // the dying silo was given up when it left, well before the response timeout would have ended it.
            await fixture.AdvanceUntilAsync(() => Task.FromResult(survivors.All(s => fixture.ReportedDeath(s, controllerBroker, taken: true))),
                "every survivor's report of the death reached the controller's next activation", TimeSpan.FromSeconds(20));
        }
        finally
        {
            fixture.Held.Release();
            if (kill is not null)
            {
                await kill;
                await fixture.StartSiloAsync(controllerBroker);
            }
        }
    }

    /// <summary>
    /// Holds, unanswered, every membership report that reaches the controller on one broker's silo, as a silo that dies
    /// would; and notes which brokers sent one while holding.
    /// </summary>
    public sealed class HeldReports
    {
        private readonly TaskCompletionSource _released = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly HashSet<string> _senders = new(StringComparer.Ordinal);
        private volatile string? _holdingBroker;
        private volatile bool _holding;

        public void HoldAt(string brokerId) => _holdingBroker = brokerId;

        /// <summary>A report is held on the controller's silo.</summary>
        public bool Holding => _holding;

        public bool HasSent(string brokerId)
        {
            lock (_senders) return _senders.Contains(brokerId);
        }

        public string Describe()
        {
            lock (_senders) return $"holding: {_holding}; sent by: {string.Join(", ", _senders)}";
        }

        public void Release()
        {
            _holdingBroker = null;
            _released.TrySetResult();
        }

        private static bool IsReport(IGrainCallContext context) =>
            context.InterfaceMethod is { Name: nameof(IControllerInternalGrain.BrokersChanged) } method
            && method.DeclaringType == typeof(IControllerInternalGrain);

        internal sealed class Sender(HeldReports held, string brokerId) : IOutgoingGrainCallFilter
        {
            public Task Invoke(IOutgoingGrainCallContext context)
            {
                if (held._holdingBroker is not null && IsReport(context))
                    lock (held._senders) held._senders.Add(brokerId);
                return context.Invoke();
            }
        }

        internal sealed class Receiver(HeldReports held, string brokerId) : IIncomingGrainCallFilter
        {
            public Task Invoke(IIncomingGrainCallContext context)
            {
                if (held._holdingBroker != brokerId || !IsReport(context)) return context.Invoke();
                held._holding = true;
                return held._released.Task;
            }
        }
    }
}
