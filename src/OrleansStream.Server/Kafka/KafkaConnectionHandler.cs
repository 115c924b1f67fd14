using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;
using System.Net;
using System.Runtime.CompilerServices;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;
using OrleansStream.Protocol;
using OrleansStream.Records;
using OrleansStream.Server.Diagnostics;
using OrleansStream.Server.Kafka.Security;
using OrleansStream.Server.Security.Authorization;

namespace OrleansStream.Server.Kafka;

/// <summary>
/// One Kafka client connection (Kafka's SocketServer processor and request channel for it). Requests are read one
/// frame at a time and answered in order, each before the next is read, as Kafka mutes a connection while a request
/// is in flight; a long-poll or a JoinGroup waits only on its own connection. A frame larger than
/// <c>socket.request.max.bytes</c> closes the connection before it is read, and so does a malformed request or an
/// API or version this broker does not advertise (<see cref="ApiVersionManager"/>; ApiVersions excepted, which answers UnsupportedVersion). A connection
/// that sends nothing for <c>connections.max.idle.ms</c> is closed, and one beyond <c>max.connections.per.ip</c> from
/// its address is closed at once; new connections over <c>max.connection.creation.rate</c> or beyond
/// <c>max.connections</c> wait unread (<see cref="Quotas.ConnectionQuotas"/>). On a SASL listener a connection is served only ApiVersions, SaslHandshake and
/// SaslAuthenticate until it has authenticated; any other request closes it (Kafka's IllegalSaslState). SSL and
/// SASL_SSL listeners get TLS from Kestrel's middleware before bytes reach this handler.
/// </summary>
public sealed partial class KafkaConnectionHandler : ConnectionHandler
{
    private const int MaxRetainedResponseBytes = 64 * 1024;
    private const int FlushSliceBytes = 256 * 1024;

    private readonly Dictionary<ApiKey, IKafkaApiHandler> _handlers = [];
    private readonly ApiVersionManager _advertised;
    private readonly ClientMetrics.ClientMetricsManager _telemetry;
    private readonly IReadOnlyList<KafkaListener> _listeners;
    private readonly SaslCredentialStore _credentials;
    private readonly Protocol.Sasl.IOAuthBearerValidator? _oauthBearer;
    private readonly int _maxRequestBytes;
    private readonly TimeSpan _maxIdle;
    /// <summary>Each listener's connections.max.reauth.ms by mechanism, made once rather than per connection.</summary>
    private readonly Dictionary<string, Func<string, long>> _reauthLimits = new(StringComparer.Ordinal);
    private readonly Quotas.ConnectionQuotas _connectionQuotas;
    private readonly TimeProvider _time;
    private readonly OrleansStreamMetrics _metrics;
    private readonly KafkaAuthorizer _authorizer;
    private readonly Quotas.ClientQuotaManager _quotas;
    private readonly ILogger<KafkaConnectionHandler> _logger;

    public KafkaConnectionHandler(IEnumerable<IKafkaApiHandler> handlers, IOptions<BrokerOptions> options, SaslCredentialStore credentials,
        OrleansStreamMetrics metrics, KafkaAuthorizer authorizer, Quotas.ClientQuotaManager quotas, Quotas.ConnectionQuotas connectionQuotas, TimeProvider time,
        ILogger<KafkaConnectionHandler> logger, ApiVersionManager advertised, ClientMetrics.ClientMetricsManager telemetry,
        Security.OAuthBearer.OAuthBearerValidators? oauthBearer = null)
    {
        ArgumentNullException.ThrowIfNull(handlers);
        _advertised = advertised;
        _telemetry = telemetry;
        ArgumentNullException.ThrowIfNull(options);
        foreach (var h in handlers) _handlers[h.ApiKey] = h;
        _listeners = KafkaListeners.Bound(options.Value);
        _credentials = credentials;
        _oauthBearer = oauthBearer?.Validator;
        _maxRequestBytes = options.Value.SocketRequestMaxBytes;
        _maxIdle = TimeSpan.FromMilliseconds(options.Value.ConnectionsMaxIdleMs);
        var broker = options.Value;
        foreach (var l in _listeners)
        {
            var name = l.Name;
            _reauthLimits[name] = mechanism => broker.ConnectionsMaxReauthMsFor(name, mechanism);
        }
        _connectionQuotas = connectionQuotas;
        _time = time;
        _metrics = metrics;
        _authorizer = authorizer;
        _quotas = quotas;
        _logger = logger;
    }

