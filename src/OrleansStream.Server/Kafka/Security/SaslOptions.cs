using Microsoft.Extensions.Options;
using OrleansStream.Protocol.Sasl;

namespace OrleansStream.Server.Kafka.Security;

/// <summary>
/// SASL on the SASL_PLAINTEXT and SASL_SSL Kafka listeners, bound from <c>OrleansStream:Sasl</c>: the mechanisms
/// offered and the users. A user's SCRAM credentials are kept salted (salt, iterations, StoredKey, ServerKey);
/// PLAIN checks a password against them.
/// </summary>
public sealed class SaslOptions
{
    public const string SectionName = "OrleansStream:Sasl";

    /// <summary>
    /// Kafka's <c>sasl.enabled.mechanisms</c>: any of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 and OAUTHBEARER (which needs
    /// <c>OrleansStream:Sasl:OAuthBearer</c>), comma-separated.
    /// </summary>
    public string EnabledMechanisms { get; set; } = "PLAIN,SCRAM-SHA-256,SCRAM-SHA-512";

    /// <summary>The users by name (<c>OrleansStream:Sasl:Users:alice:ScramSha512</c>, ...).</summary>
    public Dictionary<string, SaslUserOptions> Users { get; set; } = new(StringComparer.Ordinal);

    /// <summary>Iterations of the credentials made from a <see cref="SaslUserOptions.Password"/> at start (Kafka's default 4096).</summary>
    public int ScramIterations { get; set; } = ScramMechanism.MinIterations;

    /// <summary>Whether <paramref name="name"/> (as Kafka spells it, upper case) is a mechanism this broker serves.</summary>
    public static bool IsServed(string name) =>
        name == PlainSaslServer.MechanismName || name == OAuthBearerSaslServer.MechanismName || ScramMechanism.ForName(name) is not null;

    /// <summary>Why <paramref name="name"/> is refused where a mechanism is named.</summary>
    public static string NotServed(string name) =>
        $"'{name}' is not a SASL mechanism this broker serves (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, OAUTHBEARER).";

    /// <summary>The mechanisms of <see cref="EnabledMechanisms"/>, in order; throws <see cref="FormatException"/> for one not served.</summary>
    public IReadOnlyList<string> Mechanisms()
    {
        var result = new List<string>();
        foreach (var name in EnabledMechanisms.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (!IsServed(name)) throw new FormatException(NotServed(name));
            if (!result.Contains(name)) result.Add(name);
        }
        return result;
    }
}

/// <summary>
/// One user: pre-computed SCRAM credentials in Kafka's form (<c>salt=…,stored_key=…,server_key=…,iterations=…</c>, as
/// <c>orleansstream sasl scram-credential</c> prints them), or a password from which the broker makes both at start
/// with a random salt. The broker keeps the credentials only; a password stays where the configuration keeps it.
/// </summary>
public sealed class SaslUserOptions
{
    public string? Password { get; set; }

    /// <summary>The SCRAM-SHA-256 credential (Kafka's <c>SCRAM-SHA-256=[...]</c> user config).</summary>
    public string? ScramSha256 { get; set; }

    /// <summary>The SCRAM-SHA-512 credential.</summary>
    public string? ScramSha512 { get; set; }
}

/// <summary>Checks the mechanisms, the users' credentials, and that a SASL listener has someone to let in.</summary>
public sealed class SaslOptionsValidator(IOptions<BrokerOptions> broker) : IValidateOptions<SaslOptions>
{
    public ValidateOptionsResult Validate(string? name, SaslOptions options)
    {
        List<string>? failures = null;
        void Fail(string message) => (failures ??= []).Add(message);
        if (options.Users.Count == 0 && !OffersOAuthBearer(options) && OnlySaslListeners(broker.Value) is { } listener)
            Fail($"Every listener of OrleansStream:Listeners asks for SASL ({listener}), but {SaslOptions.SectionName}:Users names no user: " +
                "no client could authenticate, nor create a user (AlterUserScramCredentials).");
        try
        {
            if (options.Mechanisms().Count == 0) Fail($"{SaslOptions.SectionName}:EnabledMechanisms names no mechanism.");
        }
        catch (FormatException e)
        {
            Fail($"{SaslOptions.SectionName}:EnabledMechanisms: {e.Message}");
        }
        if (options.ScramIterations is < ScramMechanism.MinIterations or > ScramMechanism.MaxIterations)
            Fail($"{SaslOptions.SectionName}:ScramIterations must be {ScramMechanism.MinIterations} to {ScramMechanism.MaxIterations}, not {options.ScramIterations}.");
        foreach (var (user, u) in options.Users)
        {
            var key = $"{SaslOptions.SectionName}:Users:{user}";
            if (string.IsNullOrEmpty(u.Password) && string.IsNullOrEmpty(u.ScramSha256) && string.IsNullOrEmpty(u.ScramSha512))
                Fail($"{key} needs a Password, ScramSha256 or ScramSha512.");
            foreach (var (field, text, mechanism) in new[] { (nameof(u.ScramSha256), u.ScramSha256, ScramMechanism.Sha256), (nameof(u.ScramSha512), u.ScramSha512, ScramMechanism.Sha512) })
            {
                if (string.IsNullOrEmpty(text)) continue;
                try
                {
                    ScramCredential.Parse(text, mechanism);
                }
                catch (FormatException e)
                {
                    Fail($"{key}:{field}: {e.Message}");
                }
            }
        }
        return failures is null ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    // An OAUTHBEARER client needs no user of the broker's: its token names it.
    private static bool OffersOAuthBearer(SaslOptions options)
    {
        try
        {
            return options.Mechanisms().Contains(OAuthBearerSaslServer.MechanismName);
        }
        catch (FormatException)
        {
            return false;
        }
    }

    // A bad listener setting is the broker options' own failure to report. Users may also be created at run time
    // (AlterUserScramCredentials), through a listener without SASL: only a broker with no such listener needs one here.
    private static KafkaListenerEndpoint? OnlySaslListeners(BrokerOptions options)
    {
        try
        {
            KafkaListenerEndpoint? sasl = null;
            foreach (var l in KafkaListeners.Bound(options))
            {
                if (!l.RequiresSasl) return null;
                sasl ??= l.Endpoint;
            }
            return sasl;
        }
        catch (FormatException)
        {
        }
        return null;
    }
}
