namespace OrleansStream.Client.Admin;

/// <summary>
/// Confluent.Kafka's ScramMechanism, with Kafka's types (1, 2). Not the broker's <c>ScramMechanism</c> class (another
/// assembly): a file that imports both names one of them with an alias.
/// </summary>
public enum ScramMechanism
{
    Unknown = 0,
    ScramSha256 = 1,
    ScramSha512 = 2,
}

/// <summary>A credential's mechanism and iteration count (never a key).</summary>
public sealed record ScramCredentialInfo
{
    public ScramMechanism Mechanism { get; set; }

    public int Iterations { get; set; }

    public override string ToString() => $"{ScramMechanisms.Name(Mechanism)} iterations={Iterations}";
}

/// <summary>One user's credentials, or the error for it (ResourceNotFound for a user without any).</summary>
public sealed record UserScramCredentialsDescription
{
    public string User { get; set; } = "";

    public List<ScramCredentialInfo> ScramCredentialInfos { get; set; } = [];

    public Error Error { get; set; } = Error.NoError;

    public override string ToString() => Error.IsError ? $"{User}: {Error}" : $"{User}: {string.Join(", ", ScramCredentialInfos)}";
}

public sealed record DescribeUserScramCredentialsResult
{
    public List<UserScramCredentialsDescription> UserScramCredentialsDescriptions { get; set; } = [];
}

public sealed record DescribeUserScramCredentialsReport
{
    public List<UserScramCredentialsDescription> UserScramCredentialsDescriptions { get; set; } = [];
}

/// <summary>A user asked for could not be described: every user's description is in <see cref="Results"/>.</summary>
public sealed class DescribeUserScramCredentialsException(DescribeUserScramCredentialsReport results)
    : KafkaException(AdminReports.FirstError(results.UserScramCredentialsDescriptions, static d => d.Error, "describe SCRAM credentials"))
{
    public DescribeUserScramCredentialsReport Results { get; } = results;
}

/// <summary>A change of one user's SCRAM credentials: a <see cref="UserScramCredentialUpsertion"/> or a <see cref="UserScramCredentialDeletion"/>.</summary>
public abstract class UserScramCredentialAlteration
{
    public string User { get; set; } = "";
}

/// <summary>
/// Sets a user's credential for a mechanism. The SDK salts <see cref="Password"/> here (Hi(password, salt, iterations),
/// as librdkafka does) and sends only the salted password; without a <see cref="Salt"/>, a random one (64 bytes).
/// </summary>
public sealed class UserScramCredentialUpsertion : UserScramCredentialAlteration
{
    public ScramCredentialInfo ScramCredentialInfo { get; set; } = new();

    /// <summary>The password's bytes (UTF-8, as Kafka takes them, no SASLprep).</summary>
    public byte[] Password { get; set; } = [];

    public byte[]? Salt { get; set; }

    // The password is a secret: never in a string.
    public override string ToString() => $"Upsert {User} {ScramCredentialInfo}";
}

/// <summary>Removes a user's credential for a mechanism.</summary>
public sealed class UserScramCredentialDeletion : UserScramCredentialAlteration
{
    public ScramMechanism Mechanism { get; set; }

    public override string ToString() => $"Delete {User} {ScramMechanisms.Name(Mechanism)}";
}

public sealed class DescribeUserScramCredentialsOptions : AdminOptions;

public sealed class AlterUserScramCredentialsOptions : AdminOptions;

/// <summary>One user's outcome of AlterUserScramCredentials.</summary>
public sealed record AlterUserScramCredentialsReport
{
    public string User { get; set; } = "";

    public Error Error { get; set; } = Error.NoError;

    public override string ToString() => $"{User}: {Error}";
}

/// <summary>A user's change was refused: every user's outcome is in <see cref="Results"/> (those applied first, then the refused, as Kafka answers).</summary>
public sealed class AlterUserScramCredentialsException(List<AlterUserScramCredentialsReport> results)
    : KafkaException(AdminReports.FirstError(results, static r => r.Error, "alter SCRAM credentials"))
{
    public List<AlterUserScramCredentialsReport> Results { get; } = results;
}

/// <summary>The SASL names of the mechanisms, for messages and the CLI.</summary>
public static class ScramMechanisms
{
    public static string Name(ScramMechanism mechanism) => mechanism switch
    {
        ScramMechanism.ScramSha256 => "SCRAM-SHA-256",
        ScramMechanism.ScramSha512 => "SCRAM-SHA-512",
        _ => "UNKNOWN",
    };

    /// <summary>The mechanism of a SASL name (<c>SCRAM-SHA-256</c>, case-insensitive), null for another.</summary>
    public static ScramMechanism? Parse(string name) => name?.ToUpperInvariant() switch
    {
        "SCRAM-SHA-256" => ScramMechanism.ScramSha256,
        "SCRAM-SHA-512" => ScramMechanism.ScramSha512,
        _ => null,
    };
}
