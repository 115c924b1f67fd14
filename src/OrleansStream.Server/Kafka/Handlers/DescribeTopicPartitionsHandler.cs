using Microsoft.Extensions.Options;
using OrleansStream.Protocol;
using OrleansStream.Protocol.Messages;
using OrleansStream.Server.Security.Authorization;

namespace OrleansStream.Server.Kafka.Handlers;

/// <summary>
/// DescribeTopicPartitions (KIP-966; the Java admin client's <c>describeTopics</c> by name from 3.7): the topics and
/// partitions Metadata describes (<see cref="TopicDescriptions"/>), in pages. As Kafka's
/// <c>DescribeTopicPartitionsRequestHandler</c> and <c>KRaftMetadataCache.getTopicMetadataForDescribeTopicResponse</c>:
/// the topics asked (none: every topic) sorted by name from the cursor's topic on, at most the request's partition limit
/// (clamped to <see cref="BrokerOptions.MaxRequestPartitionSizeLimit"/>, at least 1) from the cursor's partition, and
/// the cursor of the first partition left out. A cursor naming a topic not asked, or a negative partition, makes the
/// request InvalidRequest for each topic asked. A topic asked that does not exist is UnknownTopicOrPartition (an
/// invalid name InvalidTopic). DESCRIBE is checked per topic before it is looked up: a topic asked without it is
/// TopicAuthorizationFailed after the others, and with every topic asked it is left out. Each topic described carries its
/// authorized operations (every topic operation without an authorizer). A partition carries no error (its leader -1
/// says it has none on the client's listener) and empty eligible leader replicas: no ELR is kept here.
/// </summary>
internal sealed class DescribeTopicPartitionsHandler(
    TopicDescriptions descriptions, KafkaBrokers brokers, KafkaAuthorizer authorizer, IOptions<BrokerOptions> options)
    : KafkaApiHandler<DescribeTopicPartitionsRequest>(ApiKey.DescribeTopicPartitions, DescribeTopicPartitionsRequest.Read)
{
    protected override async ValueTask<bool> AnswerAsync(DescribeTopicPartitionsRequest body, KafkaRequest request, KafkaWriter response)
    {
        var all = body.Topics.Count == 0;
        var cursor = body.Cursor;
        var from = cursor?.TopicName ?? "";
        string[]? asked = null;
        bool[]? denied = null;
        if (!all)
        {
            var names = new HashSet<string>(StringComparer.Ordinal);
            foreach (var name in body.Topics)
                if (string.CompareOrdinal(name, from) >= 0) names.Add(name);
            if (cursor is not null && !names.Contains(cursor.TopicName))
            {
                WriteInvalid(body, response, request.Version);
                return true;
            }
            asked = [.. names];
            Array.Sort(asked, StringComparer.Ordinal);
            denied = request.Denied(authorizer, AclOperation.Describe, asked, static n => n);
        }
        if (cursor is { PartitionIndex: < 0 })
        {
            WriteInvalid(body, response, request.Version);
            return true;
        }

        var view = brokers.DescribeAsync(request.Connection.ListenerName);
        var lookup = asked is null ? null : denied is null ? asked : TopicAuthorization.Allowed(asked, denied);
        var found = lookup is { Length: 0 } ? [] : await descriptions.TopicsAsync(lookup, create: false);
        var cluster = await view;

        var candidates = asked ?? AllFrom(found, from);
        var byName = new Dictionary<string, TopicMetadata>(found.Count, StringComparer.Ordinal);
        foreach (var t in found) byName[t.Name] = t;
        var remaining = Math.Max(Math.Min(options.Value.MaxRequestPartitionSizeLimit, body.ResponsePartitionLimit), 1);
        var topics = new List<MetadataTopic>();
        List<MetadataTopic>? refused = null;
        DescribeTopicPartitionsCursor? next = null;
        // Kafka checks each topic as its page reaches it: a refused topic past where the page stops is answered by the next page.
        for (var i = 0; i < candidates.Length; i++)
        {
            var name = candidates[i];
            if (denied.IsDenied(i))
            {
                (refused ??= []).Add(new MetadataTopic(ErrorCode.TopicAuthorizationFailed, name, IsInternal: false, []));
                continue;
            }
            if (asked is null && !request.IsAllowed(authorizer, AclOperation.Describe, AclResourceType.Topic, name)) continue;
            if (remaining == 0)
            {
                next = new DescribeTopicPartitionsCursor(name, 0);
                break;
            }
            var operations = request.AuthorizedOperations(authorizer, AclResourceType.Topic, name);
            var topic = byName.GetValueOrDefault(name);
            if (topic is null || topic.Error != ErrorCode.None)
            {
                if (!all) topics.Add(new MetadataTopic(topic?.Error ?? ErrorCode.UnknownTopicOrPartition, name, IsInternal: false, [], Guid.Empty, operations));
                continue;
            }
            var start = cursor is not null && name == cursor.TopicName ? cursor.PartitionIndex : 0;
            var count = topic.Partitions.Count;
            var upper = (int)Math.Min(count, (long)start + remaining);
            var partitions = new List<MetadataPartition>(Math.Max(upper - start, 0));
            for (var index = start; index < upper; index++)
                if (PartitionAt(topic, index) is { } p) partitions.Add(WithoutError(TopicDescriptions.Describe(p, cluster)));
            topics.Add(new MetadataTopic(ErrorCode.None, name, IsInternal: false, partitions, topic.TopicId, operations));
            if (upper < count)
            {
                next = new DescribeTopicPartitionsCursor(name, upper);
                break;
            }
            remaining -= partitions.Count;
        }
        if (refused is not null) topics.AddRange(refused);
        new DescribeTopicPartitionsResponse(topics, next).Write(response, request.Version);
        return true;
    }

    /// <summary>The names of every topic from <paramref name="from"/> on, sorted (Java's <c>String.compareTo</c> is ordinal).</summary>
    private static string[] AllFrom(IReadOnlyList<TopicMetadata> topics, string from)
    {
        var names = new List<string>(topics.Count);
        foreach (var t in topics)
            if (string.CompareOrdinal(t.Name, from) >= 0) names.Add(t.Name);
        var sorted = names.ToArray();
        Array.Sort(sorted, StringComparer.Ordinal);
        return sorted;
    }

    /// <summary>Partition <paramref name="index"/> of the topic (the controller lists them in order), null when it has none of that index.</summary>
    private static PartitionMetadata? PartitionAt(TopicMetadata topic, int index)
    {
        if (index < topic.Partitions.Count && topic.Partitions[index].Partition == index) return topic.Partitions[index];
        foreach (var p in topic.Partitions)
            if (p.Partition == index) return p;
        return null;
    }

    // Kafka's answer names no partition error: a leader missing from the client's listener is leader -1 alone.
    private static MetadataPartition WithoutError(MetadataPartition p) => p.Error == ErrorCode.None ? p : p with { Error = ErrorCode.None };

    /// <summary>Kafka's answer to a request it refuses (<c>DescribeTopicPartitionsRequest.getErrorResponse</c>): each topic asked, with the error.</summary>
    private static void WriteInvalid(DescribeTopicPartitionsRequest body, KafkaWriter response, short version)
    {
        var topics = new List<MetadataTopic>(body.Topics.Count);
        foreach (var name in body.Topics) topics.Add(new MetadataTopic(ErrorCode.InvalidRequest, name, IsInternal: false, []));
        new DescribeTopicPartitionsResponse(topics, null).Write(response, version);
    }
}
