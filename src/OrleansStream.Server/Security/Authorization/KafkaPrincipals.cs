using System.Net;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace OrleansStream.Server.Security.Authorization;

/// <summary>How a Kafka connection is named to the authorizer: its principal's certificate form and its host.</summary>
public static class KafkaPrincipals
{
    /// <summary>
    /// The subject of a client certificate as Java's <c>X500Principal.getName()</c> writes it (RFC 2253), which Kafka's
    /// default SSL principal is: the most specific name first (<c>CN=alice,OU=dev,O=example</c>), Java's keywords for
    /// the attributes it knows, the dotted OID and the value in hex for the others, and RFC 2253's escapes.
    /// </summary>
    public static string DistinguishedName(X509Certificate2 certificate)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        var result = new StringBuilder();
        foreach (var rdn in certificate.SubjectName.EnumerateRelativeDistinguishedNames(reversed: true))
        {
            if (result.Length > 0) result.Append(',');
            if (rdn.HasMultipleElements)
            {
                // Rare in practice; Java writes multi-valued names with '+': the raw value is kept as .NET decodes it.
                result.Append(rdn.RawData.Length == 0 ? "" : new X500DistinguishedName(rdn.RawData.Span).Name);
                continue;
            }
            var oid = rdn.GetSingleElementType().Value ?? "";
            var value = rdn.GetSingleElementValue() ?? "";
            if (Keyword(oid) is { } keyword) result.Append(keyword).Append('=').Append(Escape(value));
            else result.Append(oid).Append("=#").Append(Convert.ToHexStringLower(rdn.RawData.Span));
        }
        return result.ToString();
    }

    /// <summary>The client's address as Kafka's ACL hosts name it (<c>InetAddress.getHostAddress</c>), an IPv4 one without its IPv6 mapping.</summary>
    public static string HostOf(EndPoint? remote)
    {
        if (remote is not IPEndPoint ip) return "";
        var address = ip.Address.IsIPv4MappedToIPv6 ? ip.Address.MapToIPv4() : ip.Address;
        return address.ToString();
    }

    // The attribute keywords of X500Principal's RFC 2253 form.
    private static string? Keyword(string oid) => oid switch
    {
        "2.5.4.3" => "CN",
        "2.5.4.6" => "C",
        "2.5.4.7" => "L",
        "2.5.4.8" => "ST",
        "2.5.4.10" => "O",
        "2.5.4.11" => "OU",
        "2.5.4.9" => "STREET",
        "0.9.2342.19200300.100.1.25" => "DC",
        "0.9.2342.19200300.100.1.1" => "UID",
        _ => null,
    };

    private static string Escape(string value)
    {
        var result = new StringBuilder(value.Length);
        for (var i = 0; i < value.Length; i++)
        {
            var c = value[i];
            if (c is ',' or '+' or '"' or '\\' or '<' or '>' or ';' || (i == 0 && c is '#' or ' ') || (i == value.Length - 1 && c == ' '))
                result.Append('\\');
            result.Append(c);
        }
        return result.ToString();
    }
}
