using OrleansStream.Client.Admin;

namespace OrleansStream.Client;

/// <summary>DescribeProducers and the admin's abort of a hanging transaction: per partition, asked of its leader.</summary>
internal sealed partial class AdminClient
{
    public async Task<List<DescribeProducersResult>> DescribeProducersAsync(IEnumerable<TopicPartition> partitions, DescribeProducersOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(partitions);
        var wanted = new List<TopicPartition>(partitions);
        ThrowIfDuplicate(wanted, nameof(partitions));
        var timeout = Timeout(options);
        var answers = new Task<DescribeProducersReport>[wanted.Count];
        for (var i = 0; i < answers.Length; i++) answers[i] = DescribeProducersAsync(wanted[i], timeout);
        var reports = await Task.WhenAll(answers).ConfigureAwait(false);
        var results = new List<DescribeProducersResult>(reports.Length);
        foreach (var r in reports)
        {
            if (r.Error.IsError) throw new DescribeProducersException([.. reports]);
            results.Add(new DescribeProducersResult(r.TopicPartition, r.ActiveProducers));
        }
        return results;
    }

    private async Task<DescribeProducersReport> DescribeProducersAsync(TopicPartition tp, TimeSpan timeout)
    {
        try
        {
            var answer = await LeaderCalls.CallAsync(_cache, tp, allowAutoCreate: false, config.MetadataMaxAgeMs, _retryBackoffMs, timeout,
                static (leader, _) => leader.DescribeProducers(), static r => r.Error, time).ConfigureAwait(false);
            if (answer.Error != ErrorCode.None) return new DescribeProducersReport(tp, [], new Error(answer.Error, answer.ErrorMessage));
            var producers = new List<ProducerState>(answer.ActiveProducers.Count);
            // The replica answers -1 for what it does not know; Kafka's admin client makes those absent.
            foreach (var p in answer.ActiveProducers)
                producers.Add(new ProducerState(p.ProducerId, p.ProducerEpoch, p.LastSequence, p.LastTimestamp,
                    p.CoordinatorEpoch < 0 ? null : p.CoordinatorEpoch, p.CurrentTxnStartOffset < 0 ? null : p.CurrentTxnStartOffset));
            // The producer state is a dictionary; an order of its own keeps listings comparable.
            producers.Sort(static (a, b) => a.ProducerId.CompareTo(b.ProducerId));
            return new DescribeProducersReport(tp, producers, Error.NoError);
        }
        catch (KafkaException ex)
        {
            return new DescribeProducersReport(tp, [], ex.Error);
        }
    }

    public async Task AbortTransactionAsync(AbortTransactionSpec spec, AbortTransactionOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var tp = spec.TopicPartition;
        // A repeated ABORT with nothing written since changes nothing, so a lost answer is retried as any leader call.
        var error = await LeaderCalls.CallAsync(_cache, tp, allowAutoCreate: false, config.MetadataMaxAgeMs, _retryBackoffMs, Timeout(options),
            (leader, epoch) => leader.WriteTxnMarker(new WriteTxnMarkerRequest(spec.ProducerId, spec.ProducerEpoch, spec.CoordinatorEpoch, Commit: false, epoch)),
            static e => e, time).ConfigureAwait(false);
        if (error != ErrorCode.None)
            throw new KafkaException(new Error(error, $"Failed to abort the transaction of producer {spec.ProducerId} (epoch {spec.ProducerEpoch}, " +
                $"coordinator epoch {spec.CoordinatorEpoch}) at {tp}: {error}"));
    }
}
