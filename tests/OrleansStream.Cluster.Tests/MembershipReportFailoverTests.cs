using Microsoft.Extensions.DependencyInjection;
using OrleansStream.Server.Cluster;
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

        /// <summary>While set, the controller refuses every membership report, as one that cannot store what changed.</summary>
        public volatile bool RefuseReports;

        protected override void ConfigureSilo(string brokerId, ISiloBuilder silo)
        {
            base.ConfigureSilo(brokerId, silo);
            silo.Services.AddSingleton<IOutgoingGrainCallFilter>(new HeldReports.Sender(Held, brokerId));
            silo.Services.AddSingleton<IIncomingGrainCallFilter>(new HeldReports.Receiver(Held, brokerId));
            silo.Services.AddSingleton<IIncomingGrainCallFilter>(new ReportRefusal(this));
        }

        private sealed class ReportRefusal(Fixture fixture) : IIncomingGrainCallFilter
        {
            public Task Invoke(IIncomingGrainCallContext context) =>
                fixture.RefuseReports && HeldReports.IsReport(context)
                    ? throw new InvalidOperationException("The controller refuses membership reports.")
                    : context.Invoke();
        }
    }

    /// <summary>
    /// A restarted broker's replicas open no log before the controller has accepted its registration, and the
    /// controller's changes (each silo's report of the restart among them) push LeaderAndIsr to those replicas and wait
    /// for them: a registration queued behind such a change held the restart for seconds. Here the controller's silo
    /// holds a report of the broker's death unanswered, a change that never ends; the broker, started again, is accepted.
    /// </summary>
    [Fact]
    public async Task A_restarted_broker_is_accepted_while_the_controller_is_busy_with_a_change()
    {
        var (_, controllerBroker) = await fixture.CreateTopicAsync("busy", partitions: 1, replicationFactor: 3);
        var restarted = ClusterFixture.BrokerIdOf(fixture.SiloCount + 3);
        await fixture.StartSiloAsync(restarted);
        await fixture.AdvanceUntilAsync(() => Task.FromResult(MetaProperties.Read(fixture.DataDirectory(restarted)).ClusterId is not null),
            $"{restarted} registers");
        try
        {
            fixture.Held.HoldAt(controllerBroker);
            await fixture.KillSiloAsync(restarted);
            await Eventually.WaitUntilAsync(() => fixture.Held.Holding, "a report of the death holds the controller", TimeSpan.FromSeconds(60));

            var registration = (await fixture.StartSiloAsync(restarted)).ServiceProvider.GetRequiredService<BrokerRegistration>();
            await fixture.AdvanceUntilAsync(() => Task.FromResult(registration.Problem is null),
                "the restarted broker's registration is accepted", TimeSpan.FromSeconds(60));
        }
        finally
        {
            fixture.Held.Release();
        }
    }

    /// <summary>
    /// A report that failed waits its backoff on the brokers' clock, which this test never advances; the next silo to
    /// leave ends the wait, so the report of that death reaches the controller (its dead silo's leaderships move) without
    /// waiting out a backoff grown while a dead controller's silo was not yet declared dead.
    /// </summary>
    [Fact]
    public async Task A_report_waiting_out_its_backoff_is_made_again_as_soon_as_a_silo_leaves()
    {
        var first = ClusterFixture.BrokerIdOf(fixture.SiloCount + 1);
        var second = ClusterFixture.BrokerIdOf(fixture.SiloCount + 2);
        await fixture.StartSiloAsync(first);
        await fixture.StartSiloAsync(second);
        var survivors = fixture.Silos.Values.Where(s => s.Name != first && s.Name != second).ToList();
        try
        {
            fixture.RefuseReports = true;
            await fixture.KillSiloAsync(first);
            await Eventually.WaitUntilAsync(() => survivors.All(s => fixture.ReportedDeath(s, first, taken: false)),
                "every survivor's report of the first death was refused", TimeSpan.FromSeconds(60));
            fixture.RefuseReports = false;

            await fixture.KillSiloAsync(second);
            await Eventually.WaitUntilAsync(() => survivors.All(s => fixture.ReportedDeath(s, second, taken: true)),
                "every survivor's report of the second death was taken, the brokers' clock standing still", TimeSpan.FromSeconds(60));
        }
        finally
        {
            fixture.RefuseReports = false;
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
        private volatile TaskCompletionSource _released = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly HashSet<string> _senders = new(StringComparer.Ordinal);
        private volatile string? _holdingBroker;
        private volatile bool _holding;

        public void HoldAt(string brokerId)
        {
            _released = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _holding = false;
            _holdingBroker = brokerId;
        }

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

        internal static bool IsReport(IGrainCallContext context) =>
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
