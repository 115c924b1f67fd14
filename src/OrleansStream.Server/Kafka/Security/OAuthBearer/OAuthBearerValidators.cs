using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OrleansStream.Protocol.Sasl;

namespace OrleansStream.Server.Kafka.Security.OAuthBearer;

/// <summary>
/// The broker's OAUTHBEARER token validator, made from <see cref="OAuthBearerOptions"/> when OAUTHBEARER is enabled:
/// signed tokens against a JWKS, or unsigned ones in development. The JWKS is read while the silo starts (a broker
/// that cannot read it does not start, as Kafka's does not) and refreshed in the background until it stops.
/// </summary>
public sealed partial class OAuthBearerValidators : ILifecycleParticipant<ISiloLifecycle>, IAsyncDisposable
{
    private readonly VerificationKeys? _keys;
    private readonly ILogger<OAuthBearerValidators> _logger;

    public OAuthBearerValidators(IOptions<SaslOptions> sasl, IOptions<OAuthBearerOptions> options, TimeProvider time, ILoggerFactory loggers)
    {
        ArgumentNullException.ThrowIfNull(sasl);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(loggers);
        _logger = loggers.CreateLogger<OAuthBearerValidators>();
        var o = options.Value;
        if (!sasl.Value.Mechanisms().Contains(OAuthBearerSaslServer.MechanismName)) return;
        if (!string.IsNullOrWhiteSpace(o.JwksEndpointUrl))
        {
            var logger = loggers.CreateLogger<JwsAccessTokenValidator>();
            _keys = new VerificationKeys(o, time, logger);
            Validator = new JwsAccessTokenValidator(o, _keys, time, logger);
        }
        else if (o.Unsecured.Enabled)
            Validator = new UnsecuredJwsValidator(o.Unsecured, time, loggers.CreateLogger<UnsecuredJwsValidator>());
    }

    /// <summary>The validator of OAUTHBEARER tokens; null when OAUTHBEARER is not enabled.</summary>
    public IOAuthBearerValidator? Validator { get; }

    public void Participate(ISiloLifecycle lifecycle) =>
        lifecycle.Subscribe(nameof(OAuthBearerValidators), ServiceLifecycleStage.RuntimeInitialize, OnStart, OnStop);

    public ValueTask DisposeAsync() => _keys?.DisposeAsync() ?? ValueTask.CompletedTask;

    private async Task OnStart(CancellationToken ct)
    {
        if (_keys is not null)
        {
            try
            {
                await _keys.StartAsync(ct);
            }
            catch (Exception e) when (e is HttpRequestException or IOException or FormatException or TaskCanceledException)
            {
                throw new InvalidOperationException($"OAUTHBEARER: cannot read the JWKS of {OAuthBearerOptions.SectionName}:JwksEndpointUrl ({_keys.Location}): {e.Message}", e);
            }
        }
        else if (Validator is UnsecuredJwsValidator) LogUnsecured();
    }

    private Task OnStop(CancellationToken ct) => DisposeAsync().AsTask();

    [LoggerMessage(Level = LogLevel.Warning, Message = "OAUTHBEARER takes unsigned tokens (OrleansStream:Sasl:OAuthBearer:Unsecured:Enabled): any client may claim any principal. For development only.")]
    private partial void LogUnsecured();
}
