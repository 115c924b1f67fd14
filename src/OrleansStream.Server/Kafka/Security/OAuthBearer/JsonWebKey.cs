using System.Security.Cryptography;
using System.Text.Json;
using System.Buffers.Text;

namespace OrleansStream.Server.Kafka.Security.OAuthBearer;

/// <summary>
/// One verification key of a JWKS (RFC 7517): an RSA key (<c>n</c>, <c>e</c>) or an EC key on P-256, P-384 or P-521
/// (<c>crv</c>, <c>x</c>, <c>y</c>), with its <c>kid</c>, and <c>alg</c> and <c>use</c> when the set gives them.
/// </summary>
public sealed class JsonWebKey
{
    private JsonWebKey(string? keyId, string? algorithm, AsymmetricAlgorithm key, string? curve)
    {
        KeyId = keyId;
        Algorithm = algorithm;
        Key = key;
        Curve = curve;
    }

    public string? KeyId { get; }

    public string? Algorithm { get; }

    /// <summary>An <see cref="RSA"/> or <see cref="ECDsa"/> public key.</summary>
    public AsymmetricAlgorithm Key { get; }

    /// <summary>The EC key's curve (<c>P-256</c>, ...); null for RSA.</summary>
    public string? Curve { get; }

    /// <summary>
    /// The signature keys of a JWKS document; keys of other types (<c>oct</c>, <c>OKP</c>), for encryption
    /// (<c>use: enc</c>) or with bad values are left out, as a JWKS may hold them. Throws <see cref="FormatException"/>
    /// when the document is not a JSON object with a <c>keys</c> array.
    /// </summary>
    public static List<JsonWebKey> ParseSet(ReadOnlySpan<byte> json)
    {
        var keys = new List<JsonWebKey>();
        try
        {
            var reader = new Utf8JsonReader(json);
            using var document = JsonDocument.ParseValue(ref reader);
            if (document.RootElement.ValueKind != JsonValueKind.Object || !document.RootElement.TryGetProperty("keys", out var array) ||
                array.ValueKind != JsonValueKind.Array)
                throw new FormatException("A JWKS is a JSON object with a \"keys\" array.");
            foreach (var element in array.EnumerateArray())
                if (element.ValueKind == JsonValueKind.Object && Parse(element) is { } key) keys.Add(key);
        }
        catch (JsonException e)
        {
            throw new FormatException($"The JWKS is not JSON: {e.Message}", e);
        }
        return keys;
    }

    private static JsonWebKey? Parse(JsonElement jwk)
    {
        var use = Text(jwk, "use");
        if (use is not null && use != "sig") return null;
        var keyId = Text(jwk, "kid");
        var algorithm = Text(jwk, "alg");
        try
        {
            switch (Text(jwk, "kty"))
            {
                case "RSA" when Bytes(jwk, "n") is { } n && Bytes(jwk, "e") is { } e:
                    return new JsonWebKey(keyId, algorithm, RSA.Create(new RSAParameters { Modulus = n, Exponent = e }), null);
                case "EC" when Text(jwk, "crv") is { } crv && CurveOf(crv) is { } curve && Bytes(jwk, "x") is { } x && Bytes(jwk, "y") is { } y:
                    return new JsonWebKey(keyId, algorithm, ECDsa.Create(new ECParameters { Curve = curve, Q = new ECPoint { X = x, Y = y } }), crv);
                default:
                    return null;
            }
        }
        catch (CryptographicException)
        {
            return null;
        }
    }

    private static ECCurve? CurveOf(string crv) => crv switch
    {
        "P-256" => ECCurve.NamedCurves.nistP256,
        "P-384" => ECCurve.NamedCurves.nistP384,
        "P-521" => ECCurve.NamedCurves.nistP521,
        _ => null,
    };

    private static string? Text(JsonElement jwk, string name) =>
        jwk.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    private static byte[]? Bytes(JsonElement jwk, string name)
    {
        if (Text(jwk, name) is not { Length: > 0 } text) return null;
        try
        {
            return Base64Url.DecodeFromChars(text);
        }
        catch (FormatException)
        {
            return null;
        }
    }
}
