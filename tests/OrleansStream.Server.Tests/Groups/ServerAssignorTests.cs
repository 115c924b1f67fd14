using OrleansStream.Server.Groups.Consumer;

namespace OrleansStream.Server.Tests.Groups;

/// <summary>
/// The KIP-848 server-side assignors: every partition of a subscribed topic to exactly one of its subscribers, uniform's
/// balance and stickiness, range's contiguous co-partitioned ranges, and outputs that depend on the inputs alone.
/// </summary>
public sealed class ServerAssignorTests
{
    private static readonly Guid T1 = T(1), T2 = T(2), T3 = T(3), Missing = T(99);

    public static TheoryData<string> Names => new(UniformAssignor.AssignorName, RangeAssignor.AssignorName);

    [Theory]
    [MemberData(nameof(Names))]
    public void Generated_groups_keep_every_rule_and_do_not_depend_on_enumeration_order(string name)
    {
        var assignor = ServerAssignors.Find(name)!;
        var random = new Random(848);
        for (var run = 0; run < 500; run++)
        {
            var topics = Enumerable.Range(0, random.Next(1, 6)).Select(_ => RandomGuid(random)).ToArray();
            var missing = RandomGuid(random); // subscribed to now and then, never created
            // Now and then a topic is absent (deleted, or not created yet), and each run may recount the partitions.
            Dictionary<Guid, int> Counts() => topics.Where(_ => random.Next(8) != 0).ToDictionary(t => t, _ => random.Next(1, 17));
            HashSet<Guid> Subscription()
            {
                var subscription = topics.Where(_ => random.Next(2) == 0).ToHashSet();
                if (subscription.Count == 0 || random.Next(10) == 0) subscription.Add(random.Next(4) == 0 ? missing : topics[random.Next(topics.Length)]);
                return subscription;
            }
            var shared = random.Next(3) == 0 ? Subscription() : null; // a third of the groups subscribe alike throughout

            var previousCounts = Counts();
            var previousMembers = Enumerable.Range(0, 20).Select(i => "m" + i).OrderBy(_ => random.Next()).Take(random.Next(1, 9))
                .ToDictionary(id => id, _ => Member(shared ?? Subscription()));
            var previous = assignor.Assign(previousMembers, previousCounts);
            AssertRules(assignor, previousMembers, previousCounts, previous);

            // The next generation: some members stay (some changing their subscription), some join, counts may change.
            var counts = random.Next(3) == 0 ? Counts() : previousCounts;
            var members = new Dictionary<string, AssignmentMemberSpec>();
            foreach (var (id, spec) in previousMembers)
                if (random.Next(5) != 0)
                    members[id] = new AssignmentMemberSpec(shared ?? (random.Next(4) == 0 ? Subscription() : spec.SubscribedTopicIds), Current(previous[id]));
            for (var joining = random.Next(members.Count == 0 ? 1 : 0, 4); joining > 0 && members.Count < 8; joining--)
                members.TryAdd("m" + random.Next(20), Member(shared ?? Subscription()));
            var result = assignor.Assign(members, counts);
            AssertRules(assignor, members, counts, result);

            Assert.Equal(Describe(result), Describe(assignor.Assign(Shuffled(members, random), Shuffled(counts, random))));
        }
    }

    [Theory]
    [InlineData(1, new[] { 5 })]
    [InlineData(3, new[] { 7, 5 })]
    [InlineData(4, new[] { 1, 2, 3 })]
    [InlineData(5, new[] { 16, 16, 3 })]
    [InlineData(6, new[] { 4 })]
    public void Uniform_a_joining_member_takes_only_what_balance_requires(int size, int[] partitions)
    {
        var counts = partitions.Select((count, i) => (Topic: T(i + 1), count)).ToDictionary(x => x.Topic, x => x.count);
        var topics = counts.Keys.ToArray();
        var ids = Enumerable.Range(0, size).Select(i => "m" + i).ToArray();
        var before = new UniformAssignor().Assign(ids.ToDictionary(id => id, _ => Member(topics)), counts);

        var members = ids.ToDictionary(id => id, id => Member(topics, before[id]));
        members["joiner"] = Member(topics);
        var after = new UniformAssignor().Assign(members, counts);

        foreach (var id in ids)
            foreach (var (topic, owned) in after[id])
                Assert.Subset(before[id][topic], owned);
        var total = partitions.Sum();
        Assert.Equal(total / (size + 1), Load(after["joiner"])); // the fewest a joiner can take
        AssertRules(new UniformAssignor(), members, counts, after);
    }

