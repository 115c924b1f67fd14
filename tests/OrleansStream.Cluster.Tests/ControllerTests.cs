using Microsoft.Extensions.DependencyInjection;
using Orleans.Runtime;
using Orleans.Storage;
using OrleansStream.Server;
using OrleansStream.Server.Controller;

namespace OrleansStream.Cluster.Tests;

[Collection(ClusterCollection.Name)]
public sealed class ControllerTests(ClusterFixture fixture)
{
    private static string Unique(string prefix) => $"{prefix}-{Guid.NewGuid():N}"[..24];

    [Fact]
    public async Task CreateTopic_AssignsDistinctBrokersAndSpreadsLeaders()
    {
        var name = Unique("spread");

        var results = await fixture.Controller.CreateTopics([new NewTopic(name, 6, 3)]);

        Assert.Equal(ErrorCode.None, Assert.Single(results).Error);
        var metadata = await fixture.Controller.GetMetadata(new MetadataRequest([name]));
        var topic = Assert.Single(metadata.Topics);
        Assert.Equal(ErrorCode.None, topic.Error);
        Assert.Equal(6, topic.Partitions.Count);
        var leaders = new Dictionary<string, int>();
        foreach (var p in topic.Partitions)
        {
            Assert.Equal(3, p.Replicas.Count);
            Assert.Equal(3, p.Replicas.Select(r => r.BrokerId).Distinct().Count());
            Assert.Equal([0, 1, 2], p.Isr);
            Assert.Equal(0, p.LeaderEpoch);
            leaders[p.LeaderBroker!] = leaders.GetValueOrDefault(p.LeaderBroker!) + 1;
        }
        Assert.Equal(3, leaders.Count);
        Assert.All(leaders.Values, count => Assert.Equal(2, count));
    }

    [Fact]
    public async Task CreateTopic_UsesBrokerDefaults_AndBumpsMetadataVersion()
    {
        var name = Unique("defaults");
        var before = (await fixture.Controller.GetMetadata(new MetadataRequest([]))).Version;

        await fixture.Controller.CreateTopics([new NewTopic(name)]);

        var metadata = await fixture.Controller.GetMetadata(new MetadataRequest([name]));
        Assert.True(metadata.Version > before);
        var partition = Assert.Single(Assert.Single(metadata.Topics).Partitions);
        Assert.Single(partition.Replicas);
        Assert.Equal(3, metadata.Brokers.Count(b => b.IsAlive));
    }

    [Theory]
    [InlineData("")]
    [InlineData(".")]
    [InlineData("..")]
    [InlineData("has space")]
    [InlineData("slash/name")]
    [InlineData("ünicode")]
    public async Task CreateTopic_RejectsIllegalNames(string name)
    {
        var result = Assert.Single(await fixture.Controller.CreateTopics([new NewTopic(name)]));

        Assert.Equal(ErrorCode.InvalidTopic, result.Error);
        Assert.NotNull(result.ErrorMessage);
    }

    [Fact]
    public async Task CreateTopic_RejectsTooLongName_ButAcceptsMaximum()
    {
        var tooLong = new string('a', 250);
        var longest = Unique("max") + new string('b', 249 - 24);

        var results = await fixture.Controller.CreateTopics([new NewTopic(tooLong), new NewTopic(longest)]);

        Assert.Equal(ErrorCode.InvalidTopic, results[0].Error);
        Assert.Equal(ErrorCode.None, results[1].Error);
    }

    [Fact]
    public async Task CreateTopic_RejectsBadCountsAndConfigs_AndChangesNothing()
    {
        var before = await fixture.Controller.GetMetadata(new MetadataRequest(null));
        string N() => Unique("bad");

        var results = await fixture.Controller.CreateTopics(
        [
            new NewTopic(N(), 0),
            new NewTopic(N(), 1, 0),
            new NewTopic(N(), 1, 4),
            new NewTopic(N(), 1, 1, new Dictionary<string, string> { ["min.insync.replicas"] = "0" }),
            new NewTopic(N(), 1, 1, new Dictionary<string, string> { ["unclean.leader.election.enable"] = "maybe" }),
        ]);

        Assert.Equal(
            [ErrorCode.InvalidPartitions, ErrorCode.InvalidReplicationFactor, ErrorCode.InvalidReplicationFactor, ErrorCode.InvalidConfig, ErrorCode.InvalidConfig],
            results.Select(r => r.Error));
        var after = await fixture.Controller.GetMetadata(new MetadataRequest(null));
        Assert.Equal(before.Version, after.Version);
        Assert.Equal(before.Topics.Count, after.Topics.Count);
    }

