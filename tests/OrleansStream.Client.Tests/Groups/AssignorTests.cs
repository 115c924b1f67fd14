using OrleansStream.Client;

namespace OrleansStream.Client.Tests.Groups;

/// <summary>The documented assignments of each assignor for known inputs (see docs/groups.md).</summary>
public sealed class AssignorTests
{
    private static ConsumerProtocolSubscription Sub(params string[] topics) => new(topics, []);

    private static ConsumerProtocolSubscription Owning(int generation, string[] topics, params TopicPartition[] owned) => new(topics, owned, generation);

    private static TopicPartition Tp(string topic, int partition) => new(topic, partition);

    private static string Show(IReadOnlyDictionary<string, IReadOnlyList<TopicPartition>> assignment)
    {
        var members = new List<string>(assignment.Keys);
        members.Sort(StringComparer.Ordinal);
        return string.Join("; ", members.Select(m => $"{m}: {string.Join(",", assignment[m])}"));
    }

    [Fact]
    public void Range_two_members_two_topics_matches_Kafka_documentation()
    {
        var result = new RangeAssignor().Assign(
            new Dictionary<string, int> { ["t0"] = 3, ["t1"] = 3 },
            new Dictionary<string, ConsumerProtocolSubscription> { ["C0"] = Sub("t0", "t1"), ["C1"] = Sub("t0", "t1") });

        Assert.Equal("C0: t0-0,t0-1,t1-0,t1-1; C1: t0-2,t1-2", Show(result));
    }

    [Fact]
    public void Range_gives_the_extra_partitions_to_the_first_members_by_id()
    {
        var result = new RangeAssignor().Assign(
            new Dictionary<string, int> { ["t"] = 7 },
            new Dictionary<string, ConsumerProtocolSubscription> { ["b"] = Sub("t"), ["a"] = Sub("t"), ["c"] = Sub("t") });

        Assert.Equal("a: t-0,t-1,t-2; b: t-3,t-4; c: t-5,t-6", Show(result));
    }

    [Fact]
    public void Range_only_counts_members_subscribed_to_the_topic()
    {
        var result = new RangeAssignor().Assign(
            new Dictionary<string, int> { ["x"] = 2, ["y"] = 2 },
            new Dictionary<string, ConsumerProtocolSubscription> { ["a"] = Sub("x"), ["b"] = Sub("x", "y") });

        Assert.Equal("a: x-0; b: x-1,y-0,y-1", Show(result));
    }

    [Fact]
    public void RoundRobin_two_members_two_topics_matches_Kafka_documentation()
    {
        var result = new RoundRobinAssignor().Assign(
            new Dictionary<string, int> { ["t0"] = 3, ["t1"] = 3 },
            new Dictionary<string, ConsumerProtocolSubscription> { ["C0"] = Sub("t0", "t1"), ["C1"] = Sub("t0", "t1") });

        Assert.Equal("C0: t0-0,t0-2,t1-1; C1: t0-1,t1-0,t1-2", Show(result));
    }

    [Fact]
    public void RoundRobin_skips_members_not_subscribed_to_the_topic()
    {
        // Kafka's javadoc example: C0 [t0], C1 [t0, t1], C2 [t0, t1, t2]; t0 1 partition, t1 2, t2 3.
        var result = new RoundRobinAssignor().Assign(
            new Dictionary<string, int> { ["t0"] = 1, ["t1"] = 2, ["t2"] = 3 },
            new Dictionary<string, ConsumerProtocolSubscription>
            {
                ["C0"] = Sub("t0"), ["C1"] = Sub("t0", "t1"), ["C2"] = Sub("t0", "t1", "t2"),
            });

        Assert.Equal("C0: t0-0; C1: t1-0; C2: t1-1,t2-0,t2-1,t2-2", Show(result));
    }

    [Fact]
    public void Every_assignor_gives_each_partition_to_exactly_one_member()
    {
        var counts = new Dictionary<string, int> { ["a"] = 5, ["b"] = 3, ["c"] = 8 };
        var subs = new Dictionary<string, ConsumerProtocolSubscription>();
        for (var i = 0; i < 4; i++) subs[$"m{i}"] = Sub("a", "b", "c");
        foreach (IPartitionAssignor assignor in new IPartitionAssignor[] { new RangeAssignor(), new RoundRobinAssignor(), new CooperativeStickyAssignor() })
        {
            var result = assignor.Assign(counts, subs);
            var seen = new HashSet<TopicPartition>();
            foreach (var (_, partitions) in result)
                foreach (var tp in partitions)
                    Assert.True(seen.Add(tp), $"{assignor.Name} assigned {tp} twice");
            Assert.Equal(16, seen.Count);
            Assert.Equal(4, result.Count);
        }
    }

