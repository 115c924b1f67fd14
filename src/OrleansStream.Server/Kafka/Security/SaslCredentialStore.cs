using Microsoft.Extensions.Options;
using OrleansStream.Protocol.Sasl;

namespace OrleansStream.Server.Kafka.Security;

/// <summary>
/// The users' SCRAM credentials, made once at start from <see cref="SaslOptions"/> (Kafka's <c>CredentialCache</c>):
/// a pre-computed credential as given, a password turned into a salted credential for both mechanisms.
/// </summary>
public sealed class SaslCredentialStore : IScramCredentialStore
{
    private readonly Dictionary<(string User, string Mechanism), ScramCredential> _credentials = [];

    public SaslCredentialStore(IOptions<SaslOptions> options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var o = options.Value;
        foreach (var (user, u) in o.Users)
            foreach (var (text, mechanism) in new[] { (u.ScramSha256, ScramMechanism.Sha256), (u.ScramSha512, ScramMechanism.Sha512) })
            {
                var credential = !string.IsNullOrEmpty(text) ? ScramCredential.Parse(text, mechanism)
                    : !string.IsNullOrEmpty(u.Password) ? mechanism.CreateCredential(u.Password, o.ScramIterations)
                    : null;
                if (credential is not null) _credentials[(user, mechanism.Name)] = credential;
            }
        EnabledMechanisms = o.Mechanisms();
    }

    /// <summary>Kafka's <c>sasl.enabled.mechanisms</c>, as SaslHandshake lists them.</summary>
    public IReadOnlyList<string> EnabledMechanisms { get; }

    public ScramCredential? Find(string user, ScramMechanism mechanism) =>
        _credentials.GetValueOrDefault((user, mechanism.Name));
}
