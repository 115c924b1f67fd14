using System.Security.Cryptography;

namespace OrleansStream.Records;

/// <summary>
/// SCRAM's SaltedPassword, Hi(password, salt, i) of RFC 5802 (PBKDF2 with HMAC of the mechanism's hash, one block), in
/// the assembly both sides reference: the SDK salts a password on the client (as librdkafka does for
/// AlterUserScramCredentials, so the password never leaves it) and the broker salts configured passwords and checks
/// PLAIN ones; one derivation keeps them from drifting apart.
/// </summary>
public static class ScramSaltedPassword
{
    public static byte[] Compute(HashAlgorithmName hash, ReadOnlySpan<byte> password, ReadOnlySpan<byte> salt, int iterations) =>
        Rfc2898DeriveBytes.Pbkdf2(password, salt, iterations, hash, KeyLength(hash));

    /// <summary>One block of PBKDF2: the hash's output size (SCRAM-SHA-256: 32 bytes, SCRAM-SHA-512: 64).</summary>
    public static int KeyLength(HashAlgorithmName hash) =>
        hash == HashAlgorithmName.SHA256 ? SHA256.HashSizeInBytes
        : hash == HashAlgorithmName.SHA512 ? SHA512.HashSizeInBytes
        : throw new ArgumentOutOfRangeException(nameof(hash), hash, "SCRAM uses SHA-256 or SHA-512.");
}
