using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Orleans.Connections.Security;
using OrleansStream.Security;

namespace OrleansStream.Client.Connection;

/// <summary>TLS to the gateways from Kafka's <c>ssl.*</c> keys: the client's certificate, if any, and how the gateway's is judged.</summary>
internal sealed class GatewayTls(X509Certificate2? clientCertificate, PeerCertificatePolicy policy)
{
    public X509Certificate2? ClientCertificate { get; } = clientCertificate;

    public PeerCertificatePolicy Policy { get; } = policy;

    /// <summary>Null for <c>security.protocol=plaintext</c>; fails with <see cref="ErrorCode.InvalidConfig"/> naming the key at fault.</summary>
    public static GatewayTls? From(Config config)
    {
        if ((config.SecurityProtocol ?? SecurityProtocol.Plaintext) != SecurityProtocol.Ssl)
        {
            foreach (var (key, _) in config)
                Config.Require(!key.StartsWith("ssl.", StringComparison.Ordinal), key, "needs security.protocol=ssl");
            return null;
        }
        Config.Require(config.SslKeystoreLocation is null || config.SslCertificateLocation is null, "ssl.keystore.location",
            "and ssl.certificate.location are two ways to give the client's certificate: set one");
        Config.Require(config.SslKeyLocation is null || config.SslCertificateLocation is not null, "ssl.key.location", "needs ssl.certificate.location");
        var checkName = (config.SslEndpointIdentificationAlgorithm ?? SslEndpointIdentificationAlgorithm.Https) == SslEndpointIdentificationAlgorithm.Https;
        X509Certificate2Collection? authorities = null;
        if (config.SslCaLocation is { } ca) authorities = Load("ssl.ca.location", () => TlsCertificates.LoadAuthorities(ca));
        X509Certificate2? certificate = null;
        if (config.SslKeystoreLocation is { } keystore)
            certificate = Load("ssl.keystore.location", () => TlsCertificates.LoadCertificate(keystore, null, config.SslKeystorePassword));
        else if (config.SslCertificateLocation is { } pem)
            certificate = Load("ssl.certificate.location", () => TlsCertificates.LoadCertificate(pem, config.SslKeyLocation, config.SslKeyPassword));
        return new GatewayTls(certificate, new PeerCertificatePolicy(authorities, null, checkName));
    }

    /// <summary>Orleans' client TLS middleware; the address dialled is the name the gateway's certificate must carry.</summary>
    public void Configure(TlsOptions options)
    {
        options.LocalCertificate = ClientCertificate;
        options.ClientCertificateMode = ClientCertificate is null ? RemoteCertificateMode.NoCertificate : RemoteCertificateMode.RequireCertificate;
        options.RemoteCertificateMode = RemoteCertificateMode.RequireCertificate;
        options.RemoteCertificateValidation = Policy.Accepts;
        options.OnAuthenticateAsClient = static (context, authentication) =>
        {
            if (context.RemoteEndPoint is IPEndPoint remote) authentication.TargetHost = remote.Address.ToString();
        };
    }

    /// <summary>
    /// A handshake with <paramref name="gateway"/>: null when it succeeded, else why not. It proves the gateway's
    /// certificate; the gateway judges the client's only after the handshake (see <see cref="RefusalAfterHandshakeAsync"/>).
    /// </summary>
    public async Task<string?> HandshakeAsync(Stream transport, IPEndPoint gateway, CancellationToken cancellationToken)
    {
        var (ssl, failure) = await AuthenticateAsync(transport, gateway, cancellationToken).ConfigureAwait(false);
        if (ssl is not null) await ssl.DisposeAsync().ConfigureAwait(false);
        return failure;
    }

    /// <summary>
    /// Why <paramref name="gateway"/> refuses this client, or null when it does not. A gateway checks the client's
    /// certificate after the TLS handshake and closes the connection when it refuses it; one that accepts waits for
    /// Orleans' preamble, so silence for <paramref name="verdictWait"/> means accepted.
    /// </summary>
    public async Task<string?> RefusalAfterHandshakeAsync(IPEndPoint gateway, TimeSpan verdictWait, CancellationToken cancellationToken)
    {
        using var socket = new Socket(gateway.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            await socket.ConnectAsync(gateway, cancellationToken).ConfigureAwait(false);
        }
        catch (SocketException)
        {
            return null;
        }
        var transport = new NetworkStream(socket, ownsSocket: false);
        await using (transport.ConfigureAwait(false))
        {
            var (ssl, failure) = await AuthenticateAsync(transport, gateway, cancellationToken).ConfigureAwait(false);
            if (ssl is null) return failure;
            await using (ssl.ConfigureAwait(false))
            {
                using var wait = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                wait.CancelAfter(verdictWait);
                try
                {
                    await ssl.ReadAsync(new byte[1], wait.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                    return null;
                }
                catch (Exception e) when (e is IOException or AuthenticationException)
                {
                }
                return ClientCertificate is null
                    ? "SSL handshake failed: the gateway requires a client certificate and none is configured (ssl.certificate.location)"
                    : $"SSL handshake failed: the gateway refused the client certificate '{ClientCertificate.Subject}'";
            }
        }
    }

    private async Task<(SslStream? Stream, string? Failure)> AuthenticateAsync(Stream transport, IPEndPoint gateway, CancellationToken cancellationToken)
    {
        string? refusal = null;
        var options = new SslClientAuthenticationOptions
        {
            TargetHost = gateway.Address.ToString(),
            CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
            ClientCertificates = ClientCertificate is null ? null : [ClientCertificate],
            RemoteCertificateValidationCallback = (_, certificate, chain, errors) =>
            {
                refusal = certificate is null
                    ? "the gateway presented no certificate"
                    : Policy.Refusal(certificate as X509Certificate2 ?? X509CertificateLoader.LoadCertificate(certificate.GetRawCertData()), chain, errors);
                return refusal is null;
            },
        };
        var ssl = new SslStream(transport, leaveInnerStreamOpen: true);
        try
        {
            await ssl.AuthenticateAsClientAsync(options, cancellationToken).ConfigureAwait(false);
            return (ssl, null);
        }
        catch (Exception e) when (e is AuthenticationException or IOException)
        {
            await ssl.DisposeAsync().ConfigureAwait(false);
            return (null, $"SSL handshake failed: {refusal ?? e.Message}");
        }
    }

    private static T Load<T>(string key, Func<T> load)
    {
        try
        {
            return load();
        }
        catch (Exception e) when (e is CryptographicException or IOException or UnauthorizedAccessException)
        {
            throw new OrleansStreamException(ErrorCode.InvalidConfig, $"'{key}' cannot be loaded: {e.Message}");
        }
    }
}
