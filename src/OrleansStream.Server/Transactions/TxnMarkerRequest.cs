namespace OrleansStream.Server.Transactions;

/// <summary>
/// The marker phase of one transaction, started when its PrepareCommit or PrepareAbort became durable (or was loaded).
/// The caller writes every marker, retrying until each succeeds, and reports them with
/// <see cref="TransactionCoordinator.OnMarkersWritten"/>. Reports are matched to this object, not to its values: the
/// next transaction of the same producer id and epoch gets a new request, so a late report of this one cannot
/// complete it.
/// </summary>
internal sealed class TxnMarkerRequest
{
    private readonly HashSet<TxnParticipant> _unwritten;

    public TxnMarkerRequest(string transactionalId, int coordinatorEpoch, TxnTransitMetadata prepared)
    {
        TransactionalId = transactionalId;
        CoordinatorEpoch = coordinatorEpoch;
        Result = prepared.TxnState == TransactionState.PrepareCommit ? TransactionResult.Commit : TransactionResult.Abort;
        var markers = new List<TxnMarker>(prepared.Participants.Count);
        foreach (var participant in prepared.Participants)
            markers.Add(new TxnMarker(participant, prepared.ProducerId, prepared.ProducerEpoch, coordinatorEpoch, Result));
        markers.Sort(static (a, b) => string.CompareOrdinal(a.Participant.ToString(), b.Participant.ToString()));
        Markers = markers;
        _unwritten = [.. prepared.Participants];
    }

    public string TransactionalId { get; }

    public int CoordinatorEpoch { get; }

    public TransactionResult Result { get; }

    /// <summary>Every marker of the transaction, in a stable order; written ones stay listed (writing again is harmless).</summary>
    public IReadOnlyList<TxnMarker> Markers { get; }

    /// <summary>Participants whose marker is not yet reported written.</summary>
    public IReadOnlyCollection<TxnParticipant> Unwritten => _unwritten;

    public bool AllWritten => _unwritten.Count == 0;

    internal void MarkWritten(TxnParticipant participant) => _unwritten.Remove(participant);
}