    [Theory]
    [InlineData(2, new[] { 5 })]
    [InlineData(4, new[] { 7, 6 })]
    [InlineData(5, new[] { 1, 2, 3, 9 })]
    [InlineData(8, new[] { 16, 3 })]
    public void Uniform_a_leaving_member_moves_only_its_own_partitions(int size, int[] partitions)
    {
        var counts = partitions.Select((count, i) => (Topic: T(i + 1), count)).ToDictionary(x => x.Topic, x => x.count);
        var topics = counts.Keys.ToArray();
        var ids = Enumerable.Range(0, size).Select(i => "m" + i).ToArray();
        var before = new UniformAssignor().Assign(ids.ToDictionary(id => id, _ => Member(topics)), counts);

        foreach (var leaver in ids)
        {
            var members = ids.Where(id => id != leaver).ToDictionary(id => id, id => Member(topics, before[id]));
            var after = new UniformAssignor().Assign(members, counts);
            foreach (var id in members.Keys)
            {
                foreach (var (topic, owned) in before[id]) Assert.Subset(after[id][topic], owned);
                foreach (var (topic, owned) in after[id])
                    foreach (var p in owned.Where(p => !before[id].GetValueOrDefault(topic, []).Contains(p)))
                        Assert.Contains(p, before[leaver][topic]);
            }
            AssertRules(new UniformAssignor(), members, counts, after);
        }
    }

    [Fact]
    public void Uniform_drops_what_the_current_target_holds_of_topics_unsubscribed_or_gone_and_partitions_out_of_range()
    {
        var members = new Dictionary<string, AssignmentMemberSpec>
        {
            ["a"] = Member([T1], Target((T1, [0, 1, 9]), (T2, [0]), (T3, [0]))),
            ["b"] = Member([T1], Target((T1, [2, 3]))),
            ["c"] = Member([T2]),
        };
        var result = new UniformAssignor().Assign(members, new Dictionary<Guid, int> { [T1] = 4, [T2] = 2 });

        Assert.Equal("a:t1[0,1]; b:t1[2,3]; c:t2[0,1]", Describe(result));
    }

    [Fact]
    public void Uniform_balances_heterogeneous_subscriptions_as_far_as_they_allow()
    {
        var counts = new Dictionary<Guid, int> { [T1] = 6, [T2] = 6 };
        var members = new Dictionary<string, AssignmentMemberSpec> { ["a"] = Member([T1]), ["b"] = Member([T1, T2]), ["c"] = Member([T2]) };
        var result = new UniformAssignor().Assign(members, counts);
        Assert.All(result.Values, target => Assert.Equal(4, Load(target)));
        AssertRules(new UniformAssignor(), members, counts, result);

        // b alone takes t2; a, alone on the small topic, takes all of it rather than leave b one more.
        counts = new Dictionary<Guid, int> { [T1] = 2, [T2] = 6 };
        members = new Dictionary<string, AssignmentMemberSpec> { ["a"] = Member([T1]), ["b"] = Member([T1, T2]) };
        Assert.Equal("a:t1[0,1]; b:t2[0,1,2,3,4,5]", Describe(new UniformAssignor().Assign(members, counts)));

        // A heavily loaded member with a narrower subscription gives its partitions to the others, keeping the rest.
        members = new Dictionary<string, AssignmentMemberSpec>
        {
            ["a"] = Member([T2], Target((T2, [0, 1, 2, 3, 4, 5]))),
            ["b"] = Member([T1, T2], Target((T1, [0, 1]))),
            ["c"] = Member([T2]),
        };
        result = new UniformAssignor().Assign(members, counts);
        Assert.Equal(new[] { 3, 3, 2 }, new[] { "a", "b", "c" }.Select(id => Load(result[id])));
        Assert.Subset(new HashSet<int> { 0, 1, 2, 3, 4, 5 }, result["a"][T2]);
        Assert.Equal([0, 1], result["b"][T1].Order());
    }

