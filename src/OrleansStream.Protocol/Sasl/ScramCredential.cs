using System.Globalization;

namespace OrleansStream.Protocol.Sasl;

/// <summary>
/// What a broker keeps of a SCRAM user: the salt, the iteration count, StoredKey and ServerKey (RFC 5802), never the
/// password. Written as Kafka writes it (<c>ScramCredentialUtils</c>): <c>salt=…,stored_key=…,server_key=…,iterations=…</c>,
/// base64 values.
/// </summary>
public sealed record ScramCredential(byte[] Salt, byte[] StoredKey, byte[] ServerKey, int Iterations)
{
    public string Format() => string.Create(CultureInfo.InvariantCulture,
        $"salt={Convert.ToBase64String(Salt)},stored_key={Convert.ToBase64String(StoredKey)},server_key={Convert.ToBase64String(ServerKey)},iterations={Iterations}");

    /// <summary>Reads <see cref="Format"/>'s form for <paramref name="mechanism"/>; throws <see cref="FormatException"/> saying what is wrong.</summary>
    public static ScramCredential Parse(string text, ScramMechanism mechanism)
    {
        ArgumentNullException.ThrowIfNull(text);
        ArgumentNullException.ThrowIfNull(mechanism);
        byte[]? salt = null, storedKey = null, serverKey = null;
        int? iterations = null;
        foreach (var part in text.Split(',', StringSplitOptions.TrimEntries))
        {
            var eq = part.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0) throw new FormatException($"'{part}' is not key=value.");
            var value = part[(eq + 1)..];
            switch (part[..eq])
            {
                case "salt": salt = Base64(value, "salt"); break;
                case "stored_key": storedKey = Base64(value, "stored_key"); break;
                case "server_key": serverKey = Base64(value, "server_key"); break;
                case "iterations":
                    iterations = int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var i) ? i
                        : throw new FormatException($"iterations '{value}' is not a number.");
                    break;
                default: throw new FormatException($"'{part[..eq]}' is not a SCRAM credential field (salt, stored_key, server_key, iterations).");
            }
        }
        if (salt is not { Length: > 0 } || storedKey is null || serverKey is null || iterations is null)
            throw new FormatException("A SCRAM credential needs salt, stored_key, server_key and iterations.");
        if (storedKey.Length != mechanism.KeyLength || serverKey.Length != mechanism.KeyLength)
            throw new FormatException($"{mechanism.Name} keys are {mechanism.KeyLength} bytes, not {storedKey.Length} and {serverKey.Length}.");
        if (iterations is < ScramMechanism.MinIterations or > ScramMechanism.MaxIterations)
            throw new FormatException($"{mechanism.Name} takes {ScramMechanism.MinIterations} to {ScramMechanism.MaxIterations} iterations, not {iterations}.");
        return new ScramCredential(salt, storedKey, serverKey, iterations.Value);
    }

    private static byte[] Base64(string value, string field)
    {
        try
        {
            return Convert.FromBase64String(value);
        }
        catch (FormatException)
        {
            throw new FormatException($"{field} is not base64.");
        }
    }
}