    /// <summary>The APIs that have a handler; every advertised API must be among them.</summary>
    public IReadOnlyCollection<ApiKey> HandledApis => _handlers.Keys;

    public override async Task OnConnectedAsync(ConnectionContext connection)
    {
        ArgumentNullException.ThrowIfNull(connection);
        var listener = ListenerOf(connection.LocalEndPoint);
        var state = new KafkaConnection(listener, connection.RemoteEndPoint,
            listener.RequiresSasl ? new SaslServerAuthenticator(_credentials, _metrics, _time, _reauthLimits[listener.Name], _oauthBearer) : null,
            connection.Features.Get<ITlsConnectionFeature>()?.ClientCertificate);
        var address = (connection.RemoteEndPoint as IPEndPoint)?.Address;
        // Kafka's ConnectionQuotas.inc: the broker-wide rate and max.connections first (the acceptor waits), then the
        // IP's rate (closed after a wait) and max.connections.per.ip (closed).
        try
        {
            if (await _connectionQuotas.WaitForCreationSlotAsync(connection.ConnectionClosed) is > 0 and var heldMs)
                LogConnectionHeld(connection.RemoteEndPoint, heldMs);
        }
        catch (OperationCanceledException)
        {
            return;
        }
        if (!await _connectionQuotas.WaitForConnectionSlotAsync(connection.ConnectionClosed)) return;
        try
        {
            await ServeAsync(connection, state, address);
        }
        finally
        {
            _connectionQuotas.ReleaseConnectionSlot();
        }
    }

    /// <summary>A connection within the broker's limits: the IP's checks, then its requests until it closes.</summary>
    private async Task ServeAsync(ConnectionContext connection, KafkaConnection state, IPAddress? address)
    {
        if (address is not null && _quotas.RecordConnectionAndGetThrottleTimeMs(address) is > 0 and var throttleMs)
        {
            // Kafka's acceptor holds a connection over its IP's connection_creation_rate for the throttle time, unread,
            // then closes it (DelayedCloseSocket): the client's reconnect backoff starts after that.
            // Counted, and logged at Debug only (as Kafka does): a connection storm is what this quota is for.
            _metrics.KafkaRequestsRefused.Add(1, new KeyValuePair<string, object?>("reason", "connection_rate"));
            LogConnectionThrottled(address, throttleMs);
            try
            {
                await Task.Delay(TimeSpan.FromMilliseconds(throttleMs), _time, connection.ConnectionClosed);
            }
            catch (OperationCanceledException)
            {
            }
            return;
        }
        if (address is not null && !_connectionQuotas.TryAddConnection(address))
        {
            Refuse(state, "too_many_connections", $"more than {_connectionQuotas.MaxConnectionsPerIp} connections from {address} (max.connections.per.ip)");
            return;
        }
        var input = connection.Transport.Input;
        var output = connection.Transport.Output;
        using var writer = new KafkaWriter();
        using var idle = new CancellationTokenSource(Timeout.InfiniteTimeSpan, _time);
        _metrics.KafkaConnections.Add(1);
        try
        {
            while (true)
            {
                // The idle clock runs only while waiting for the client: a long JoinGroup or fetch does not count.
                idle.CancelAfter(_maxIdle);
                var result = await input.ReadAsync(idle.Token);
                idle.CancelAfter(Timeout.InfiniteTimeSpan);
                var buffer = result.Buffer;
                if (buffer.Length >= 4)
                {
                    var size = FrameSize(buffer);
                    if (size < 0 || size > _maxRequestBytes)
                    {
                        Refuse(state, "oversized", $"a frame of {size} bytes (socket.request.max.bytes is {_maxRequestBytes})");
                        return;
                    }
                    if (buffer.Length >= 4L + size)
                    {
                        var frame = RecordsBufferPool.Default.Rent(Math.Max(size, 1));
                        buffer.Slice(4, size).CopyTo(frame);
                        input.AdvanceTo(buffer.GetPosition(4 + size));
                        state.RetainFrame = false;
                        bool open;
                        try
                        {
                            open = await HandleAsync(frame.AsMemory(0, size), state, writer, output);
                        }
                        finally
                        {
                            if (!state.RetainFrame) RecordsBufferPool.Default.Return(frame);
                        }
                        if (!open) return;
                        if (state.ThrottleTimeMs > 0) await ThrottleAsync(state, connection.ConnectionClosed);
                        continue;
                    }
                }
                if (result.IsCompleted || result.IsCanceled) return;
                input.AdvanceTo(buffer.Start, buffer.End);
            }
        }
        catch (ConnectionResetException)
        {
        }
        catch (OperationCanceledException) when (idle.IsCancellationRequested)
        {
            LogIdleClosed(state.Remote, state.ClientSoftware, _maxIdle.TotalMilliseconds);
        }
        catch (OperationCanceledException)
        {
        }
        finally
        {
            _metrics.KafkaConnections.Add(-1);
            if (address is not null) _connectionQuotas.RemoveConnection(address);
            _telemetry.ConnectionClosed(state);
        }
    }

