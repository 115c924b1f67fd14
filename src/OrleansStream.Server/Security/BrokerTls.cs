using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using Orleans.Connections.Security;
using OrleansStream.Security;

namespace OrleansStream.Server.Security;

/// <summary>
/// Orleans' TLS middleware (<c>Microsoft.Orleans.Connections.Security</c>) on the silo's three kinds of connection,
/// from <see cref="BrokerTlsOptions"/>: silo to silo always mutual, the gateway as <see cref="BrokerTlsOptions.ClientAuth"/>
/// says. Orleans' own <c>UseTls</c> applies one setting to all three, so a gateway could not differ from the silos.
/// </summary>
internal static class BrokerTls
{
    public static IServiceCollection AddOrleansStreamTls(this IServiceCollection services)
    {
        services.AddOptions<BrokerTlsOptions>().BindConfiguration(BrokerTlsOptions.SectionName).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<BrokerTlsOptions>, BrokerTlsOptionsValidator>());
        services.AddOptions<SiloConnectionOptions>().Configure<IOptions<BrokerTlsOptions>>((connections, tls) =>
        {
            if (!tls.Value.Enabled) return;
            var (silo, gateway) = Create(tls.Value);
            connections.ConfigureSiloInboundConnection(b => b.UseServerTls(silo));
            connections.ConfigureSiloOutboundConnection(b => b.UseClientTls(silo));
            connections.ConfigureGatewayInboundConnection(b => b.UseServerTls(gateway));
        });
        return services;
    }

    /// <summary>The settings between silos and those of the gateway.</summary>
    internal static (TlsOptions Silo, TlsOptions Gateway) Create(BrokerTlsOptions options)
    {
        var (certificate, authorities) = LoadCertificates(options);
        var silo = new TlsOptions
        {
            LocalCertificate = certificate,
            RemoteCertificateMode = RemoteCertificateMode.RequireCertificate,
            ClientCertificateMode = RemoteCertificateMode.RequireCertificate,
            RemoteCertificateValidation = new PeerCertificatePolicy(authorities, null, own: certificate).Accepts,
            HandshakeTimeout = options.HandshakeTimeout,
        };
        var gateway = new TlsOptions
        {
            LocalCertificate = certificate,
            RemoteCertificateMode = options.ClientAuth switch
            {
                SslClientAuth.Required => RemoteCertificateMode.RequireCertificate,
                SslClientAuth.Requested => RemoteCertificateMode.AllowCertificate,
                _ => RemoteCertificateMode.NoCertificate,
            },
            RemoteCertificateValidation = new PeerCertificatePolicy(
                authorities, TlsCertificates.ParseThumbprints(options.AllowedThumbprints), own: certificate).Accepts,
            HandshakeTimeout = options.HandshakeTimeout,
        };
        return (silo, gateway);
    }

    /// <summary>
    /// The TLS of the SSL and SASL_SSL Kafka listeners (Kestrel's middleware): the broker's certificate, and client
    /// certificates as Kafka's <c>ssl.client.auth</c> says, judged as the gateway judges them.
    /// </summary>
    internal static HttpsConnectionAdapterOptions ForKafkaListeners(BrokerTlsOptions options, SslClientAuth clientAuth)
    {
        if (!options.Enabled)
            throw new OrleansConfigurationException(
                $"OrleansStream:Listeners has an SSL or SASL_SSL listener, which needs a certificate: set {BrokerTlsOptions.SectionName}:CertificatePath.");
        var (certificate, authorities) = LoadCertificates(options);
        var policy = new PeerCertificatePolicy(authorities, TlsCertificates.ParseThumbprints(options.AllowedThumbprints), own: certificate);
        return new HttpsConnectionAdapterOptions
        {
            ServerCertificate = certificate,
            ClientCertificateMode = clientAuth switch
            {
                SslClientAuth.Required => ClientCertificateMode.RequireCertificate,
                SslClientAuth.Requested => ClientCertificateMode.AllowCertificate,
                _ => ClientCertificateMode.NoCertificate,
            },
            ClientCertificateValidation = policy.Accepts,
            HandshakeTimeout = options.HandshakeTimeout,
        };
    }

    /// <summary>The one place the broker's certificate and its trusted authorities are read.</summary>
    private static (X509Certificate2 Certificate, X509Certificate2Collection? Authorities) LoadCertificates(BrokerTlsOptions options)
    {
        var certificate = Load(nameof(options.CertificatePath), options.CertificatePath!,
            () => TlsCertificates.LoadCertificate(options.CertificatePath!, options.KeyPath, options.CertificatePassword));
        var authorities = string.IsNullOrWhiteSpace(options.CaPath)
            ? null
            : Load(nameof(options.CaPath), options.CaPath, () => TlsCertificates.LoadAuthorities(options.CaPath));
        return (certificate, authorities);
    }

    /// <summary>The host prints the innermost exception's message, so the key and the file are in that message.</summary>
    private static T Load<T>(string key, string path, Func<T> load)
    {
        try
        {
            return load();
        }
        catch (CryptographicException e)
        {
            throw new OrleansConfigurationException($"{BrokerTlsOptions.SectionName}:{key} '{path}' cannot be loaded: {e.Message}");
        }
    }
}