    [Fact]
    public async Task A_request_for_more_than_ten_thousand_partitions_is_refused_whole_with_PolicyViolation_as_in_Kafka()
    {
        var before = await fixture.Controller.GetMetadata(new MetadataRequest(null));
        var (a, b, c) = (Unique("huge"), Unique("huge"), Unique("huge"));

        // Kafka counts the request's partitions together (5,000 + 5,001), validate_only or not, before any other check.
        var together = await fixture.Controller.CreateTopics([new NewTopic(a, 5_000), new NewTopic(b, 5_001), new NewTopic(c, 1)], validateOnly: true);
        Assert.All(together, r => Assert.Equal((ErrorCode.PolicyViolation, "Excessively large number of partitions per request."), (r.Error, r.ErrorMessage)));
        Assert.Equal([a, b, c], together.Select(r => r.Topic));
        // Two billion partitions in one topic: refused at once, and the controller goes on answering.
        var huge = await fixture.Controller.CreateTopics([new NewTopic(a, int.MaxValue), new NewTopic(b, 1)]);
        Assert.All(huge, r => Assert.Equal(ErrorCode.PolicyViolation, r.Error));
        Assert.Equal(before.Version, (await fixture.Controller.GetMetadata(new MetadataRequest(null))).Version);
        // At the bound itself it would be taken (validated only here: 10,000 partitions are a lot of grains).
        Assert.Equal(ErrorCode.None, Assert.Single(await fixture.Controller.CreateTopics([new NewTopic(a, 10_000)], validateOnly: true)).Error);

        // CreatePartitions counts what the request would add to the topics that exist.
        await fixture.Controller.CreateTopics([new NewTopic(a, 1)]);
        var grow = await fixture.Controller.CreatePartitions([new PartitionsIncrease(a, int.MaxValue), new PartitionsIncrease(Unique("none"), int.MaxValue)]);
        Assert.All(grow, r => Assert.Equal((ErrorCode.PolicyViolation, "Unable to perform excessively large batch operation."), (r.Error, r.ErrorMessage)));
        Assert.Equal(ErrorCode.UnknownTopicOrPartition,
            Assert.Single(await fixture.Controller.CreatePartitions([new PartitionsIncrease(Unique("none"), int.MaxValue)])).Error);
        Assert.Single(Assert.Single((await fixture.Controller.GetMetadata(new MetadataRequest([a]))).Topics).Partitions);
    }

    [Theory]
    [InlineData("__consumer_offsets")]
    [InlineData("__transaction_state")]
    [InlineData("__share_group_state")]
    [InlineData("__cluster_metadata")]
    public async Task Kafkas_internal_topic_names_are_never_created_their_roles_being_grains(string name)
    {
        // CreateTopics: Kafka's answer for its metadata log (INVALID_REQUEST), with or without validate_only.
        foreach (var validateOnly in new[] { true, false })
        {
            var refused = Assert.Single(await fixture.Controller.CreateTopics([new NewTopic(name, 1)], validateOnly));
            Assert.Equal(ErrorCode.InvalidRequest, refused.Error);
            Assert.StartsWith($"Creation of internal topic {name} is prohibited", refused.ErrorMessage, StringComparison.Ordinal);
        }
        // Metadata that may auto-create (every Metadata v0-3) answers that it does not exist, and creates nothing.
        var other = Unique("beside");
        var metadata = await fixture.Controller.GetMetadata(new MetadataRequest([name, other], AllowAutoTopicCreation: true));
        Assert.Equal([ErrorCode.UnknownTopicOrPartition, ErrorCode.None], metadata.Topics.Select(t => t.Error));
        var all = await fixture.Controller.GetMetadata(new MetadataRequest(null));
        Assert.DoesNotContain(all.Topics, t => t.Name == name);
        Assert.Contains(all.Topics, t => t.Name == other);
    }

