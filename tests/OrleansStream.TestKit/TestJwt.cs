using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace OrleansStream.TestKit;

/// <summary>A signing key made for a test, its JWK, and compact JWS tokens signed with it.</summary>
public sealed class TestJwt : IDisposable
{
    private readonly AsymmetricAlgorithm _key;

    public TestJwt(string algorithm, string keyId)
    {
        Algorithm = algorithm;
        KeyId = keyId;
        _key = algorithm[0] == 'E'
            ? ECDsa.Create(algorithm switch { "ES256" => ECCurve.NamedCurves.nistP256, "ES384" => ECCurve.NamedCurves.nistP384, _ => ECCurve.NamedCurves.nistP521 })
            : RSA.Create(2048);
    }

    public string Algorithm { get; }

    public string KeyId { get; }

    /// <summary>The public key as a JWK (with <c>kid</c>, <c>use: sig</c>; <c>alg</c> only when asked).</summary>
    public JsonObject Jwk(bool withAlgorithm = false)
    {
        JsonObject jwk;
        if (_key is ECDsa ec)
        {
            var p = ec.ExportParameters(false);
            jwk = new JsonObject
            {
                ["kty"] = "EC",
                ["crv"] = Algorithm switch { "ES256" => "P-256", "ES384" => "P-384", _ => "P-521" },
                ["x"] = Base64Url.EncodeToString(p.Q.X),
                ["y"] = Base64Url.EncodeToString(p.Q.Y),
            };
        }
        else
        {
            var p = ((RSA)_key).ExportParameters(false);
            jwk = new JsonObject { ["kty"] = "RSA", ["n"] = Base64Url.EncodeToString(p.Modulus), ["e"] = Base64Url.EncodeToString(p.Exponent) };
        }
        jwk["kid"] = KeyId;
        jwk["use"] = "sig";
        if (withAlgorithm) jwk["alg"] = Algorithm;
        return jwk;
    }

    /// <summary>A JWKS document of <paramref name="keys"/>.</summary>
    public static string Set(params TestJwt[] keys)
    {
        var array = new JsonArray();
        foreach (var key in keys) array.Add(key.Jwk());
        return new JsonObject { ["keys"] = array }.ToJsonString();
    }

    /// <summary>The claims of a token for <paramref name="subject"/> issued at <paramref name="now"/>, valid for <paramref name="lifetime"/>.</summary>
    public static JsonObject Claims(string subject, DateTimeOffset now, TimeSpan lifetime) => new()
    {
        ["sub"] = subject,
        ["iat"] = now.ToUnixTimeSeconds(),
        ["exp"] = now.Add(lifetime).ToUnixTimeSeconds(),
    };

    /// <summary>A token of <paramref name="claims"/> signed with this key, its header naming <see cref="KeyId"/> unless <paramref name="keyId"/> says another.</summary>
    public string Sign(JsonObject claims, string? keyId = null)
    {
        var header = new JsonObject { ["alg"] = Algorithm, ["typ"] = "JWT", ["kid"] = keyId ?? KeyId };
        var input = Part(header) + "." + Part(claims);
        var data = Encoding.ASCII.GetBytes(input);
        var hash = Algorithm[2..] switch { "256" => HashAlgorithmName.SHA256, "384" => HashAlgorithmName.SHA384, _ => HashAlgorithmName.SHA512 };
        var signature = _key switch
        {
            ECDsa ec => ec.SignData(data, hash, DSASignatureFormat.IeeeP1363FixedFieldConcatenation),
            RSA rsa => rsa.SignData(data, hash, Algorithm[0] == 'R' ? RSASignaturePadding.Pkcs1 : RSASignaturePadding.Pss),
            _ => throw new InvalidOperationException(),
        };
        return input + "." + Base64Url.EncodeToString(signature);
    }

    /// <summary>An unsigned token (<c>alg: none</c>, empty signature), as librdkafka's default token builder makes them.</summary>
    public static string Unsecured(JsonObject claims) => Part(new JsonObject { ["alg"] = "none" }) + "." + Part(claims) + ".";

    public static string Part(JsonNode json) => Base64Url.EncodeToString(Encoding.UTF8.GetBytes(json.ToJsonString(new JsonSerializerOptions())));

    public void Dispose() => _key.Dispose();
}
