using System.Diagnostics.CodeAnalysis;
using Microsoft.Extensions.DependencyInjection;
using OrleansStream.Server.Cluster;
using OrleansStream.Server.Controller;

namespace OrleansStream.Server.Transactions.ProducerIds;

/// <summary>
/// The broker's half of KIP-730 (Kafka's <c>RPCProducerIdManager</c>), one per silo: hands out the ids of its current
/// block, asks the controller for the next block once 90 % of the current one is used, so callers rarely wait, and
/// retries a failed request with exponential backoff. Ids left in a block when the silo stops are never used, as in
/// Kafka: the controller never hands a block out twice.
/// </summary>
public sealed partial class ProducerIdManager(
    string brokerId,
    Func<string, Task<AllocateProducerIdsResult>> allocateProducerIds,
    TimeProvider time,
    ILogger<ProducerIdManager> logger) : IProducerIdAllocator, IProducerIdGenerator
{
    /// <summary>Kafka's <c>PidPrefetchThreshold</c>: the share of a block used before the next one is requested.</summary>
    public const double PrefetchThreshold = 0.90;

    public static readonly TimeSpan InitialRetryBackoff = TimeSpan.FromMilliseconds(50);
    public static readonly TimeSpan MaxRetryBackoff = TimeSpan.FromSeconds(1);

    private readonly Lock _lock = new();
    private ProducerIdsBlock? _current;
    private long _nextId;
    private ProducerIdsBlock? _next;
    private Task<Refusal?>? _request;
    private Task? _retryBackoff;
    private TimeSpan _backoff = InitialRetryBackoff;

    /// <summary>
    /// How long one request for a block may go unanswered before it is given up and made again, reaching the
    /// controller's next activation once its silo is declared dead: every InitProducerId of the broker waits for it.
    /// </summary>
    public static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(3);

    /// <summary>
    /// Registered by <c>AddOrleansStream</c>: blocks come from the controller, for this silo's broker id. A request in
    /// flight to a controller whose silo dies is given up when the silo leaves or after <see cref="RequestTimeout"/>:
    /// Orleans would end it only at its response timeout. The block it may still be answered is never used, and the
    /// controller made it durable before answering, so no later block overlaps it.
    /// </summary>
    public static ProducerIdManager Create(IServiceProvider services)
    {
        var grains = services.GetRequiredService<IGrainFactory>();
        var departures = services.GetRequiredService<SiloDepartures>();
        var time = services.GetRequiredService<TimeProvider>();
        return new ProducerIdManager(
            services.GetRequiredService<BrokerIdentity>().BrokerId,
            broker => departures.Call(grains.GetGrain<IControllerInternalGrain>(GrainKeys.Controller).AllocateProducerIds(broker), RequestTimeout, time),
            time,
            services.GetRequiredService<ILogger<ProducerIdManager>>());
    }

    /// <summary>The block ids are taken from now, null before the first block arrived.</summary>
    public ProducerIdsBlock? CurrentBlock
    {
        get { lock (_lock) return _current; }
    }

    /// <summary>The block already fetched for when the current one runs out (prefetched), if any.</summary>
    public ProducerIdsBlock? NextBlock
    {
        get { lock (_lock) return _next; }
    }

    /// <summary>The block request in flight, null when none: it completes once its answer is applied.</summary>
    internal Task? BlockRequest
    {
        get { lock (_lock) return _request; }
    }

    public ValueTask<long> NextProducerIdAsync(CancellationToken cancellationToken)
    {
        return TryNext(out var id, out var wait) ? ValueTask.FromResult(id) : WaitForBlockAsync(wait, cancellationToken);
    }

    /// <summary>The transaction coordinator's synchronous take: false (and a block request started) while no block has an id.</summary>
    public bool TryGenerateProducerId(out long producerId) => TryNext(out producerId, out _);

    private async ValueTask<long> WaitForBlockAsync(Task wait, CancellationToken cancellationToken)
    {
        while (true)
        {
            if (wait is Task<Refusal?> request)
            {
                if (await request.WaitAsync(cancellationToken) is { Retriable: false } refusal)
                    throw new OrleansStreamException(refusal.Error, refusal.Message);
            }
            else await wait.WaitAsync(cancellationToken);
            if (TryNext(out var id, out var next)) return id;
            wait = next;
        }
    }

    /// <summary>Takes an id when a block has one; otherwise says what to wait for: the block request, or the backoff.</summary>
    private bool TryNext(out long id, [NotNullWhen(false)] out Task? wait)
    {
        lock (_lock)
        {
            while (true)
            {
                if (_current is { } block && _nextId <= block.LastProducerId)
                {
                    id = _nextId++;
                    if (_next is null && (id - block.FirstProducerId + 1) >= block.Size * PrefetchThreshold) StartRequest();
                    wait = null;
                    return true;
                }
                if (_next is { } next)
                {
                    _current = next;
                    _next = null;
                    _nextId = next.FirstProducerId;
                    continue;
                }
                id = -1;
                wait = StartRequest();
                return false;
            }
        }
    }

    /// <summary>Starts a block request unless one runs or the backoff holds (caller holds the lock); returns what runs.</summary>
    private Task StartRequest()
    {
        if (_request is { } request) return request;
        if (_retryBackoff is { IsCompleted: false } backoff) return backoff;
        // Off the caller's grain turn: the request outlives the call that started it, and any grain may start it.
        return _request = Task.Run(RequestBlockAsync);
    }

    private async Task<Refusal?> RequestBlockAsync()
    {
        Refusal? refusal;
        try
        {
            var result = await allocateProducerIds(brokerId);
            refusal = result is { Error: ErrorCode.None, Block: { } block } ? Accept(block) : Refused(result);
        }
        catch (Exception e)
        {
            LogRequestFailed(e, brokerId);
            refusal = new Refusal(ErrorCode.CoordinatorLoadInProgress, $"Producer ids could not be requested from the controller: {e.Message}", true);
        }
        lock (_lock)
        {
            _request = null;
            if (refusal is null) _backoff = InitialRetryBackoff;
            else
            {
                _retryBackoff = Task.Delay(_backoff, time);
                _backoff = _backoff * 2 < MaxRetryBackoff ? _backoff * 2 : MaxRetryBackoff;
            }
        }
        return refusal;
    }

    private Refusal? Accept(ProducerIdsBlock block)
    {
        lock (_lock)
        {
            // Kafka's check: a block must lie above every id this broker has seen, else ids could repeat.
            var last = _next ?? _current;
            if (block.AssignedBroker != brokerId || block.Size <= 0 || (last is not null && block.FirstProducerId <= last.LastProducerId))
            {
                LogBlockRejected(brokerId, block.FirstProducerId, block.Size, block.AssignedBroker, last?.LastProducerId ?? -1);
                return new Refusal(ErrorCode.UnknownServerError, $"The controller's producer id block {block} does not follow {last}.", true);
            }
            if (_current is null || _nextId > _current.LastProducerId)
            {
                _current = block;
                _nextId = block.FirstProducerId;
            }
            else _next = block;
        }
        LogBlockReceived(brokerId, block.FirstProducerId, block.LastProducerId);
        return null;
    }

    private Refusal Refused(AllocateProducerIdsResult result)
    {
        LogRefused(brokerId, result.Error, result.ErrorMessage);
        // The controller moved or reloaded its state: ask again. Anything else is answered to the callers waiting now.
        var error = result.Error == ErrorCode.None ? ErrorCode.UnknownServerError : result.Error;
        var retriable = error is ErrorCode.NotController or ErrorCode.CoordinatorLoadInProgress or ErrorCode.UnknownServerError;
        return new Refusal(error, result.ErrorMessage ?? $"The controller refused producer ids: {error}.", retriable);
    }

    private sealed record Refusal(ErrorCode Error, string Message, bool Retriable);

    [LoggerMessage(Level = LogLevel.Information, Message = "Broker {Broker} received producer ids {First}..{Last}")]
    private partial void LogBlockReceived(string broker, long first, long last);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Broker {Broker} could not request producer ids; it retries")]
    private partial void LogRequestFailed(Exception e, string broker);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The controller refused producer ids to broker {Broker}: {Error} {Message}")]
    private partial void LogRefused(string broker, ErrorCode error, string? message);

    [LoggerMessage(Level = LogLevel.Error, Message = "Broker {Broker} rejected producer id block {First}+{Size} for {Assigned}: not above {Last}")]
    private partial void LogBlockRejected(string broker, long first, int size, string assigned, long last);
}
