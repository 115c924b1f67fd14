using System.Globalization;
using System.Net;
using OrleansStream.Protocol;
using OrleansStream.Protocol.Messages;
using OrleansStream.Server.Kafka.Quotas;
using OrleansStream.Server.Security.Authorization;
using ClientQuotaEntity = OrleansStream.Server.Kafka.Quotas.ClientQuotaEntity;
using WireEntity = OrleansStream.Protocol.Messages.ClientQuotaEntity;

namespace OrleansStream.Server.Kafka.Handlers;

/// <summary>
/// DescribeClientQuotas v0-1 (KIP-546; kafka-configs.sh <c>--describe --entity-type users|clients</c>, the admin
/// clients' <c>describeClientQuotas</c>): the quotas of the entities a filter matches, from this broker's
/// <see cref="ClientQuotaManager"/> brought up to the controller's first (Kafka's <c>ClientQuotasImage.describe</c>,
/// its checks and messages). DESCRIBE_CONFIGS on the cluster when the authorizer is on.
/// </summary>
internal sealed class DescribeClientQuotasHandler(KafkaAuthorizer authorizer, ClientQuotaManager quotas, MetadataCache metadata)
    : KafkaApiHandler<DescribeClientQuotasRequest>(ApiKey.DescribeClientQuotas, DescribeClientQuotasRequest.Read)
{
    protected override async ValueTask<bool> AnswerAsync(DescribeClientQuotasRequest body, KafkaRequest request, KafkaWriter response)
    {
        if (!request.IsAllowedOnCluster(authorizer, AclOperation.DescribeConfigs))
        {
            new DescribeClientQuotasResponse(0, ErrorCode.ClusterAuthorizationFailed, AuthorizationMessages.Cluster, null).Write(response, request.Version);
            return true;
        }
        if (Filter.Parse(body.Components, out var error, out var message) is not { } filter)
        {
            new DescribeClientQuotasResponse(0, error, message, null).Write(response, request.Version);
            return true;
        }
        // The controller's latest, where it answers: a client that just altered a quota through another broker sees it.
        await metadata.CatchUpAsync();
        var entries = new List<ClientQuotaEntry>();
        var values = new Dictionary<ClientQuotaEntity, List<KeyValuePair<string, double>>>();
        foreach (var q in quotas.Quotas)
        {
            if (!filter.Matches(q.Entity, body.Strict)) continue;
            if (!values.TryGetValue(q.Entity, out var list))
            {
                values[q.Entity] = list = [];
                entries.Add(new ClientQuotaEntry(ClientQuotaApis.ToWire(q.Entity), list));
            }
            list.Add(new KeyValuePair<string, double>(q.Key, q.Value));
        }
        new DescribeClientQuotasResponse(0, ErrorCode.None, null, entries).Write(response, request.Version);
        return true;
    }

    /// <summary>A filter's components checked as Kafka's: each type once, user and client-id only, exact names, defaults, or any.</summary>
    private sealed class Filter
    {
        private readonly Dictionary<string, string?> _exact = new(StringComparer.Ordinal);
        private readonly HashSet<string> _any = new(StringComparer.Ordinal);

        public static Filter? Parse(ClientQuotaFilterComponent[] components, out ErrorCode error, out string? message)
        {
            var filter = new Filter();
            error = ErrorCode.None;
            message = null;
            foreach (var c in components)
            {
                if (c.EntityType.Length == 0) message = "Invalid empty entity type.";
                else if (filter._exact.ContainsKey(c.EntityType) || filter._any.Contains(c.EntityType))
                    message = $"Entity type {c.EntityType} cannot appear more than once in the filter.";
                else if (c.EntityType is not (ClientQuotaEntity.UserType or ClientQuotaEntity.ClientIdType or ClientQuotaEntity.IpType))
                {
                    (error, message) = (ErrorCode.UnsupportedVersion, $"Unsupported entity type {c.EntityType}");
                    return null;
                }
                else if (c.MatchType == ClientQuotaFilterComponent.MatchExact && c.Match is null) message = "Request specified MATCH_TYPE_EXACT, but set match string to null.";
                else if (c.MatchType == ClientQuotaFilterComponent.MatchDefault && c.Match is not null) message = "Request specified MATCH_TYPE_DEFAULT, but also specified a match string.";
                else if (c.MatchType == ClientQuotaFilterComponent.MatchAny && c.Match is not null) message = "Request specified MATCH_TYPE_SPECIFIED, but also specified a match string.";
                else if (c.MatchType is not (ClientQuotaFilterComponent.MatchExact or ClientQuotaFilterComponent.MatchDefault or ClientQuotaFilterComponent.MatchAny))
                    message = string.Create(CultureInfo.InvariantCulture, $"Unknown match type {c.MatchType}");
                else if (c.MatchType == ClientQuotaFilterComponent.MatchAny) filter._any.Add(c.EntityType);
                else filter._exact[c.EntityType] = c.Match;
                if (message is not null)
                {
                    error = ErrorCode.InvalidRequest;
                    return null;
                }
            }
            var ip = filter._exact.ContainsKey(ClientQuotaEntity.IpType) || filter._any.Contains(ClientQuotaEntity.IpType);
            if (ip && filter._exact.Count + filter._any.Count > 1)
            {
                (error, message) = (ErrorCode.InvalidRequest,
                    "Invalid entity filter component combination. IP filter component should not be used with user or clientId filter component.");
                return null;
            }
            return filter;
        }

        /// <summary>Kafka's <c>ClientQuotasImage.matches</c>.</summary>
        public bool Matches(ClientQuotaEntity entity, bool strict)
        {
            var size = (entity.HasUser ? 1 : 0) + (entity.HasClientId ? 1 : 0) + (entity.HasIp ? 1 : 0);
            if (strict && size != _exact.Count + _any.Count) return false;
            foreach (var (type, name) in _exact)
                if (!Has(entity, type, out var actual) || actual != name) return false;
            foreach (var type in _any)
                if (!Has(entity, type, out _)) return false;
            return true;
        }

        private static bool Has(ClientQuotaEntity entity, string type, out string? name)
        {
            (var has, name) = type switch
            {
                ClientQuotaEntity.UserType => (entity.HasUser, entity.User),
                ClientQuotaEntity.ClientIdType => (entity.HasClientId, entity.ClientId),
                ClientQuotaEntity.IpType => (entity.HasIp, entity.Ip),
                _ => (false, null),
            };
            return has;
        }
    }
}

