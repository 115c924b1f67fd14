using OrleansStream.Server.Kafka;

namespace OrleansStream.Server.Tests.Kafka;

/// <summary>The topics a broker answers Metadata from while the controller cannot: newest answer wins, deletions are forgotten.</summary>
public sealed class TopicMetadataImageTests
{
    private static readonly IReadOnlyDictionary<string, string> NoConfigs = new Dictionary<string, string>();

    private static TopicMetadata Topic(string name, int leaderEpoch, ErrorCode error = ErrorCode.None) => new(name, Guid.Empty, error,
        error == ErrorCode.None ? [new PartitionMetadata(0, 0, leaderEpoch, [new ReplicaInfo(0, "b0")], [0])] : [], NoConfigs);

    private static ClusterMetadata Answer(long version, params TopicMetadata[] topics) => new(version, [], topics);

    [Fact]
    public void An_older_answer_never_replaces_a_newer_one()
    {
        var image = new TopicMetadataImage();
        image.Store(["orders"], Answer(7, Topic("orders", leaderEpoch: 3)));
        image.Store(["orders"], Answer(5, Topic("orders", leaderEpoch: 2)));
        Assert.Equal(3, Assert.Single(image.Describe(["orders"])!).Partitions[0].LeaderEpoch);

        image.Store(["orders"], Answer(8, Topic("orders", leaderEpoch: 4)));
        Assert.Equal(4, Assert.Single(image.Describe(["orders"])!).Partitions[0].LeaderEpoch);

        // Unknown at an older version (a late answer from before its creation) leaves it; at a newer one, it is gone.
        image.Store(["orders"], Answer(6, Topic("orders", 0, ErrorCode.UnknownTopicOrPartition)));
        Assert.Equal(ErrorCode.None, Assert.Single(image.Describe(["orders"])!).Error);
        image.Store(["orders"], Answer(9, Topic("orders", 0, ErrorCode.UnknownTopicOrPartition)));
        Assert.Equal(ErrorCode.LeaderNotAvailable, Assert.Single(image.Describe(["orders"])!).Error);
    }

    [Fact]
    public void Topics_never_described_are_retriable_and_invalid_names_invalid_as_the_controller_says()
    {
        var image = new TopicMetadataImage();
        image.Store(["a"], Answer(1, Topic("a", 0)));
        var answer = image.Describe(["a", "never-seen", "bad/name"])!;
        Assert.Equal([ErrorCode.None, ErrorCode.LeaderNotAvailable, ErrorCode.InvalidTopic], answer.Select(t => t.Error));
        Assert.Equal(["a", "never-seen", "bad/name"], answer.Select(t => t.Name));
    }

    [Fact]
    public void Every_topic_is_answered_only_once_an_answer_for_every_topic_was_stored_and_that_answer_forgets_deleted_ones()
    {
        var image = new TopicMetadataImage();
        image.Store(["b"], Answer(2, Topic("b", 0)));
        Assert.False(image.Complete);
        Assert.Null(image.Describe(null));

        image.Store(["gone"], Answer(3, Topic("gone", 0)));
        image.Store(null, Answer(4, Topic("b", 1), Topic("a", 0)));
        Assert.Equal(4, image.CompleteVersion);
        Assert.Equal(["a", "b"], image.Describe(null)!.Select(t => t.Name));

        // A topic described after that listing's version stays when an older listing arrives late.
        image.Store(["c"], Answer(6, Topic("c", 0)));
        image.Store(null, Answer(5, Topic("a", 0), Topic("b", 1)));
        Assert.Equal(["a", "b", "c"], image.Describe(null)!.Select(t => t.Name));
        Assert.Equal(5, image.CompleteVersion);
        image.Store(null, Answer(4, Topic("a", 0)));
        Assert.Equal(5, image.CompleteVersion);
    }
}
