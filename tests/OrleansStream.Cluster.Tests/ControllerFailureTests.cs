using Microsoft.Extensions.DependencyInjection;
using Orleans.TestingHost;
using OrleansStream.Server;
using OrleansStream.Server.Controller;
using OrleansStream.Server.Persistence;
using OrleansStream.Storage;
using static OrleansStream.TestKit.PartitionTestKit;

namespace OrleansStream.Cluster.Tests;

/// <summary>
/// A dead broker's leaderships move once the controller can store the change, though every report of the death failed
/// and membership does not change again: the brokers report again until the controller has taken the report.
/// </summary>
[Collection(SiloKillCollection.Name)]
public sealed class MembershipReportRetryTests(BrokerLifecycleFixture fixture) : IClassFixture<BrokerLifecycleFixture>
{
    [Fact]
    public async Task Leadership_moves_off_a_dead_broker_once_grain_storage_takes_writes_again_though_every_report_of_its_death_failed()
    {
        var (topic, controllerBroker) = await fixture.CreateTopicAsync("report", partitions: 3, replicationFactor: 2);
        var (partition, victim) = (-1, "");
        for (var p = 0; p < 3 && partition < 0; p++)
            if ((await fixture.Controller.Partition(topic, p)).LeaderBroker is { } leader && leader != controllerBroker) (partition, victim) = (p, leader);
        Assert.True(partition >= 0, "a partition led by a broker that does not host the controller");
        var survivors = fixture.Silos.Values.Where(s => s.Name != victim).ToList();
        var earlierFailures = fixture.Logs.Of(controllerBroker, "LogReportFailed").Count;

        using (fixture.RefuseControllerWrites())
        {
            await fixture.KillSiloAsync(victim);

            // Every survivor has made its report of the membership it sees now, the death included, and the one the
            // controller could act on failed: nothing is in flight that a healed storage could take.
            await fixture.AdvanceUntilAsync(
                () => Task.FromResult(survivors.All(s => fixture.ReportedDeath(s, victim, taken: false)) && fixture.Logs.Of(controllerBroker, "LogReportFailed").Count > earlierFailures),
                "every survivor reported the death and the controller could not store it", TimeSpan.FromSeconds(60));
            var stored = (await ProducerIdLedger.ReadControllerState(fixture)).State!.Topics[topic].Partitions[partition];
            Assert.Equal(victim, stored.Replicas[stored.Leader]);
        }

        await fixture.AdvanceUntilAsync(async () => (await fixture.Controller.Partition(topic, partition)).LeaderBroker != victim,
            "leadership moves off the dead broker");

        // Moved by a report made again, not by a later membership update (Orleans may publish one at any time). Any
        // survivor's retry may be the one taken first; the others' retries wait on the fake clock.
        await fixture.AdvanceUntilAsync(
            () => Task.FromResult(survivors.Any(s => fixture.Logs.Of(s.Name, "LogReported").Any(r => (int)r.Values["Attempt"]! > 1))),
            "a survivor reported the death again and the controller took it");
    }
}

/// <summary>
/// A controller whose write failed and whose stored state could not be read back serves nothing of the unwritten
/// change: it ends, and the next activation loads what is stored.
/// </summary>
public sealed class ControllerRenounceTests(ControllerRenounceTests.Fixture fixture) : IClassFixture<ControllerRenounceTests.Fixture>
{
    public sealed class Fixture : ClusterFixture
    {
        public override int SiloCount => 1;
    }

    [Fact]
    public async Task A_topic_whose_write_failed_while_the_stored_state_was_unreadable_is_not_served()
    {
        var kept = UniqueTopic("kept");
        await fixture.CreateTopic(kept);
        var record = ((AtomicFileGrainStorage)ProducerIdLedger.Storage(fixture)).RecordPath("controller", ProducerIdLedger.ControllerId);
        var stored = await File.ReadAllBytesAsync(record, TestContext.Current.CancellationToken);

        // A record with a broken header: the write's ETag check and the read after it both fail.
        var unreadable = (byte[])stored.Clone();
        unreadable[0] ^= 0xFF;
        await File.WriteAllBytesAsync(record, unreadable, TestContext.Current.CancellationToken);
        var unwritten = UniqueTopic("unwritten");
        await Assert.ThrowsAnyAsync<Exception>(() => fixture.Controller.CreateTopics([new NewTopic(unwritten, 1, 1)]));
        await File.WriteAllBytesAsync(record, stored, TestContext.Current.CancellationToken);

        var metadata = await fixture.Controller.GetMetadata(new MetadataRequest([kept, unwritten]));

        Assert.Equal(ErrorCode.None, metadata.Topics[0].Error);
        Assert.Equal(ErrorCode.UnknownTopicOrPartition, metadata.Topics[1].Error);
    }
}