    [Fact]
    public async Task CreateTopic_Twice_IsTopicAlreadyExists()
    {
        var name = Unique("twice");
        await fixture.Controller.CreateTopics([new NewTopic(name)]);

        var again = Assert.Single(await fixture.Controller.CreateTopics([new NewTopic(name, 3)]));

        Assert.Equal(ErrorCode.TopicAlreadyExists, again.Error);
        Assert.Single(Assert.Single((await fixture.Controller.GetMetadata(new MetadataRequest([name]))).Topics).Partitions);
    }

    [Fact]
    public async Task ValidateOnly_CreatesNothing()
    {
        var name = Unique("dry");

        var result = Assert.Single(await fixture.Controller.CreateTopics([new NewTopic(name, 2)], validateOnly: true));

        Assert.Equal(ErrorCode.None, result.Error);
        var topic = Assert.Single((await fixture.Controller.GetMetadata(new MetadataRequest([name]))).Topics);
        Assert.Equal(ErrorCode.UnknownTopicOrPartition, topic.Error);
    }

    [Fact]
    public async Task Metadata_AutoCreatesWhenAllowed()
    {
        var name = Unique("auto");

        var metadata = await fixture.Controller.GetMetadata(new MetadataRequest([name], AllowAutoTopicCreation: true));

        var topic = Assert.Single(metadata.Topics);
        Assert.Equal(ErrorCode.None, topic.Error);
        Assert.Single(topic.Partitions);
    }

    [Fact]
    public async Task CreatePartitions_GrowsOnly()
    {
        var name = Unique("grow");
        await fixture.Controller.CreateTopics([new NewTopic(name, 2, 2)]);

        var results = await fixture.Controller.CreatePartitions([new PartitionsIncrease(name, 5), new PartitionsIncrease(Unique("none"), 2)]);
        var shrink = Assert.Single(await fixture.Controller.CreatePartitions([new PartitionsIncrease(name, 3)]));

        Assert.Equal(ErrorCode.None, results[0].Error);
        Assert.Equal(ErrorCode.UnknownTopicOrPartition, results[1].Error);
        Assert.Equal(ErrorCode.InvalidPartitions, shrink.Error);
        var topic = Assert.Single((await fixture.Controller.GetMetadata(new MetadataRequest([name]))).Topics);
        Assert.Equal(5, topic.Partitions.Count);
        Assert.All(topic.Partitions, p => Assert.Equal(2, p.Replicas.Count));
    }

    [Fact]
    public async Task DeleteTopic_RemovesIt_AndUnknownIsAnError()
    {
        var name = Unique("delete");
        await fixture.Controller.CreateTopics([new NewTopic(name, 2)]);

        var results = await fixture.Controller.DeleteTopics([name, Unique("ghost")]);

        Assert.Equal([ErrorCode.None, ErrorCode.UnknownTopicOrPartition], results.Select(r => r.Error));
        var topic = Assert.Single((await fixture.Controller.GetMetadata(new MetadataRequest([name]))).Topics);
        Assert.Equal(ErrorCode.UnknownTopicOrPartition, topic.Error);
    }

    [Fact]
    public async Task AStaleControllerActivation_CannotOverwriteNewerState()
    {
        var storage = fixture.Silos.Values.First().ServiceProvider.GetRequiredKeyedService<IGrainStorage>(OrleansStreamDefaults.GrainStorageName);
        var controllerId = GrainId.Create("os-controller", GrainKeys.Controller);
        var first = Unique("etag-a");
        var second = Unique("etag-b");
        Assert.Equal(ErrorCode.None, Assert.Single(await fixture.Controller.CreateTopics([new NewTopic(first, 1, 1)])).Error);

        // Another activation (or a controller that outlived its lease) writes newer state behind the live one's back.
        var newer = new GrainState<ControllerState> { State = new ControllerState() };
        await storage.ReadStateAsync("controller", controllerId, newer);
        Assert.Contains(first, newer.State.Topics.Keys);
        newer.State.MetadataVersion += 1_000;
        await storage.WriteStateAsync("controller", controllerId, newer);

        // The live activation's next change is written with its older ETag: refused with Kafka's retriable
        // NotController, and it reloads rather than overwrite.
        var refused = Assert.Single(await fixture.Controller.CreateTopics([new NewTopic(second, 1, 1)]));
        var stored = new GrainState<ControllerState> { State = new ControllerState() };
        await storage.ReadStateAsync("controller", controllerId, stored);
        var reloaded = await fixture.Controller.GetMetadata(new MetadataRequest([second]));
        var retried = Assert.Single(await fixture.Controller.CreateTopics([new NewTopic(second, 1, 1)]));

        Assert.Equal(ErrorCode.NotController, refused.Error);
        Assert.Equal(newer.State.MetadataVersion, stored.State.MetadataVersion);
        Assert.Equal(newer.ETag, stored.ETag);
        Assert.DoesNotContain(second, stored.State.Topics.Keys);
        Assert.True(reloaded.Version >= newer.State.MetadataVersion);
        Assert.Equal(ErrorCode.UnknownTopicOrPartition, Assert.Single(reloaded.Topics).Error);
        Assert.Equal(ErrorCode.None, retried.Error);
        Assert.True((await fixture.Controller.GetMetadata(new MetadataRequest(null))).Version > newer.State.MetadataVersion);
    }

