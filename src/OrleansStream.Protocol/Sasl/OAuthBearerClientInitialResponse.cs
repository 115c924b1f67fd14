using System.Text;
using System.Text.RegularExpressions;

namespace OrleansStream.Protocol.Sasl;

/// <summary>
/// An OAUTHBEARER client initial response (RFC 7628 section 3.1), read by the rules of Kafka's
/// <c>OAuthBearerClientInitialResponse</c>: <c>n,[a=authzid],</c> <c>^A</c> then <c>key=value^A</c> pairs, one of them
/// <c>auth=Bearer &lt;token&gt;</c>, then a final <c>^A</c>. The other pairs are SASL extensions: a name of letters, a
/// value of printable ASCII, space and tabs or line breaks; <c>auth</c> is reserved.
/// </summary>
public sealed partial class OAuthBearerClientInitialResponse
{
    public const char Separator = '\u0001';

    /// <summary>The reserved key of the bearer token.</summary>
    public const string AuthKey = "auth";

    private OAuthBearerClientInitialResponse(string tokenValue, string authorizationId, IReadOnlyDictionary<string, string> extensions)
    {
        TokenValue = tokenValue;
        AuthorizationId = authorizationId;
        Extensions = extensions;
    }

    public string TokenValue { get; }

    /// <summary>The authorization id the client asked for, empty when none.</summary>
    public string AuthorizationId { get; }

    public IReadOnlyDictionary<string, string> Extensions { get; }

    /// <summary>Reads <paramref name="response"/>; throws <see cref="FormatException"/> with Kafka's message when it breaks the grammar.</summary>
    public static OAuthBearerClientInitialResponse Parse(ReadOnlySpan<byte> response)
    {
        var text = Encoding.UTF8.GetString(response);
        var match = ClientInitialResponse().Match(text);
        if (!match.Success) throw new FormatException("Invalid OAUTHBEARER client first message");
        var authorizationId = match.Groups["authzid"].Success ? match.Groups["authzid"].Value : "";
        // Every pair ends with the separator and a value holds no separator, so the pairs split cleanly; a key given
        // twice keeps its last value, as Kafka's map does.
        var properties = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var pair in match.Groups["kvpairs"].Value.Split(Separator, StringSplitOptions.RemoveEmptyEntries))
        {
            var equals = pair.IndexOf('=', StringComparison.Ordinal);
            properties[pair[..equals]] = pair[(equals + 1)..];
        }
        if (!properties.Remove(AuthKey, out var auth))
            throw new FormatException("Invalid OAUTHBEARER client first message: 'auth' not specified");
        var authorization = Authorization().Match(auth);
        if (!authorization.Success) throw new FormatException("Invalid OAUTHBEARER client first message: invalid 'auth' format");
        var scheme = authorization.Groups["scheme"].Value;
        if (!scheme.Equals("bearer", StringComparison.OrdinalIgnoreCase))
            throw new FormatException($"Invalid scheme in OAUTHBEARER client first message: {scheme}");
        return new OAuthBearerClientInitialResponse(authorization.Groups["token"].Value, authorizationId, properties);
    }

    // RFC 5801's saslname (any 7-bit character but ',' and '=', which come escaped as =2C and =3D), RFC 7628's key and
    // value; each pair ends with the separator, and one more separator ends the message.
    [GeneratedRegex(@"^n,(a=(?<authzid>(?:[\x01-\x7F-[=,]]|=2C|=3D)+))?,\x01(?<kvpairs>(?:[A-Za-z]+=[\x21-\x7E \t\r\n]+\x01)*)\x01\z", RegexOptions.CultureInvariant)]
    private static partial Regex ClientInitialResponse();

    // RFC 6750's b64token after the scheme.
    [GeneratedRegex(@"^(?<scheme>[A-Za-z0-9_]+) +(?<token>[-_~+/.a-zA-Z0-9]+=*)\z", RegexOptions.CultureInvariant)]
    private static partial Regex Authorization();
}