    /// <summary>
    /// Kafka mutes a throttled client's channel once its answer is sent (KIP-219): the client waits the throttle time
    /// the answer gives, and a client that does not is not read meanwhile.
    /// </summary>
    private async Task ThrottleAsync(KafkaConnection state, CancellationToken closed)
    {
        var throttle = TimeSpan.FromMilliseconds(state.ThrottleTimeMs);
        state.ThrottleTimeMs = 0;
        await Task.Delay(throttle, _time, closed);
    }

    private static int FrameSize(ReadOnlySequence<byte> buffer)
    {
        Span<byte> prefix = stackalloc byte[4];
        buffer.Slice(0, 4).CopyTo(prefix);
        return BinaryPrimitives.ReadInt32BigEndian(prefix);
    }

    /// <summary>Answers one request; false when the connection must close.</summary>
    /// <remarks>Pooled: most requests wait on a grain call, and an unpooled builder allocates its state machine then.</remarks>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<bool> HandleAsync(ReadOnlyMemory<byte> frame, KafkaConnection state, KafkaWriter writer, PipeWriter output)
    {
        if (state.Sasl is { } sasl)
        {
            // Kafka's processor checks each request it receives, a re-authenticating SaslHandshake too.
            if (sasl.SessionExpired)
            {
                Refuse(state, "session_expired", $"a request after its SASL session of {sasl.SessionLifetimeMs} ms expired (connections.max.reauth.ms or the credential's expiry; the client did not re-authenticate)");
                return false;
            }
            if (sasl.AwaitsRawToken) return await AnswerRawTokenAsync(sasl, frame, state, writer, output);
        }
        KafkaRequest request;
        try
        {
            var reader = new KafkaReader(frame.Span);
            var header = RequestHeader.Read(ref reader);
            request = new KafkaRequest(header, frame[reader.Position..], state);
        }
        catch (KafkaProtocolException e)
        {
            Refuse(state, "malformed", e.Message);
            return false;
        }
        var key = request.Header.ApiKey;
        if (!_handlers.TryGetValue(key, out var handler) || (key != ApiKey.ApiVersions && !_advertised.IsSupported(key, request.Version)))
        {
            Refuse(state, "unsupported", $"{key} v{request.Version}, which this broker does not advertise");
            return false;
        }
        if (state.Sasl is { } authenticator && !authenticator.Allows(key))
        {
            Refuse(state, "unauthenticated", $"{key} {(authenticator.IsReauthenticating ? "during SASL re-authentication" : "before SASL authentication")} on listener {state.ListenerName} (IllegalSaslState)");
            return false;
        }
        if (!_authorizer.Loaded.IsCompleted && key != ApiKey.ApiVersions)
            await WaitForAsync(_authorizer.Loaded, "the cluster's ACLs; until it has, only super users are authorized");
        if (key == ApiKey.SaslHandshake && !_credentials.Loaded.IsCompleted)
            await WaitForAsync(_credentials.Loaded, "the SCRAM credentials stored at the controller; until it has, only the configured users authenticate");
        writer.Reset();
        var responseFrame = request.Header.BeginResponse(writer);
        bool respond;
        try
        {
            respond = await handler.HandleAsync(request, writer);
        }
        catch (KafkaProtocolException e)
        {
            Refuse(state, "malformed", $"{key} v{request.Version}: {e.Message}");
            return false;
        }
        catch (Exception e)
        {
            LogRequestFailed(e, key, request.Version, state.Remote);
            return false;
        }
        if (!respond) return true;
        writer.EndFrame(responseFrame);
        var flushed = writer.HasReferences ? await WriteLargeAsync(writer.WrittenSequence, output) : await output.WriteAsync(writer.WrittenMemory);
        // The pipe has its own copy: an idle connection keeps a small writer, not its largest fetch response.
        writer.ResetAndTrim(MaxRetainedResponseBytes);
        if (state.CloseAfterResponse is { } reason)
        {
            Refuse(state, "sasl", reason);
            return false;
        }
        return !flushed.IsCompleted && !flushed.IsCanceled;
    }

