using System.Diagnostics;
using OrleansStream.Protocol;

namespace OrleansStream.Kafka.Tests;

/// <summary>
/// Kafka brokers answer Metadata from their own metadata cache, so a client sees no gap while the controller moves.
/// Here the controller is a grain: while its silo is dead and not yet declared so, each broker answers from the last
/// metadata it had, rather than failing the request (which closes the client's connection); an admin request the
/// controller cannot answer is RequestTimedOut.
/// </summary>
[Trait("Category", "Slow")]
public sealed class ControllerFailoverTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(90);

    /// <summary>
    /// kill -9: calls to the controller's silo fail at once until it is declared dead. SIGSTOP: they wait (a call in
    /// flight to a silo that stops answering is not failed before the 30 s call timeout), and the broker answers from
    /// its cache after <see cref="OrleansStream.Server.Kafka.MetadataCache.ControllerWait"/>.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Metadata_is_answered_on_every_surviving_broker_while_the_controllers_silo_is_gone(bool frozen)
    {
        await using var silos = await SiloProcesses.StartAsync(3);
        var controller = silos.Client.GetGrain<IClusterControllerGrain>(GrainKeys.Controller);
        await Eventually.WaitUntilAsync(async () => (await controller.GetMetadata(new MetadataRequest([]))).Brokers.Count(b => b.IsAlive) == 3,
            "the controller counts three live brokers", Wait);
        var topic = "ctl-" + Guid.NewGuid().ToString("N")[..8];
        Assert.Equal(ErrorCode.None, Assert.Single(await controller.CreateTopics([new NewTopic(topic, 3, 1)])).Error);

        var host = await silos.Client.GetGrain<IManagementGrain>(0).GetActivationAddress((IAddressable)controller, TestContext.Current.CancellationToken);
        var victim = silos.IndexOfSiloPort(host!.Endpoint.Port);
        Assert.InRange(victim, 0, 2);
        var survivors = Enumerable.Range(0, 3).Where(i => i != victim).ToArray();
        var wires = new KafkaWire[survivors.Length];
        for (var i = 0; i < wires.Length; i++) wires[i] = await KafkaWire.ConnectAsync(silos.KafkaPort(survivors[i]));
        // Each survivor has answered for the topic (a broker no client asked learns it from the controller's version
        // moving: ControllerTests.Every_brokers_metadata_cache_follows_topics_created_and_deleted_without_being_asked).
        var victimNode = -1;
        foreach (var wire in wires)
        {
            var before = await MetadataAsync(wire, topic);
            Assert.Equal((short)0, before?.TopicError);
            victimNode = before!.Value.ControllerId;
        }

        if (frozen) silos.Freeze(victim);
        else silos.Kill(victim);
        var closed = new List<string>();
        var answers = 0;
        var timedOut = 0;
        var moved = false;
        var deadline = Stopwatch.StartNew();
        while (!moved && deadline.Elapsed < Wait)
        {
            for (var i = 0; i < wires.Length; i++)
            {
                var started = deadline.Elapsed;
                var answer = await MetadataAsync(wires[i], topic);
                if (answer is null)
                {
                    closed.Add($"silo {survivors[i]} at {started.TotalSeconds:F1} s");
                    await wires[i].DisposeAsync();
                    wires[i] = await KafkaWire.ConnectAsync(silos.KafkaPort(survivors[i]));
                    continue;
                }
                answers++;
                Assert.Equal((short)0, answer.Value.TopicError);
                Assert.Equal(3, answer.Value.Partitions);
                moved |= answer.Value.ControllerId != victimNode && answer.Value.ControllerId >= 0;
                if (frozen) continue;

                // An admin request the controller cannot answer is RequestTimedOut, as a Kafka broker answers a request
                // it forwarded to a controller that did not answer; it closed the connection before. (Frozen, each
                // waits Orleans' 30 s call timeout first.)
                var created = await ValidateCreateTopicAsync(wires[i], "ctl-validate-" + answers);
                if (created is null)
                {
                    closed.Add($"CreateTopics on silo {survivors[i]} at {started.TotalSeconds:F1} s");
                    await wires[i].DisposeAsync();
                    wires[i] = await KafkaWire.ConnectAsync(silos.KafkaPort(survivors[i]));
                    continue;
                }
                Assert.Contains(created.Value, new[] { (short)ErrorCode.None, (short)ErrorCode.RequestTimedOut });
                timedOut += created.Value == (short)ErrorCode.RequestTimedOut ? 1 : 0;
            }
        }
        foreach (var w in wires) await w.DisposeAsync();
        Assert.True(moved, "the controller moved to a surviving broker");
        Assert.True(closed.Count == 0, $"{closed.Count} requests closed the connection ({answers} Metadata answers, {timedOut} CreateTopics RequestTimedOut): {string.Join(", ", closed)}");
    }

    /// <summary>A validate-only CreateTopics v1 of one topic: its error code, or null when the broker closed the connection.</summary>
    private static async Task<short?> ValidateCreateTopicAsync(KafkaWire wire, string topic)
    {
        await wire.SendAsync(ApiKey.CreateTopics, 1, w => new Protocol.Messages.CreateTopicsRequest(
            [new Protocol.Messages.CreatableTopic(topic, 1, 1, false, [])], 30_000, ValidateOnly: true).Write(w, 1));
        var frame = await wire.ReadFrameAsync();
        if (frame is null) return null;
        var r = new KafkaReader(frame.AsSpan(4));
        Assert.Equal(1, r.ReadArrayLength(flexible: false));
        Assert.Equal(topic, r.ReadString(false));
        return r.ReadInt16();
    }

    private static async Task<(int ControllerId, short TopicError, int Partitions)?> MetadataAsync(KafkaWire wire, string topic)
    {
        await wire.SendAsync(ApiKey.Metadata, 1, w => new Protocol.Messages.MetadataRequest([topic], false).Write(w, 1));
        var frame = await wire.ReadFrameAsync();
        if (frame is null) return null;
        var r = new KafkaReader(frame.AsSpan(4));
        var brokers = r.ReadArrayLength(flexible: false);
        for (var i = 0; i < brokers; i++)
        {
            r.ReadInt32();
            r.ReadString(false);
            r.ReadInt32();
            r.ReadNullableString(false);
        }
        var controllerId = r.ReadInt32();
        Assert.Equal(1, r.ReadArrayLength(flexible: false));
        var error = r.ReadInt16();
        Assert.Equal(topic, r.ReadString(false));
        r.ReadBoolean();
        return (controllerId, error, r.ReadArrayLength(flexible: false));
    }
}
