using OrleansStream.Client.Admin;

namespace OrleansStream.Client;

/// <summary>ListOffsets and DeleteRecords: per partition, asked of its leader, the partitions at once.</summary>
internal sealed partial class AdminClient
{
    private static readonly TimeSpan DefaultDeleteRecordsOperationTimeout = TimeSpan.FromSeconds(60);

    public async Task<ListOffsetsResult> ListOffsetsAsync(IEnumerable<TopicPartitionOffsetSpec> topicPartitionOffsets, ListOffsetsOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(topicPartitionOffsets);
        var specs = new List<TopicPartitionOffsetSpec>(topicPartitionOffsets);
        var partitions = new List<TopicPartition>(specs.Count);
        foreach (var spec in specs)
        {
            ArgumentNullException.ThrowIfNull(spec);
            if (spec.OffsetSpec is null) throw new ArgumentException($"{spec.TopicPartition} has no OffsetSpec", nameof(topicPartitionOffsets));
            partitions.Add(spec.TopicPartition);
        }
        ThrowIfDuplicate(partitions, nameof(topicPartitionOffsets));
        var timeout = Timeout(options);
        var isolation = options?.IsolationLevel ?? IsolationLevel.ReadUncommitted;
        var answers = new Task<ListOffsetsResultInfo>[specs.Count];
        for (var i = 0; i < answers.Length; i++) answers[i] = ListOffsetAsync(specs[i], isolation, timeout);
        var infos = new List<ListOffsetsResultInfo>(await Task.WhenAll(answers).ConfigureAwait(false));
        foreach (var info in infos)
            if (info.TopicPartitionOffsetError.Error.IsError)
                throw new ListOffsetsException(new ListOffsetsReport(infos, new Error(info.TopicPartitionOffsetError.Error.Code)));
        return new ListOffsetsResult(infos);
    }

    private async Task<ListOffsetsResultInfo> ListOffsetAsync(TopicPartitionOffsetSpec spec, IsolationLevel isolation, TimeSpan timeout)
    {
        var tp = spec.TopicPartition;
        var timestamp = spec.OffsetSpec.Timestamp;
        try
        {
            var answer = await LeaderCalls.CallAsync(_cache, tp, allowAutoCreate: false, config.MetadataMaxAgeMs, _retryBackoffMs, timeout,
                (leader, epoch) => leader.ListOffsets(new ListOffsetsRequest(timestamp, epoch, isolation)), static r => r.Error, time).ConfigureAwait(false);
            var error = answer.Error == ErrorCode.None ? Error.NoError : new Error(answer.Error, answer.ErrorMessage);
            return new ListOffsetsResultInfo(new TopicPartitionOffsetError(tp, answer.Error == ErrorCode.None ? answer.Offset : -1, error),
                answer.Error == ErrorCode.None ? answer.Timestamp : -1);
        }
        catch (KafkaException ex)
        {
            return new ListOffsetsResultInfo(new TopicPartitionOffsetError(tp, -1, ex.Error), -1);
        }
    }

    public async Task<List<DeleteRecordsResult>> DeleteRecordsAsync(IEnumerable<TopicPartitionOffset> topicPartitionOffsets, DeleteRecordsOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(topicPartitionOffsets);
        var wanted = new List<TopicPartitionOffset>(topicPartitionOffsets);
        var partitions = new List<TopicPartition>(wanted.Count);
        foreach (var tpo in wanted) partitions.Add(tpo.TopicPartition);
        ThrowIfDuplicate(partitions, nameof(topicPartitionOffsets));
        var operationTimeout = options?.OperationTimeout ?? DefaultDeleteRecordsOperationTimeout;
        ArgumentOutOfRangeException.ThrowIfLessThan(operationTimeout, TimeSpan.Zero, nameof(options));
        // The leader may wait the whole operation timeout for its followers before it answers.
        var timeout = Timeout(options) + operationTimeout;
        var answers = new Task<DeleteRecordsReport>[wanted.Count];
        for (var i = 0; i < answers.Length; i++) answers[i] = DeleteRecordsAsync(wanted[i], (int)operationTimeout.TotalMilliseconds, timeout);
        var reports = await Task.WhenAll(answers).ConfigureAwait(false);
        var results = new List<DeleteRecordsResult>(reports.Length);
        foreach (var r in reports)
        {
            if (r.Error.IsError) throw new DeleteRecordsException([.. reports]);
            results.Add(new DeleteRecordsResult(r.Topic, r.Partition, r.Offset));
        }
        return results;
    }

    private async Task<DeleteRecordsReport> DeleteRecordsAsync(TopicPartitionOffset tpo, int operationTimeoutMs, TimeSpan timeout)
    {
        var tp = tpo.TopicPartition;
        try
        {
            // Moving the log start to an offset it already passed changes nothing, so a retry is safe.
            var answer = await LeaderCalls.CallAsync(_cache, tp, allowAutoCreate: false, config.MetadataMaxAgeMs, _retryBackoffMs, timeout,
                (leader, epoch) => leader.DeleteRecords(new DeleteRecordsRequest(tpo.Offset, epoch, operationTimeoutMs)), static r => r.Error, time).ConfigureAwait(false);
            return new DeleteRecordsReport(tp.Topic, tp.Partition, answer.Error == ErrorCode.None ? answer.LowWatermark : -1,
                answer.Error == ErrorCode.None ? Error.NoError : new Error(answer.Error, answer.ErrorMessage));
        }
        catch (KafkaException ex)
        {
            return new DeleteRecordsReport(tp.Topic, tp.Partition, -1, ex.Error);
        }
    }

    /// <summary>Kafka's admin client refuses a partition named twice in one request.</summary>
    private static void ThrowIfDuplicate(List<TopicPartition> partitions, string parameter)
    {
        var seen = new HashSet<TopicPartition>();
        foreach (var tp in partitions)
            if (!seen.Add(tp)) throw new ArgumentException($"{tp} is named more than once", parameter);
    }
}