    [Fact]
    public async Task TheAdminClient_RetriesNotController_AfterAStaleWrite()
    {
        var storage = fixture.Silos.Values.First().ServiceProvider.GetRequiredKeyedService<IGrainStorage>(OrleansStreamDefaults.GrainStorageName);
        var controllerId = GrainId.Create("os-controller", GrainKeys.Controller);
        var name = Unique("etag-sdk");
        Assert.Equal(ErrorCode.None, Assert.Single(await fixture.Controller.CreateTopics([new NewTopic(Unique("etag-pre"), 1, 1)])).Error);
        var newer = new GrainState<ControllerState> { State = new ControllerState() };
        await storage.ReadStateAsync("controller", controllerId, newer);
        newer.State.MetadataVersion += 1_000;
        await storage.WriteStateAsync("controller", controllerId, newer);

        // The first attempt is refused with NotController (the controller reloads); the SDK sends it again.
        using var admin = new OrleansStream.Client.AdminClientBuilder(fixture.Client).Build();
        await admin.CreateTopicsAsync([new OrleansStream.Client.Admin.TopicSpecification { Name = name, NumPartitions = 1, ReplicationFactor = 1 }]);

        var stored = new GrainState<ControllerState> { State = new ControllerState() };
        await storage.ReadStateAsync("controller", controllerId, stored);
        Assert.Contains(name, stored.State.Topics.Keys);
        Assert.True(stored.State.MetadataVersion > newer.State.MetadataVersion);
    }

    /// <summary>
    /// Each broker's metadata cache follows the controller's metadata version, so a broker no client asked can answer
    /// for a topic while the controller cannot (ControllerFailoverTests in the Kafka tests kill its silo).
    /// </summary>
    [Fact]
    public async Task Every_brokers_metadata_cache_follows_topics_created_and_deleted_without_being_asked()
    {
        var name = Unique("cached");
        Assert.Equal(ErrorCode.None, Assert.Single(await fixture.Controller.CreateTopics([new NewTopic(name, 2, 1)])).Error);
        foreach (var (_, silo) in fixture.Silos)
        {
            var cache = silo.ServiceProvider.GetRequiredService<OrleansStream.Server.Kafka.MetadataCache>();
            await Eventually.WaitUntilAsync(() => cache.Cached([name]) is [{ Error: ErrorCode.None, Partitions.Count: 2 }]
                && cache.Cached(null)!.Any(t => t.Name == name), $"{silo.Name}'s cache describes {name}", TimeSpan.FromSeconds(30));
        }

        Assert.Equal(ErrorCode.None, Assert.Single(await fixture.Controller.DeleteTopics([name])).Error);
        foreach (var (_, silo) in fixture.Silos)
        {
            var cache = silo.ServiceProvider.GetRequiredService<OrleansStream.Server.Kafka.MetadataCache>();
            await Eventually.WaitUntilAsync(() => cache.Cached([name]) is [{ Error: ErrorCode.LeaderNotAvailable }]
                && !cache.Cached(null)!.Any(t => t.Name == name), $"{silo.Name}'s cache forgets {name}", TimeSpan.FromSeconds(30));
        }
    }
}