/// <summary>
/// AlterClientQuotas v0-1 (KIP-546; kafka-configs.sh <c>--alter --add-config 'producer_byte_rate=1048576'
/// --entity-type users --entity-name alice</c>, the admin clients' <c>alterClientQuotas</c>): ALTER_CONFIGS on the
/// cluster when the authorizer is on. The broker checks each entity and its operations as Kafka's
/// <c>ClientQuotaControlManager</c>; the controller stores every valid change in one write (none when validate_only),
/// and the broker that forwarded them reloads its quotas before it answers, the others within a second.
/// </summary>
internal sealed class AlterClientQuotasHandler(KafkaAuthorizer authorizer, MetadataCache metadata, IGrainFactory grains)
    : KafkaApiHandler<AlterClientQuotasRequest>(ApiKey.AlterClientQuotas, AlterClientQuotasRequest.Read)
{
    protected override async ValueTask<bool> AnswerAsync(AlterClientQuotasRequest body, KafkaRequest request, KafkaWriter response)
    {
        var results = new AlterClientQuotasResult[body.Entries.Length];
        if (!request.IsAllowedOnCluster(authorizer, AclOperation.AlterConfigs))
        {
            for (var i = 0; i < results.Length; i++)
                results[i] = new AlterClientQuotasResult(ErrorCode.ClusterAuthorizationFailed, AuthorizationMessages.Cluster, body.Entries[i].Entity);
            new AlterClientQuotasResponse(0, results).Write(response, request.Version);
            return true;
        }
        var changes = new List<ClientQuotaChange>();
        var seen = new HashSet<ClientQuotaEntity>();
        for (var i = 0; i < results.Length; i++)
        {
            var entry = body.Entries[i];
            var (entity, message) = ClientQuotaApis.Validate(entry, seen);
            if (message is null)
                foreach (var op in entry.Ops)
                    changes.Add(new ClientQuotaChange(entity!, op.Key, op.Remove ? null : op.Value));
            results[i] = new AlterClientQuotasResult(message is null ? ErrorCode.None : ErrorCode.InvalidRequest, message, entry.Entity);
        }
        if (!body.ValidateOnly && changes.Count > 0)
        {
            var stored = await ControllerCalls.UnlessUnreachableAsync(grains.ControllerInternal().AlterClientQuotas(changes));
            var (error, message) = stored is null ? (ErrorCode.RequestTimedOut, ControllerCalls.ControllerDidNotAnswer) : (stored.Error, stored.Message);
            if (error == ErrorCode.None) await metadata.CatchUpAsync();
            else
                for (var i = 0; i < results.Length; i++)
                    if (results[i].Error == ErrorCode.None) results[i] = results[i] with { Error = error, ErrorMessage = message };
        }
        new AlterClientQuotasResponse(0, results).Write(response, request.Version);
        return true;
    }
}

