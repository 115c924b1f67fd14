using System.Net;
using System.Security.Cryptography.X509Certificates;
using OrleansStream.Protocol;
using OrleansStream.Server.Kafka.Security;
using OrleansStream.Server.Security.Authorization;

namespace OrleansStream.Server.Kafka;

/// <summary>What the listener knows of one client connection; one request at a time uses it.</summary>
public sealed class KafkaConnection(KafkaListener listener, EndPoint? remote, SaslServerAuthenticator? sasl = null, X509Certificate2? clientCertificate = null)
{
    private string? _principal;
    private string? _quotaPrincipal;
    private string? _quotaUser;

    public KafkaListener Listener { get; } = listener;

    /// <summary>The listener the client connected to: Metadata answers with the brokers' advertised addresses of that name.</summary>
    public string ListenerName => Listener.Name;

    /// <summary>The connection's SASL state on a SASL listener; null on the others.</summary>
    public SaslServerAuthenticator? Sasl { get; } = sasl;

    /// <summary>Set by a handler whose answer ends the connection (a SASL failure, as Kafka closes then): why, for the log.</summary>
    public string? CloseAfterResponse { get; set; }

    public EndPoint? Remote { get; } = remote;

    /// <summary>
    /// Kafka's principal of the connection (<c>DefaultKafkaPrincipalBuilder</c>): <c>User:</c> and the SASL user once
    /// authenticated, or the client certificate's subject (RFC 2253) on an SSL listener, else <c>User:ANONYMOUS</c>.
    /// </summary>
    public string Principal
    {
        get
        {
            if (_principal is { } principal) return principal;
            if (Sasl is { } sasl)
                return sasl.IsAuthenticated ? _principal = "User:" + sasl.User : KafkaAuthorizer.Anonymous;
            return _principal = clientCertificate is null ? KafkaAuthorizer.Anonymous : "User:" + KafkaPrincipals.DistinguishedName(clientCertificate);
        }
    }

    /// <summary>Kafka's quota user of the connection: <see cref="Principal"/>'s name without its <c>User:</c> type, made once per principal.</summary>
    public string QuotaUser
    {
        get
        {
            var principal = Principal;
            if (!ReferenceEquals(principal, _quotaPrincipal)) (_quotaPrincipal, _quotaUser) = (principal, Quotas.ClientQuotaManager.UserOf(principal));
            return _quotaUser!;
        }
    }

    /// <summary>The client's address as Kafka's ACL hosts name it (<c>InetAddress.getHostAddress</c>: <c>127.0.0.1</c>).</summary>
    public string ClientHost { get; } = KafkaPrincipals.HostOf(remote);

    /// <summary>
    /// The client telemetry instance (KIP-714) this connection's request made, if any: Kafka's <c>clientConnectionIdMap</c>
    /// entry, by which the instance is forgotten when the connection closes (<see cref="ClientMetrics.ClientMetricsManager.ConnectionClosed"/>).
    /// </summary>
    public ClientMetrics.ClientMetricsInstance? TelemetryInstance { get; set; }

    /// <summary>ApiVersions v3's client software name and version, for logs.</summary>
    public string? ClientSoftware { get; set; }

    /// <summary>ApiVersions v3's client software name, which client telemetry subscriptions match (KIP-714's <c>client_software_name</c>).</summary>
    public string? ClientSoftwareName { get; set; }

    /// <summary>ApiVersions v3's client software version (KIP-714's <c>client_software_version</c>).</summary>
    public string? ClientSoftwareVersion { get; set; }

    /// <summary>
    /// Set by a handler whose client went over its quota (Kafka's throttle time, KIP-219): the listener reads the
    /// connection's next request only after this many milliseconds, as Kafka mutes a throttled client's channel.
    /// </summary>
    public int ThrottleTimeMs { get; set; }

    /// <summary>
    /// Set by a handler whose grain call failed while it may still read the request's bytes (a timed-out produce that
    /// is still queued): the frame's buffer is then left to the garbage collector instead of going back to the pool.
    /// </summary>
    public bool RetainFrame { get; set; }
}

/// <summary>One request: its header, its body (a view of the frame's pooled buffer) and its connection.</summary>
public readonly record struct KafkaRequest(RequestHeader Header, ReadOnlyMemory<byte> Body, KafkaConnection Connection)
{
    public short Version => Header.ApiVersion;

    public KafkaReader Reader() => new(Body.Span);

    /// <summary>Whether this request's principal, from its host, may do <paramref name="operation"/> on the resource.</summary>
    public bool IsAllowed(KafkaAuthorizer authorizer, AclOperation operation, AclResourceType type, string name) =>
        !authorizer.IsEnabled || authorizer.IsAllowed(Connection.Principal, Connection.ClientHost, operation, type, name);

    /// <summary>
    /// The authorized-operations bit field of a resource (Kafka's <c>AuthHelper.authorizedOperations</c>): the operations
    /// of its type the principal may do, or every one without an authorizer.
    /// </summary>
    public int AuthorizedOperations(KafkaAuthorizer authorizer, AclResourceType type, string name) =>
        authorizer.IsEnabled
            ? authorizer.AuthorizedOperations(Connection.Principal, Connection.ClientHost, type, name, SupportedOperations.Of(type))
            : SupportedOperations.All(type);

    /// <summary>Whether this request may do <paramref name="operation"/> on the cluster.</summary>
    public bool IsAllowedOnCluster(KafkaAuthorizer authorizer, AclOperation operation) =>
        IsAllowed(authorizer, operation, AclResourceType.Cluster, AclBinding.ClusterName);
}

/// <summary>Answers one Kafka API. The listener has checked that the version is advertised (except for ApiVersions).</summary>
public interface IKafkaApiHandler
{
    ApiKey ApiKey { get; }

    /// <summary>Reads the request body and writes the response body; false when no response goes back (an acks=0 produce).</summary>
    ValueTask<bool> HandleAsync(KafkaRequest request, KafkaWriter response);
}

/// <summary>Reads one request message of <paramref name="version"/>.</summary>
public delegate T MessageReader<out T>(ref KafkaReader reader, short version);

/// <summary>The usual handler: reads its request message with <paramref name="read"/>, then answers it.</summary>
public abstract class KafkaApiHandler<TRequest>(ApiKey apiKey, MessageReader<TRequest> read) : IKafkaApiHandler
{
    public ApiKey ApiKey => apiKey;

    public ValueTask<bool> HandleAsync(KafkaRequest request, KafkaWriter response)
    {
        var reader = request.Reader();
        return AnswerAsync(read(ref reader, request.Version), request, response);
    }

    /// <summary>Writes the response body; false when no response goes back.</summary>
    protected abstract ValueTask<bool> AnswerAsync(TRequest body, KafkaRequest request, KafkaWriter response);
}
