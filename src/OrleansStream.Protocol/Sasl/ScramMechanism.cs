using System.Security.Cryptography;
using System.Text;

namespace OrleansStream.Protocol.Sasl;

/// <summary>
/// SCRAM-SHA-256 and SCRAM-SHA-512 (RFC 5802, RFC 7677): the hash, and the functions the exchange and the stored
/// credentials are made of (Kafka's <c>ScramMechanism</c> and <c>ScramFormatter</c>). Passwords are UTF-8 bytes, as
/// Kafka takes them (no SASLprep).
/// </summary>
public sealed class ScramMechanism
{
    /// <summary>Kafka's bounds on a credential's iteration count.</summary>
    public const int MinIterations = 4096;

    public const int MaxIterations = 16384;

    public static readonly ScramMechanism Sha256 = new("SCRAM-SHA-256", 1, HashAlgorithmName.SHA256);

    public static readonly ScramMechanism Sha512 = new("SCRAM-SHA-512", 2, HashAlgorithmName.SHA512);

    private static readonly byte[] ClientKeyLabel = "Client Key"u8.ToArray();
    private static readonly byte[] ServerKeyLabel = "Server Key"u8.ToArray();

    // Decoy credentials of unknown users are derived from it: stable within the process, unknowable outside it.
    private static readonly byte[] DecoyKey = RandomNumberGenerator.GetBytes(32);

    private ScramMechanism(string name, sbyte type, HashAlgorithmName hash)
    {
        Name = name;
        Type = type;
        Hash = hash;
        KeyLength = Records.ScramSaltedPassword.KeyLength(hash);
    }

    /// <summary>The SASL mechanism name (<c>SCRAM-SHA-256</c>).</summary>
    public string Name { get; }

    /// <summary>Kafka's type of the mechanism in the SCRAM credential APIs (<c>ScramMechanism.type()</c>): 1 or 2.</summary>
    public sbyte Type { get; }

    public HashAlgorithmName Hash { get; }

    /// <summary>Bytes of a key, a signature and a proof: the hash's output size.</summary>
    public int KeyLength { get; }

    public static IReadOnlyList<ScramMechanism> All { get; } = [Sha256, Sha512];

    public static ScramMechanism? ForName(string name)
    {
        foreach (var m in All)
            if (m.Name == name) return m;
        return null;
    }

    /// <summary>The mechanism of Kafka's type <paramref name="type"/>, null for one Kafka does not know (its <c>UNKNOWN</c>).</summary>
    public static ScramMechanism? ForType(sbyte type)
    {
        foreach (var m in All)
            if (m.Type == type) return m;
        return null;
    }

    public override string ToString() => Name;

    /// <summary>A new credential for <paramref name="password"/> with a random salt, as kafka-configs makes one.</summary>
    public ScramCredential CreateCredential(string password, int iterations = MinIterations)
    {
        ArgumentNullException.ThrowIfNull(password);
        return CreateCredential(Encoding.UTF8.GetBytes(password), RandomNumberGenerator.GetBytes(32), iterations);
    }

    /// <summary>StoredKey = H(HMAC(SaltedPassword, "Client Key")), ServerKey = HMAC(SaltedPassword, "Server Key").</summary>
    public ScramCredential CreateCredential(ReadOnlySpan<byte> password, byte[] salt, int iterations)
    {
        ArgumentNullException.ThrowIfNull(salt);
        if (iterations is < MinIterations or > MaxIterations)
            throw new ArgumentOutOfRangeException(nameof(iterations), iterations, $"{Name} takes {MinIterations} to {MaxIterations} iterations.");
        var salted = SaltedPassword(password, salt, iterations);
        try
        {
            return CredentialFromSaltedPassword(salt, salted, iterations);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(salted);
        }
    }

    /// <summary>
    /// The credential of a salted password a client made (AlterUserScramCredentials, Kafka's <c>ScramFormatter</c>
    /// at the controller): the client chose the salt and the iterations; the password never reaches the broker.
    /// </summary>
    public ScramCredential CredentialFromSaltedPassword(byte[] salt, ReadOnlySpan<byte> saltedPassword, int iterations)
    {
        ArgumentNullException.ThrowIfNull(salt);
        return new ScramCredential(salt, StoredKey(saltedPassword), Hmac(saltedPassword, ServerKeyLabel), iterations);
    }

    /// <summary>Whether <paramref name="password"/> is the one <paramref name="credential"/> was made from; constant time in the keys.</summary>
    public bool Matches(ScramCredential credential, ReadOnlySpan<byte> password)
    {
        ArgumentNullException.ThrowIfNull(credential);
        var salted = SaltedPassword(password, credential.Salt, credential.Iterations);
        try
        {
            return CryptographicOperations.FixedTimeEquals(StoredKey(salted), credential.StoredKey);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(salted);
        }
    }

    /// <summary>
    /// A credential for a user that does not exist: a salt stable for the name and keys nothing matches, so the
    /// exchange runs to its end and fails as for a wrong password (RFC 5802, section 9) instead of telling who exists.
    /// </summary>
    public ScramCredential Decoy(string user)
    {
        var seed = HMACSHA256.HashData(DecoyKey, Encoding.UTF8.GetBytes(Name + "\0" + user));
        return new ScramCredential(seed, RandomNumberGenerator.GetBytes(KeyLength), RandomNumberGenerator.GetBytes(KeyLength), MinIterations);
    }

    /// <summary>Hi(password, salt, i) of RFC 5802: PBKDF2 with HMAC of this hash, one block.</summary>
    internal byte[] SaltedPassword(ReadOnlySpan<byte> password, byte[] salt, int iterations) =>
        Records.ScramSaltedPassword.Compute(Hash, password, salt, iterations);

    internal byte[] Hmac(ReadOnlySpan<byte> key, ReadOnlySpan<byte> data) => CryptographicOperations.HmacData(Hash, key, data);

    internal byte[] H(ReadOnlySpan<byte> data) => CryptographicOperations.HashData(Hash, data);

    private byte[] StoredKey(ReadOnlySpan<byte> saltedPassword) => H(Hmac(saltedPassword, ClientKeyLabel));
}