    /// <summary>
    /// A starting broker serves what needs the controller's security state once it holds it, as Kafka's broker opens
    /// its listeners only after catching up with the metadata log: the cluster's ACLs before any request, the SCRAM
    /// credentials stored at the controller before a SASL handshake (so a user created at run time is not refused by a
    /// broker that has not asked yet). Past <see cref="MetadataCache.ControllerWait"/> the request goes on (checks of
    /// principals that are not super users deny, only configured users authenticate) and <paramref name="late"/> is
    /// logged.
    /// </summary>
    private async Task WaitForAsync(Task loaded, string late)
    {
        try
        {
            await loaded.WaitAsync(MetadataCache.ControllerWait, _time);
        }
        catch (TimeoutException)
        {
            LogNotLoaded(late, MetadataCache.ControllerWait.TotalSeconds);
        }
    }

    /// <summary>
    /// A response with bytes written by reference (a fetch's record batches): copied into the pipe a slice at a time,
    /// each flushed to the socket before the next, so the connection never holds a whole multi-megabyte response.
    /// </summary>
    private static async ValueTask<FlushResult> WriteLargeAsync(ReadOnlySequence<byte> response, PipeWriter output)
    {
        var unflushed = 0;
        foreach (var memory in response)
            for (var at = 0; at < memory.Length;)
            {
                var slice = Math.Min(FlushSliceBytes - unflushed, memory.Length - at);
                output.Write(memory.Span.Slice(at, slice));
                at += slice;
                unflushed += slice;
                if (unflushed < FlushSliceBytes) continue;
                var flushed = await output.FlushAsync();
                if (flushed.IsCompleted || flushed.IsCanceled) return flushed;
                unflushed = 0;
            }
        return await output.FlushAsync();
    }

    /// <summary>Kafka's legacy SASL framing after SaslHandshake v0: a bare token in, a bare token out; a failure closes.</summary>
    private async Task<bool> AnswerRawTokenAsync(SaslServerAuthenticator sasl, ReadOnlyMemory<byte> token, KafkaConnection state, KafkaWriter writer, PipeWriter output)
    {
        var step = sasl.EvaluateRawToken(token.Span);
        if (step.Outcome == Protocol.Sasl.SaslOutcome.Failed)
        {
            Refuse(state, "sasl", $"SASL/{sasl.Mechanism} authentication of '{sasl.User}' on listener {state.ListenerName}: {step.Error}");
            return false;
        }
        writer.Reset();
        writer.WriteBytes(step.Challenge, flexible: false);
        var flushed = await output.WriteAsync(writer.WrittenMemory);
        return !flushed.IsCompleted && !flushed.IsCanceled;
    }

    private void Refuse(KafkaConnection state, string reason, string detail)
    {
        _metrics.KafkaRequestsRefused.Add(1, new KeyValuePair<string, object?>("reason", reason));
        LogRefused(state.Remote, state.ClientSoftware, detail);
    }

    private KafkaListener ListenerOf(EndPoint? local)
    {
        if (local is IPEndPoint ip)
            foreach (var l in _listeners)
                if (l.Endpoint.Port == ip.Port) return l;
        return _listeners.Count > 0 ? _listeners[0]
            : new KafkaListener(new KafkaListenerEndpoint(KafkaListeners.Plaintext, "", 0), KafkaSecurityProtocol.Plaintext);
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "A Kafka connection from {Address} is over its IP's connection_creation_rate: closed after {ThrottleMs} ms")]
    private partial void LogConnectionThrottled(IPAddress address, int throttleMs);

    [LoggerMessage(Level = LogLevel.Debug, Message = "A Kafka connection from {Remote} waited {HeldMs} ms for max.connection.creation.rate")]
    private partial void LogConnectionHeld(EndPoint? remote, int heldMs);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Closing the Kafka connection from {Remote} ({Client}): {Detail}")]
    private partial void LogRefused(EndPoint? remote, string? client, string detail);

    [LoggerMessage(Level = LogLevel.Information, Message = "Closing the Kafka connection from {Remote} ({Client}): idle for {IdleMs} ms (connections.max.idle.ms)")]
    private partial void LogIdleClosed(EndPoint? remote, string? client, double idleMs);

    [LoggerMessage(Level = LogLevel.Error, Message = "{Api} v{Version} from {Remote} failed; closing the connection")]
    private partial void LogRequestFailed(Exception e, ApiKey api, short version, EndPoint? remote);

    [LoggerMessage(Level = LogLevel.Warning, Message = "After {Seconds} s the broker has not loaded {What}")]
    private partial void LogNotLoaded(string what, double seconds);
}