/// <summary>Kafka's checks of one AlterClientQuotas entry (<c>ClientQuotaControlManager</c>), and the wire form of an entity.</summary>
internal static class ClientQuotaApis
{
    public static WireEntity[] ToWire(ClientQuotaEntity entity)
    {
        var data = new List<WireEntity>(2);
        if (entity.HasUser) data.Add(new WireEntity(ClientQuotaEntity.UserType, entity.User));
        if (entity.HasClientId) data.Add(new WireEntity(ClientQuotaEntity.ClientIdType, entity.ClientId));
        if (entity.HasIp) data.Add(new WireEntity(ClientQuotaEntity.IpType, entity.Ip));
        return [.. data];
    }

    /// <summary>The entity, or Kafka's message for why the entry is refused (all of it: Kafka applies an entity's operations together or none).</summary>
    public static (ClientQuotaEntity? Entity, string? Message) Validate(ClientQuotaAlteration entry, HashSet<ClientQuotaEntity> seen)
    {
        bool hasUser = false, hasClientId = false, hasIp = false;
        string? user = null, clientId = null, ip = null;
        if (entry.Entity.Length == 0) return (null, "Invalid empty client quota entity");
        foreach (var e in entry.Entity)
        {
            if ((e.EntityType == ClientQuotaEntity.UserType && hasUser) || (e.EntityType == ClientQuotaEntity.ClientIdType && hasClientId)
                || (e.EntityType == ClientQuotaEntity.IpType && hasIp))
                return (null, "Invalid client quota entity, duplicate entity entry " + e.EntityType);
            switch (e.EntityType)
            {
                case ClientQuotaEntity.UserType: (hasUser, user) = (true, e.EntityName); break;
                case ClientQuotaEntity.ClientIdType: (hasClientId, clientId) = (true, e.EntityName); break;
                case ClientQuotaEntity.IpType: (hasIp, ip) = (true, e.EntityName); break;
                default: return (null, "Unhandled client quota entity type: " + e.EntityType);
            }
            if (e.EntityName is { Length: 0 }) return (null, $"Empty {e.EntityType} not supported");
        }
        if (hasIp && (hasUser || hasClientId))
            return (null, "Invalid quota entity combination, IP entity shouldnot be combined with User or ClientId");
        // Kafka also resolves a host name (InetAddress.getByName); this broker takes addresses only, and resolves nothing
        // while it answers.
        if (hasIp && ip is not null && !IPAddress.TryParse(ip, out _))
            return (null, ip + " is not a valid IP or resolvable host.");
        var entity = hasIp ? ClientQuotaEntity.ForIp(ip) : new ClientQuotaEntity(hasUser, user, hasClientId, clientId);
        var keys = new HashSet<string>(StringComparer.Ordinal);
        foreach (var op in entry.Ops)
        {
            if (!keys.Add(op.Key)) return (null, $"Duplicate quota key {op.Key} not updating quota for this entity {entity}");
            if (op.Remove) continue;
            // An IP entity has one key (QuotaConfig.ipConfigs), users and client ids the others.
            var valid = hasIp
                ? op.Key == ClientQuotaManager.ConnectionCreationRate
                : op.Key is ClientQuotaManager.ProducerByteRate or ClientQuotaManager.ConsumerByteRate or ClientQuotaManager.ControllerMutationRate;
            if (!valid)
                return (null, op.Key is "request_percentage" && !hasIp
                    ? $"Quota {op.Key} is not enforced by this broker; it takes producer_byte_rate, consumer_byte_rate and controller_mutation_rate."
                    : "Invalid configuration key " + op.Key);
            // Kafka takes NaN (no comparison fails); a quota that is not a number would never throttle, or always.
            if (double.IsNaN(op.Value) || op.Value <= 0.0) return (null, $"Quota {op.Key} must be greater than 0");
            // The byte rates are Kafka's LONG configs, connection_creation_rate an INT, controller_mutation_rate a DOUBLE.
            if (op.Key == ClientQuotaManager.ControllerMutationRate) continue;
            if (op.Key == ClientQuotaManager.ConnectionCreationRate && op.Value > int.MaxValue)
                return (null, $"Proposed value for {op.Key} is too large for an INT.");
            if (op.Value > long.MaxValue) return (null, $"Proposed value for {op.Key} is too large for a LONG.");
            if (Math.Abs(op.Value % 1.0) > 1e-6) return (null, $"{op.Key} cannot be a fractional value.");
        }
        if (!seen.Add(entity)) return (null, $"Ignoring duplicate entity {entity}");
        return (entity, null);
    }
}