/// <summary>
/// A broker registered with a controller that then cannot answer its reads for longer than the first minute of
/// retries still wakes its replicas once the controller answers: the controller's own pushes on the broker's return
/// failed, and it sends no more.
/// </summary>
[Collection(SiloKillCollection.Name)]
public sealed class ReplicaWakeUpTests(BrokerLifecycleFixture fixture) : IClassFixture<BrokerLifecycleFixture>
{
    [Fact]
    public async Task A_restarted_broker_keeps_trying_to_wake_its_replicas_until_the_controller_answers()
    {
        var (topic, controllerBroker) = await fixture.CreateTopicAsync("wake", partitions: 1, replicationFactor: 3);
        var broker = fixture.Silos.Values.First(s => s.Name != controllerBroker).Name;
        var directory = fixture.PartitionDirectory(broker, topic, 0);
        await fixture.StopSiloAsync(broker);
        Assert.False(LogDirectoryLock.IsHeld(directory));

        var earlierRetries = fixture.Logs.Of(broker, "LogWakeRetry").Count;
        fixture.UnansweredReads.Broker = broker;
        await fixture.StartSiloAsync(broker);
        await fixture.AdvanceUntilAsync(() => Task.FromResult(fixture.Logs.Of(broker, "LogWakeRetry").Count - earlierRetries >= 25),
            "the broker has tried to wake its replicas 25 times");
        Assert.False(LogDirectoryLock.IsHeld(directory), "no replica of the broker could open its log yet");
        fixture.UnansweredReads.Broker = null;

        await fixture.AdvanceUntilAsync(() => Task.FromResult(LogDirectoryLock.IsHeld(directory)), "the broker's replica opens its log");
    }
}

/// <summary>
/// A reassignment due on the controller's timer whose write fails is tried again on the timer: no membership change
/// comes to report it again.
/// </summary>
[Collection(SiloKillCollection.Name)]
public sealed class ReassignmentRetryTests(ReassignmentRetryTests.Fixture fixture) : IClassFixture<ReassignmentRetryTests.Fixture>
{
    public sealed class Fixture : BrokerLifecycleFixture
    {
        protected override void ConfigureBroker(BrokerOptions options)
        {
            ReplicationFixture.FastIsr(options);
            // Long enough that the test refuses writes before the reassignment is due, on a busy machine too.
            options.ReplicaReassignmentDelayMs = 8_000;
        }
    }

    [Fact]
    public async Task A_reassignment_whose_write_failed_happens_once_grain_storage_takes_writes_again()
    {
        var (topic, controllerBroker) = await fixture.CreateTopicAsync("retry", partitions: 1, replicationFactor: 2);
        var before = await fixture.Controller.Partition(topic, 0);
        var away = before.Replicas.First(r => r.BrokerId != controllerBroker);
        var spare = fixture.Silos.Values.Select(s => s.Name).Single(b => before.Replicas.All(r => r.BrokerId != b));
        await fixture.StopSiloAsync(away.BrokerId);
        await Eventually.WaitUntilAsync(async () => !(await fixture.Controller.Partition(topic, 0)).Isr.Contains(away.ReplicaId),
            "the stopped broker's replica leaves the ISR");
        var earlierFailures = fixture.Logs.Of(controllerBroker, "LogReconcileFailed").Count;

        using (fixture.RefuseControllerWrites())
            await Eventually.WaitUntilAsync(() => fixture.Logs.Of(controllerBroker, "LogReconcileFailed").Count > earlierFailures,
                "the reassignment is due and its write fails");

        await Eventually.WaitUntilAsync(async () => (await fixture.Controller.Partition(topic, 0)).Replicas[away.ReplicaId].BrokerId == spare,
            "the replica moves to the spare broker");
    }
}

/// <summary>
/// The controller answers reads from its state as stored (Kafka publishes metadata once its record is committed): a
/// change whose write is in flight is not seen, and when that write fails it never was.
/// </summary>
public sealed class ControllerReadIsolationTests(ControllerRenounceTests.Fixture fixture) : IClassFixture<ControllerRenounceTests.Fixture>
{
    [Fact]
    public async Task Reads_while_a_write_is_in_flight_do_not_see_its_change_which_the_failed_write_then_drops()
    {
        var kept = UniqueTopic("kept");
        await fixture.CreateTopic(kept);
        var record = ((AtomicFileGrainStorage)ProducerIdLedger.Storage(fixture)).RecordPath("controller", ProducerIdLedger.ControllerId);
        var internalReads = fixture.Grains.GetGrain<IControllerInternalGrain>(GrainKeys.Controller);
        var stored = await fixture.Controller.GetMetadata(new MetadataRequest([kept]));
        var unwritten = UniqueTopic("unwritten");
        var reads = 0;
        var seen = new List<string>();
        Task create;

        // Another writer holds the record's lock: the controller's write waits for it (AtomicFileGrainStorage.LockTimeout), then fails.
        using (new FileStream(record + ".lock", FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None))
        {
            create = fixture.Controller.CreateTopics([new NewTopic(unwritten, 1, 1)]);
            await Eventually.WaitUntilAsync(async () =>
            {
                var metadata = await fixture.Controller.GetMetadata(new MetadataRequest([kept, unwritten]));
                if (metadata.Topics[1].Error != ErrorCode.UnknownTopicOrPartition) seen.Add($"metadata lists {unwritten}");
                if (metadata.Version != stored.Version) seen.Add($"metadata version {metadata.Version}, stored {stored.Version}");
                if (await internalReads.GetPartitionState(unwritten, 0) is not null) seen.Add($"a partition state of {unwritten}");
                reads++;
                return create.IsCompleted;
            }, "the controller's write of the new topic fails", TimeSpan.FromSeconds(30));
        }

        await Assert.ThrowsAnyAsync<Exception>(() => create);
        Assert.True(reads > 1, "reads were made while the write was in flight");
        Assert.Empty(seen);
        Assert.Equal(ErrorCode.UnknownTopicOrPartition, (await fixture.Controller.GetMetadata(new MetadataRequest([unwritten]))).Topics[0].Error);
    }
}
