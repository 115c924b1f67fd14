using System.Buffers.Text;
using System.Text;
using System.Text.Json;

namespace OrleansStream.Server.Kafka.Security.OAuthBearer;

/// <summary>
/// A JWS in compact serialization (RFC 7515 section 7.1), <c>header.payload.signature</c>, each part base64url: the
/// header's <c>alg</c> and <c>kid</c>, the payload's claims (RFC 7519) and the bytes that were signed.
/// </summary>
internal sealed class Jws : IDisposable
{
    private readonly JsonDocument _header;
    private readonly JsonDocument _claims;

    private Jws(JsonDocument header, JsonDocument claims, byte[] signingInput, byte[] signature)
    {
        _header = header;
        _claims = claims;
        SigningInput = signingInput;
        Signature = signature;
    }

    public string? Algorithm => Text(_header.RootElement, "alg");

    public string? KeyId => Text(_header.RootElement, "kid");

    public JsonElement Claims => _claims.RootElement;

    /// <summary>The ASCII of <c>header.payload</c>, what the signature covers.</summary>
    public byte[] SigningInput { get; }

    public byte[] Signature { get; }

    /// <summary>Reads <paramref name="token"/>; throws <see cref="FormatException"/> for a token that is not three base64url parts of JSON objects.</summary>
    public static Jws Parse(string token)
    {
        var first = token.IndexOf('.', StringComparison.Ordinal);
        var second = first < 0 ? -1 : token.IndexOf('.', first + 1);
        if (first < 0 || second < 0 || token.IndexOf('.', second + 1) >= 0)
            throw new FormatException("Malformed JWT provided; expected three sections (header, payload, and signature)");
        var header = Json(token.AsSpan(0, first), "header");
        try
        {
            var claims = Json(token.AsSpan(first + 1, second - first - 1), "payload");
            return new Jws(header, claims, Encoding.ASCII.GetBytes(token, 0, second), Decode(token.AsSpan(second + 1), "signature"));
        }
        catch
        {
            header.Dispose();
            throw;
        }
    }

    /// <summary>A claim as a string, null when absent; throws <see cref="FormatException"/> when it is not a string.</summary>
    public string? StringClaim(string name)
    {
        if (!Claims.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null) return null;
        return value.ValueKind == JsonValueKind.String ? value.GetString()
            : throw new FormatException($"The '{name}' claim is not a string");
    }

    /// <summary>A NumericDate claim (seconds, maybe with a fraction) in Unix milliseconds, null when absent; throws <see cref="FormatException"/> when it is not a number.</summary>
    public long? TimeClaimMs(string name)
    {
        if (!Claims.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null) return null;
        if (value.ValueKind != JsonValueKind.Number || !value.TryGetDouble(out var seconds) || !double.IsFinite(seconds))
            throw new FormatException($"The '{name}' claim is not a number");
        return (long)Math.Round(seconds * 1000);
    }

    /// <summary>A claim that is a string or an array of strings, as a list; null when absent; throws <see cref="FormatException"/> for another type.</summary>
    public List<string>? StringsClaim(string name)
    {
        if (!Claims.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null) return null;
        if (value.ValueKind == JsonValueKind.String) return [value.GetString()!];
        if (value.ValueKind != JsonValueKind.Array) throw new FormatException($"The '{name}' claim is not a string or an array");
        var items = new List<string>(value.GetArrayLength());
        foreach (var item in value.EnumerateArray())
            items.Add(item.ValueKind == JsonValueKind.String ? item.GetString()! : throw new FormatException($"The '{name}' claim holds a value that is not a string"));
        return items;
    }

    public void Dispose()
    {
        _header.Dispose();
        _claims.Dispose();
    }

    private static JsonDocument Json(ReadOnlySpan<char> part, string what)
    {
        var bytes = Decode(part, what);
        // JsonDocument checks a string's UTF-8 only when the string is read, which would then throw.
        if (!System.Text.Unicode.Utf8.IsValid(bytes)) throw new FormatException($"Malformed JWT: the {what} is not UTF-8");
        try
        {
            var document = JsonDocument.Parse(bytes);
            if (document.RootElement.ValueKind == JsonValueKind.Object) return document;
            document.Dispose();
        }
        catch (JsonException)
        {
        }
        throw new FormatException($"Malformed JWT: the {what} is not a JSON object");
    }

    private static byte[] Decode(ReadOnlySpan<char> part, string what)
    {
        try
        {
            return Base64Url.DecodeFromChars(part);
        }
        catch (FormatException)
        {
            throw new FormatException($"Malformed JWT: the {what} is not base64url");
        }
    }

    private static string? Text(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
}
