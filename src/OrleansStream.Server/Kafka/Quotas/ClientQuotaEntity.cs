using System.Text;

namespace OrleansStream.Server.Kafka.Quotas;

/// <summary>
/// A client quota entity (Kafka's <c>ClientQuotaEntity</c>): user and client-id, or an IP alone; each component absent,
/// the default (<see cref="User"/>, <see cref="ClientId"/> or <see cref="Ip"/> null while present) or a name.
/// <c>/config/users/alice/clients/&lt;default&gt;</c> is <c>(HasUser: true, User: "alice", HasClientId: true, ClientId: null)</c>.
/// The IP components came later (stored quotas of earlier controllers read them as absent).
/// </summary>
[GenerateSerializer, Immutable]
public sealed record ClientQuotaEntity(
    [property: Id(0)] bool HasUser,
    [property: Id(1)] string? User,
    [property: Id(2)] bool HasClientId,
    [property: Id(3)] string? ClientId,
    [property: Id(4)] bool HasIp = false,
    [property: Id(5)] string? Ip = null)
{
    /// <summary>An IP entity (KIP-612): <paramref name="ip"/> as given, null for the default IP quota.</summary>
    public static ClientQuotaEntity ForIp(string? ip) => new(false, null, false, null, true, ip);

    /// <summary>Kafka's entity types.</summary>
    public const string UserType = "user";

    public const string ClientIdType = "client-id";

    public const string IpType = "ip";

    /// <summary>As Kafka's <c>ClientQuotaEntity.toString()</c> writes it, for messages.</summary>
    public override string ToString()
    {
        var text = new StringBuilder("ClientQuotaEntity(entries={");
        if (HasUser) text.Append(UserType).Append('=').Append(User ?? "null");
        if (HasUser && HasClientId) text.Append(", ");
        if (HasClientId) text.Append(ClientIdType).Append('=').Append(ClientId ?? "null");
        if (HasIp) text.Append(IpType).Append('=').Append(Ip ?? "null");
        return text.Append("})").ToString();
    }
}

/// <summary>One quota value of one entity as the controller stores it (Kafka's <c>ClientQuotaRecord</c>).</summary>
[GenerateSerializer, Immutable]
public sealed record StoredClientQuota([property: Id(0)] ClientQuotaEntity Entity, [property: Id(1)] string Key, [property: Id(2)] double Value);

/// <summary>Every stored quota with the version of the controller's quota state: what each broker's <see cref="ClientQuotaManager"/> holds.</summary>
[GenerateSerializer, Immutable]
public sealed record ClientQuotaSnapshot([property: Id(0)] long Version, [property: Id(1)] IReadOnlyList<StoredClientQuota> Quotas);

/// <summary>One checked change for the controller: <see cref="Key"/> set to <see cref="Value"/>, or removed when it is null.</summary>
[GenerateSerializer, Immutable]
public sealed record ClientQuotaChange([property: Id(0)] ClientQuotaEntity Entity, [property: Id(1)] string Key, [property: Id(2)] double? Value);