    [Fact]
    public void Range_gives_each_member_a_contiguous_range_aligned_across_co_partitioned_topics()
    {
        var counts = new Dictionary<Guid, int> { [T2] = 3, [T1] = 3 };
        var members = new Dictionary<string, AssignmentMemberSpec> { ["b"] = Member([T2, T1]), ["a"] = Member([T1, T2]) };
        Assert.Equal("a:t1[0,1] t2[0,1]; b:t1[2] t2[2]", Describe(new RangeAssignor().Assign(members, counts)));

        // Per topic among its own subscribers; more subscribers than partitions leaves the last ones without.
        counts = new Dictionary<Guid, int> { [T1] = 5, [T2] = 3, [T3] = 2 };
        members = new Dictionary<string, AssignmentMemberSpec>
        {
            ["c"] = Member([T2, T3]),
            ["a"] = Member([T1, T2, T3]),
            ["b"] = Member([T1, T3]),
        };
        Assert.Equal("a:t1[0,1,2] t2[0,1] t3[0]; b:t1[3,4] t3[1]; c:t2[2]", Describe(new RangeAssignor().Assign(members, counts)));
    }

    [Fact]
    public void Range_recomputes_from_member_order_whatever_the_current_target_holds()
    {
        // Kafka's server-side range assignor is not sticky (KAFKA-16944): only static members' instance ids keep it steady.
        var counts = new Dictionary<Guid, int> { [T1] = 3 };
        var members = new Dictionary<string, AssignmentMemberSpec>
        {
            ["a"] = Member([T1], Target((T1, [2]))),
            ["b"] = Member([T1], Target((T1, [0, 1]))),
        };
        Assert.Equal("a:t1[0,1]; b:t1[2]", Describe(new RangeAssignor().Assign(members, counts)));
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void The_target_does_not_depend_on_the_order_the_inputs_enumerate_in(string name)
    {
        var assignor = ServerAssignors.Find(name)!;
        var counts = new Dictionary<Guid, int> { [T3] = 5, [T1] = 7, [T2] = 4 };
        var members = new Dictionary<string, AssignmentMemberSpec>
        {
            ["z"] = Member([T3, T1], Target((T3, [4, 0]), (T1, [6, 2, 0]))),
            ["b"] = Member([T2, T1], Target((T2, [3, 1]), (T1, [5]))),
            ["B"] = Member([T1, T2, T3]),
            ["a"] = Member([T1, T3], Target((T1, [1]), (T3, [2]))),
        };
        var expected = Describe(assignor.Assign(members, counts));

        var reversed = members.Reverse().ToDictionary(m => m.Key, m => new AssignmentMemberSpec(
            m.Value.SubscribedTopicIds.Reverse().ToHashSet(),
            m.Value.CurrentAssignment.Reverse().ToDictionary(t => t.Key, t => (IReadOnlySet<int>)t.Value.Reverse().ToHashSet())));
        Assert.Equal(expected, Describe(assignor.Assign(reversed, counts.Reverse().ToDictionary())));
        Assert.Equal(expected, Describe(ServerAssignors.Find(name)!.Assign(members, counts)));
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void A_member_subscribed_to_a_missing_topic_gets_nothing_of_it(string name)
    {
        var members = new Dictionary<string, AssignmentMemberSpec>
        {
            ["a"] = Member([T1, Missing], Target((Missing, [0]))),
            ["b"] = Member([Missing], Target((Missing, [1]))),
        };
        var result = ServerAssignors.Find(name)!.Assign(members, new Dictionary<Guid, int> { [T1] = 2 });

        Assert.Equal("a:t1[0,1]; b:", Describe(result));
        Assert.Empty(result["b"]);
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void An_empty_group_or_one_with_no_topics_gets_an_empty_target(string name)
    {
        var assignor = ServerAssignors.Find(name)!;
        Assert.Empty(assignor.Assign(new Dictionary<string, AssignmentMemberSpec>(), new Dictionary<Guid, int> { [T1] = 3 }));
        var members = new Dictionary<string, AssignmentMemberSpec> { ["a"] = Member([]), ["b"] = Member([T1], Target((T1, [0]))) };
        Assert.Equal("a:; b:", Describe(assignor.Assign(members, new Dictionary<Guid, int> { [T1] = 0 })));
    }

    [Fact]
    public void The_assignors_are_found_by_their_exact_name_and_uniform_is_the_default()
    {
        Assert.Equal(["uniform", "range"], ServerAssignors.All.Select(a => a.Name));
        Assert.IsType<UniformAssignor>(ServerAssignors.Default);
        Assert.IsType<RangeAssignor>(ServerAssignors.Find("range"));
        Assert.IsType<UniformAssignor>(ServerAssignors.Find("uniform"));
        Assert.Null(ServerAssignors.Find("Range"));
        Assert.Null(ServerAssignors.Find("sticky"));
        Assert.Null(ServerAssignors.Find(null));
    }

    /// <summary>
    /// Every partition of a subscribed existing topic to exactly one of its subscribers, nothing else; uniform: members
    /// subscribing alike within one partition of each other, a member holding a topic's partition at most one above any
    /// subscriber of it, and, when all subscribe alike, the fewest moves; range: Kafka's ranges in member order.
    /// </summary>
    private static void AssertRules(
        IServerAssignor assignor,
        Dictionary<string, AssignmentMemberSpec> members,
        Dictionary<Guid, int> counts,
        Dictionary<string, Dictionary<Guid, HashSet<int>>> result)
    {
        Assert.Equal(members.Keys.Order(StringComparer.Ordinal), result.Keys.Order(StringComparer.Ordinal));
        var owners = new Dictionary<(Guid Topic, int Partition), string>();
        foreach (var (id, target) in result)
            foreach (var (topic, partitions) in target)
            {
                Assert.Contains(topic, members[id].SubscribedTopicIds);
                Assert.True(counts.TryGetValue(topic, out var count));
                Assert.NotEmpty(partitions);
                foreach (var p in partitions)
                {
                    Assert.InRange(p, 0, count - 1);
                    Assert.True(owners.TryAdd((topic, p), id), $"{topic} p{p} assigned twice");
                }
            }
        var subscribers = counts.Keys.ToDictionary(t => t, t => members.Keys.Where(id => members[id].SubscribedTopicIds.Contains(t)).Order(StringComparer.Ordinal).ToList());
        foreach (var (topic, count) in counts)
            for (var p = 0; p < count; p++)
                Assert.Equal(subscribers[topic].Count > 0, owners.ContainsKey((topic, p)));

        if (assignor is UniformAssignor)
        {
            var loads = result.ToDictionary(m => m.Key, m => Load(m.Value));
            foreach (var alike in members.GroupBy(m => string.Join(",", m.Value.SubscribedTopicIds.Where(counts.ContainsKey).Order())))
                Assert.InRange(alike.Max(m => loads[m.Key]) - alike.Min(m => loads[m.Key]), 0, 1);
            foreach (var (topic, subs) in subscribers.Where(s => s.Value.Count > 0))
            {
                var least = subs.Min(id => loads[id]);
                foreach (var holder in owners.Where(o => o.Key.Topic == topic).Select(o => o.Value).Distinct())
                    Assert.InRange(loads[holder] - least, 0, 1);
            }

            // All alike: the most a group can keep is each member's valid current partitions up to its quota, with the
            // extra partitions going to those holding more than the minimum quota.
            if (members.Values.Select(m => string.Join(",", m.SubscribedTopicIds.Where(counts.ContainsKey).Order())).Distinct().Count() == 1)
            {
                var total = owners.Count;
                if (total == 0) return;
                int minQuota = total / members.Count, extras = total % members.Count, kept = 0, best = 0, above = 0;
                foreach (var (id, spec) in members)
                {
                    var valid = spec.CurrentAssignment.Where(t => spec.SubscribedTopicIds.Contains(t.Key) && counts.ContainsKey(t.Key))
                        .Sum(t => t.Value.Count(p => p >= 0 && p < counts[t.Key]));
                    best += Math.Min(valid, minQuota);
                    if (valid > minQuota) above++;
                    kept += spec.CurrentAssignment.Sum(t => t.Value.Count(p => result[id].GetValueOrDefault(t.Key, []).Contains(p)));
                }
                Assert.Equal(best + Math.Min(above, extras), kept);
            }
        }
        else
        {
            foreach (var (topic, subs) in subscribers.Where(s => s.Value.Count > 0))
            {
                int count = counts[topic], start = 0;
                for (var i = 0; i < subs.Count; i++)
                {
                    var end = start + count / subs.Count + (i < count % subs.Count ? 1 : 0);
                    Assert.Equal(Enumerable.Range(start, end - start), result[subs[i]].GetValueOrDefault(topic, []).Order());
                    start = end;
                }
            }
        }
    }

    private static Guid T(int n) => new($"00000000-0000-0000-0000-{n:D12}");

    private static Guid RandomGuid(Random random)
    {
        var bytes = new byte[16];
        random.NextBytes(bytes);
        return new Guid(bytes);
    }

    private static AssignmentMemberSpec Member(IEnumerable<Guid> topics, Dictionary<Guid, HashSet<int>>? current = null) =>
        new(topics.ToHashSet(), Current(current ?? []));

    private static Dictionary<Guid, IReadOnlySet<int>> Current(Dictionary<Guid, HashSet<int>> target) =>
        target.ToDictionary(t => t.Key, t => (IReadOnlySet<int>)t.Value);

    private static Dictionary<Guid, HashSet<int>> Target(params (Guid Topic, int[] Partitions)[] topics) =>
        topics.ToDictionary(t => t.Topic, t => t.Partitions.ToHashSet());

    private static int Load(Dictionary<Guid, HashSet<int>> target) => target.Values.Sum(p => p.Count);

    private static Dictionary<TKey, TValue> Shuffled<TKey, TValue>(Dictionary<TKey, TValue> source, Random random) where TKey : notnull
    {
        var entries = source.ToArray();
        random.Shuffle(entries);
        return entries.ToDictionary();
    }

    private static Dictionary<string, AssignmentMemberSpec> Shuffled(Dictionary<string, AssignmentMemberSpec> members, Random random)
    {
        var shuffled = Shuffled<string, AssignmentMemberSpec>(members, random);
        foreach (var (id, spec) in shuffled)
        {
            var subscription = spec.SubscribedTopicIds.ToArray();
            random.Shuffle(subscription);
            var current = spec.CurrentAssignment.ToDictionary(t => t.Key, t =>
            {
                var partitions = t.Value.ToArray();
                random.Shuffle(partitions);
                return partitions.ToHashSet();
            });
            shuffled[id] = new AssignmentMemberSpec(subscription.ToHashSet(), Current(Shuffled(current, random)));
        }
        return shuffled;
    }

    /// <summary>Members by id, their topics in Guid order (t1 for T(1)), partitions ascending: "a:t1[0,1] t2[0]; b:".</summary>
    private static string Describe(Dictionary<string, Dictionary<Guid, HashSet<int>>> result) =>
        string.Join("; ", result.OrderBy(m => m.Key, StringComparer.Ordinal).Select(m =>
            m.Key + ":" + string.Join(" ", m.Value.OrderBy(t => t.Key).Select(t => $"{TopicName(t.Key)}[{string.Join(",", t.Value.Order())}]"))));

    private static string TopicName(Guid topic)
    {
        var text = topic.ToString();
        return text.StartsWith("00000000-0000-0000-0000-", StringComparison.Ordinal) ? "t" + int.Parse(text[24..]) : text;
    }
}
