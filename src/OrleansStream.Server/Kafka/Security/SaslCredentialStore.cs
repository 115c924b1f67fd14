using System.Collections.Frozen;
using Microsoft.Extensions.Options;
using OrleansStream.Protocol.Sasl;

namespace OrleansStream.Server.Kafka.Security;

/// <summary>
/// The users' SCRAM credentials (Kafka's <c>CredentialCache</c>): those the configuration gives, made once at start
/// from <see cref="SaslOptions"/> (a pre-computed credential as given, a password turned into a salted credential for
/// both mechanisms), under those changed at run time through AlterUserScramCredentials, which the controller stores
/// and every broker loads when the controller's SCRAM version moved (<see cref="MetadataCache"/>). A stored credential
/// replaces the configuration's for its user and mechanism; a stored removal hides it.
/// </summary>
public sealed class SaslCredentialStore : IScramCredentialStore
{
    private readonly FrozenDictionary<(string User, string Mechanism), ScramCredential> _configured;
    private readonly TaskCompletionSource _loaded = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Lock _applying = new();
    private Stored _stored = Stored.Empty;

    public SaslCredentialStore(IOptions<SaslOptions> options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var o = options.Value;
        var configured = new Dictionary<(string, string), ScramCredential>();
        foreach (var (user, u) in o.Users)
            foreach (var (text, mechanism) in new[] { (u.ScramSha256, ScramMechanism.Sha256), (u.ScramSha512, ScramMechanism.Sha512) })
            {
                var credential = !string.IsNullOrEmpty(text) ? ScramCredential.Parse(text, mechanism)
                    : !string.IsNullOrEmpty(u.Password) ? mechanism.CreateCredential(u.Password, o.ScramIterations)
                    : null;
                if (credential is not null) configured[(user, mechanism.Name)] = credential;
            }
        _configured = configured.ToFrozenDictionary();
        EnabledMechanisms = o.Mechanisms();
    }

    /// <summary>Kafka's <c>sasl.enabled.mechanisms</c>, as SaslHandshake lists them.</summary>
    public IReadOnlyList<string> EnabledMechanisms { get; }

    /// <summary>Completes once this broker holds the controller's stored credentials (the first time it asked).</summary>
    public Task Loaded => _loaded.Task;

    /// <summary>The version of the controller's SCRAM credentials this broker holds.</summary>
    public long Version => _stored.Version;

    public ScramCredential? Find(string user, ScramMechanism mechanism)
    {
        var key = (user, mechanism.Name);
        return _stored.Credentials.TryGetValue(key, out var stored) ? stored.Credential : _configured.GetValueOrDefault(key);
    }

    /// <summary>Whether this broker's configuration gives <paramref name="user"/> a <paramref name="mechanism"/> credential (removed or not).</summary>
    public bool IsConfigured(string user, ScramMechanism mechanism) => _configured.ContainsKey((user, mechanism.Name));

    /// <summary>Every user with at least one credential, in ordinal order: DescribeUserScramCredentials of every user.</summary>
    public List<string> UserNames()
    {
        var names = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var (user, _) in _configured.Keys) names.Add(user);
        foreach (var (user, _) in _stored.Credentials.Keys) names.Add(user);
        var users = new List<string>(names.Count);
        foreach (var user in names)
            if (Credentials(user).Count > 0) users.Add(user);
        return users;
    }

    /// <summary><paramref name="user"/>'s credentials, SCRAM-SHA-256 first: each mechanism and its iterations.</summary>
    public List<(ScramMechanism Mechanism, int Iterations)> Credentials(string user)
    {
        var credentials = new List<(ScramMechanism, int)>(2);
        foreach (var mechanism in ScramMechanism.All)
            if (Find(user, mechanism) is { } credential) credentials.Add((mechanism, credential.Iterations));
        return credentials;
    }

    /// <summary>Takes <paramref name="snapshot"/> when it is newer than what is held (answers may arrive out of order).</summary>
    public void Apply(ScramCredentialSnapshot snapshot)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        var credentials = new Dictionary<(string, string), StoredScramCredential>();
        foreach (var c in snapshot.Credentials) credentials[(c.User, c.Mechanism)] = c;
        lock (_applying)
        {
            if (snapshot.Version > _stored.Version) _stored = new Stored(snapshot.Version, credentials.ToFrozenDictionary());
            _loaded.TrySetResult();
        }
    }

    /// <summary>This broker asked the controller and holds its latest credentials (nothing was stored, or nothing changed).</summary>
    public void MarkLoaded() => _loaded.TrySetResult();

    private sealed record Stored(long Version, FrozenDictionary<(string User, string Mechanism), StoredScramCredential> Credentials)
    {
        public static readonly Stored Empty = new(0, FrozenDictionary<(string, string), StoredScramCredential>.Empty);
    }
}