    [Fact]
    public void CooperativeSticky_fresh_group_is_round_robin_and_balanced()
    {
        var result = new CooperativeStickyAssignor().Assign(
            new Dictionary<string, int> { ["t"] = 6 },
            new Dictionary<string, ConsumerProtocolSubscription> { ["A"] = Sub("t"), ["B"] = Sub("t"), ["C"] = Sub("t") });

        Assert.Equal("A: t-0,t-3; B: t-1,t-4; C: t-2,t-5", Show(result));
    }

    [Fact]
    public void CooperativeSticky_new_member_moves_only_one_partition_in_two_steps()
    {
        string[] t = ["t"];
        var counts = new Dictionary<string, int> { ["t"] = 6 };

        // Step 1: D joins. C gives up t-5 (it owned the most, with the highest id); nobody gets it yet.
        var first = new CooperativeStickyAssignor().Assign(counts, new Dictionary<string, ConsumerProtocolSubscription>
        {
            ["A"] = Owning(1, t, Tp("t", 0), Tp("t", 3)),
            ["B"] = Owning(1, t, Tp("t", 1), Tp("t", 4)),
            ["C"] = Owning(1, t, Tp("t", 2), Tp("t", 5)),
            ["D"] = Owning(-1, t),
        });
        Assert.Equal("A: t-0,t-3; B: t-1,t-4; C: t-2; D: ", Show(first));

        // Step 2: C revoked t-5 and rejoined; D gets it. A and B never lost anything.
        var second = new CooperativeStickyAssignor().Assign(counts, new Dictionary<string, ConsumerProtocolSubscription>
        {
            ["A"] = Owning(2, t, Tp("t", 0), Tp("t", 3)),
            ["B"] = Owning(2, t, Tp("t", 1), Tp("t", 4)),
            ["C"] = Owning(2, t, Tp("t", 2)),
            ["D"] = Owning(2, t),
        });
        Assert.Equal("A: t-0,t-3; B: t-1,t-4; C: t-2; D: t-5", Show(second));
    }

    [Fact]
    public void CooperativeSticky_member_leaving_hands_out_only_its_partitions()
    {
        string[] t = ["t"];
        var result = new CooperativeStickyAssignor().Assign(new Dictionary<string, int> { ["t"] = 6 }, new Dictionary<string, ConsumerProtocolSubscription>
        {
            ["A"] = Owning(3, t, Tp("t", 0), Tp("t", 3)),
            ["C"] = Owning(3, t, Tp("t", 2), Tp("t", 5)),
        });

        // B's t-1 and t-4 were nobody's any more: they go straight out, one each; A and C keep all they had.
        Assert.Equal("A: t-0,t-1,t-3; C: t-2,t-4,t-5", Show(result));
    }

    [Fact]
    public void CooperativeSticky_conflicting_claims_go_to_the_newest_generation()
    {
        string[] t = ["t"];
        var result = new CooperativeStickyAssignor().Assign(new Dictionary<string, int> { ["t"] = 2 }, new Dictionary<string, ConsumerProtocolSubscription>
        {
            ["A"] = Owning(4, t, Tp("t", 0)),
            ["B"] = Owning(5, t, Tp("t", 0), Tp("t", 1)),
        });

        // B's claim (generation 5) wins t-0; balance moves B's second partition t-1 to A, withheld for one generation.
        Assert.Equal("A: ; B: t-0", Show(result));
    }

    [Fact]
    public void CooperativeSticky_different_subscriptions_stay_balanced_where_possible()
    {
        var result = new CooperativeStickyAssignor().Assign(
            new Dictionary<string, int> { ["x"] = 4, ["y"] = 2 },
            new Dictionary<string, ConsumerProtocolSubscription> { ["a"] = Sub("x"), ["b"] = Sub("x", "y") });

        // Least loaded first (a: x-0, x-2; b: x-1, x-3, y-0, y-1), then one move evens it out: x-3 to a.
        Assert.Equal("a: x-0,x-2,x-3; b: x-1,y-0,y-1", Show(result));
    }

    [Fact]
    public void Strategy_names_parse_in_order_and_bad_names_are_InvalidConfig()
    {
        var parsed = PartitionAssignors.Parse("roundrobin, range");
        Assert.Equal(["roundrobin", "range"], parsed.Select(a => a.Name));
        Assert.Equal(["range", "roundrobin"], PartitionAssignors.Parse(null).Select(a => a.Name));
        Assert.Equal(RebalanceProtocol.Cooperative, Assert.Single(PartitionAssignors.Parse("cooperative-sticky")).Protocol);

        Assert.Equal(ErrorCode.InvalidConfig, Assert.Throws<OrleansStreamException>(() => PartitionAssignors.Parse("sticky-ish")).Code);
        Assert.Equal(ErrorCode.InvalidConfig, Assert.Throws<OrleansStreamException>(() => PartitionAssignors.Parse("range,cooperative-sticky")).Code);
    }
}
