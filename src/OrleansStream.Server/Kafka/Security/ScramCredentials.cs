using OrleansStream.Protocol.Sasl;

namespace OrleansStream.Server.Kafka.Security;

/// <summary>
/// A user's SCRAM credential as the controller stores it (Kafka's <c>UserScramCredentialRecord</c>): the salt,
/// StoredKey, ServerKey and iterations, never a password. <see cref="Deleted"/> marks the removal of a credential
/// the brokers' configuration gives (<c>OrleansStream:Sasl:Users</c>), which the configuration would otherwise bring back.
/// </summary>
[GenerateSerializer, Immutable]
public sealed record StoredScramCredential(
    [property: Id(0)] string User,
    [property: Id(1)] string Mechanism,
    [property: Id(2)] byte[] Salt,
    [property: Id(3)] byte[] StoredKey,
    [property: Id(4)] byte[] ServerKey,
    [property: Id(5)] int Iterations,
    [property: Id(6)] bool Deleted = false)
{
    /// <summary>The removal of <paramref name="user"/>'s <paramref name="mechanism"/> credential.</summary>
    public static StoredScramCredential Removal(string user, string mechanism) => new(user, mechanism, [], [], [], 0, Deleted: true);

    public static StoredScramCredential Of(string user, ScramMechanism mechanism, ScramCredential credential) =>
        new(user, mechanism.Name, credential.Salt, credential.StoredKey, credential.ServerKey, credential.Iterations);

    /// <summary>What SCRAM and PLAIN check against; null for a removal.</summary>
    public ScramCredential? Credential => Deleted ? null : new ScramCredential(Salt, StoredKey, ServerKey, Iterations);

    // The keys are secrets: a log line names the user and mechanism only.
    public override string ToString() => Deleted ? $"{User} {Mechanism} (removed)" : $"{User} {Mechanism} ({Iterations} iterations)";
}

/// <summary>Every stored SCRAM credential with the version of the controller's SCRAM state: what each broker's <see cref="SaslCredentialStore"/> holds.</summary>
[GenerateSerializer, Immutable]
public sealed record ScramCredentialSnapshot([property: Id(0)] long Version, [property: Id(1)] IReadOnlyList<StoredScramCredential> Credentials);

/// <summary>
/// One change of an AlterUserScramCredentials request for the controller: <see cref="Credential"/> to store, or (null)
/// the removal of <see cref="User"/>'s <see cref="Mechanism"/> credential. <see cref="Configured"/>: the broker that
/// forwards it has this credential in its configuration, so it exists even when nothing is stored.
/// </summary>
[GenerateSerializer, Immutable]
public sealed record ScramCredentialChange(
    [property: Id(0)] string User,
    [property: Id(1)] string Mechanism,
    [property: Id(2)] StoredScramCredential? Credential,
    [property: Id(3)] bool Configured);
