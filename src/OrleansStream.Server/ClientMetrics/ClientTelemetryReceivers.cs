using System.Net.Http.Headers;
using System.Threading.Channels;
using Microsoft.Extensions.Options;
using OrleansStream.Server.Diagnostics;

namespace OrleansStream.Server.ClientMetrics;

/// <summary>Counts each push and its metrics bytes in the broker's own metrics, by the client's software name.</summary>
public sealed class ClientTelemetryMetricsReceiver(OrleansStreamMetrics metrics) : IClientTelemetryReceiver
{
    /// <summary>Counting is no destination: alone it does not make the broker ask clients for their metrics.</summary>
    public bool ReceivesTelemetry => false;

    public void Export(in ClientTelemetryPayload payload)
    {
        var tag = new KeyValuePair<string, object?>("client_software_name", payload.Client.SoftwareName ?? "unknown");
        metrics.ClientTelemetryPushes.Add(1, tag);
        metrics.ClientTelemetryBytes.Add(payload.MetricsData.Length, tag);
    }
}

/// <summary>
/// Forwards each push's metrics to an OTLP/HTTP collector (<c>POST {OtlpEndpoint}/v1/metrics</c>,
/// <c>application/x-protobuf</c>: KIP-714's <c>MetricsData</c> and OTLP's <c>ExportMetricsServiceRequest</c> share
/// their wire form), one post at a time off the request path. Pushes wait in a bounded queue; one that finds it full
/// is dropped and counted, as is one whose post fails. Does nothing without an endpoint.
/// </summary>
public sealed partial class OtlpMetricsForwarder : IClientTelemetryReceiver, ILifecycleParticipant<ISiloLifecycle>, IDisposable
{
    private static readonly KeyValuePair<string, object?> QueueFull = new("reason", "queue_full");
    private static readonly KeyValuePair<string, object?> Failed = new("reason", "failed");
    private static readonly MediaTypeHeaderValue Protobuf = new("application/x-protobuf");

    private readonly Uri? _target;
    private readonly Channel<byte[]>? _queue;
    private readonly HttpClient? _http;
    private readonly OrleansStreamMetrics _metrics;
    private readonly ILogger<OtlpMetricsForwarder> _logger;
    private readonly CancellationTokenSource _stopping = new();
    private Task? _pump;
    private int _disposed;

    public OtlpMetricsForwarder(IOptions<ClientMetricsOptions> options, OrleansStreamMetrics metrics, ILogger<OtlpMetricsForwarder> logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        _metrics = metrics;
        _logger = logger;
        if (options.Value.OtlpEndpoint is not { Length: > 0 } endpoint) return;
        _target = new Uri(endpoint.TrimEnd('/') + "/v1/metrics");
        _queue = Channel.CreateBounded<byte[]>(new BoundedChannelOptions(options.Value.OtlpQueueCapacity)
        {
            SingleReader = true,
            FullMode = BoundedChannelFullMode.Wait,
        });
        _http = new HttpClient { Timeout = TimeSpan.FromMilliseconds(options.Value.OtlpTimeoutMs) };
    }

    /// <summary>Where pushes are posted; null when forwarding is off.</summary>
    public Uri? Target => _target;

    public bool ReceivesTelemetry => _target is not null;

    public void Export(in ClientTelemetryPayload payload)
    {
        if (_queue is null) return;
        if (!_queue.Writer.TryWrite(payload.MetricsData.ToArray()))
            _metrics.ClientTelemetryForwardDropped.Add(1, QueueFull);
    }

    public void Participate(ISiloLifecycle lifecycle) =>
        lifecycle.Subscribe(nameof(OtlpMetricsForwarder), ServiceLifecycleStage.Active, OnStart, OnStop);

    private Task OnStart(CancellationToken ct)
    {
        if (_queue is not null) _pump = Task.Run(PumpAsync);
        return Task.CompletedTask;
    }

    private async Task OnStop(CancellationToken ct)
    {
        _queue?.Writer.TryComplete();
        await _stopping.CancelAsync();
        if (_pump is { } pump) await pump.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }

    private async Task PumpAsync()
    {
        await foreach (var metrics in _queue!.Reader.ReadAllAsync(_stopping.Token))
        {
            try
            {
                using var content = new ByteArrayContent(metrics);
                content.Headers.ContentType = Protobuf;
                using var response = await _http!.PostAsync(_target, content, _stopping.Token);
                if (!response.IsSuccessStatusCode)
                {
                    _metrics.ClientTelemetryForwardDropped.Add(1, Failed);
                    LogRejected(_target!, (int)response.StatusCode);
                }
            }
            catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (e is HttpRequestException or OperationCanceledException)
            {
                _metrics.ClientTelemetryForwardDropped.Add(1, Failed);
                LogPostFailed(_target!, e.Message);
            }
        }
    }

    /// <summary>Idempotent: the container disposes the one instance once per registration that hands it out.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        _stopping.Cancel();
        _stopping.Dispose();
        _http?.Dispose();
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "The OTLP collector at {Target} refused client metrics with HTTP {Status}")]
    private partial void LogRejected(Uri target, int status);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Posting client metrics to the OTLP collector at {Target} failed: {Reason}")]
    private partial void LogPostFailed(Uri target, string reason);
}
