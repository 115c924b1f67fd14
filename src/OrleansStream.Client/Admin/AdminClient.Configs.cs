using OrleansStream.Client.Admin;

namespace OrleansStream.Client;

/// <summary>
/// Config administration through the controller grain: it describes as the Kafka listener does (the same server code)
/// and applies topic changes with Kafka's checks; a group's configs (KIP-848) change at the group's grain, which checks
/// them as the Kafka listener's change does. The SDK only maps Confluent.Kafka's shapes to the grain contract.
/// </summary>
internal sealed partial class AdminClient
{
    public async Task<List<DescribeConfigsResult>> DescribeConfigsAsync(IEnumerable<ConfigResource> resources, DescribeConfigsOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(resources);
        var asked = new List<ConfigResource>(resources);
        if (asked.Count == 0) return [];
        var queries = asked.ConvertAll(static r => new DescribeConfigsQuery(KindOf(r), r.Name));
        // Synonyms always, as librdkafka asks for them.
        var answers = await RetryingCall(() => _cache.Controller.DescribeConfigs(queries, includeSynonyms: true), Timeout(options), idempotent: true).ConfigureAwait(false);
        var reports = new List<DescribeConfigsReport>(asked.Count);
        var failed = false;
        for (var i = 0; i < asked.Count; i++)
        {
            var answer = answers[i];
            reports.Add(new DescribeConfigsReport { ConfigResource = asked[i], Entries = Entries(answer.Configs), Error = ErrorOf(answer.Error, answer.ErrorMessage) });
            failed |= answer.Error != ErrorCode.None;
        }
        if (failed) throw new DescribeConfigsException(reports);
        return reports.ConvertAll(static r => new DescribeConfigsResult { ConfigResource = r.ConfigResource, Entries = r.Entries });
    }

    public async Task<List<IncrementalAlterConfigsResult>> IncrementalAlterConfigsAsync(
        Dictionary<ConfigResource, List<ConfigEntry>> configs, IncrementalAlterConfigsOptions? options = null)
    {
        var errors = await AlterAsync(configs, incremental: true, options, options?.ValidateOnly ?? false).ConfigureAwait(false);
        if (Failed(errors))
            throw new IncrementalAlterConfigsException(errors.ConvertAll(static e => new IncrementalAlterConfigsReport { ConfigResource = e.Resource, Error = e.Error }));
        return errors.ConvertAll(static e => new IncrementalAlterConfigsResult { ConfigResource = e.Resource });
    }

    public async Task AlterConfigsAsync(Dictionary<ConfigResource, List<ConfigEntry>> configs, AlterConfigsOptions? options = null)
    {
        var errors = await AlterAsync(configs, incremental: false, options, options?.ValidateOnly ?? false).ConfigureAwait(false);
        if (Failed(errors))
            throw new AlterConfigsException(errors.ConvertAll(static e => new AlterConfigsReport { ConfigResource = e.Resource, Error = e.Error }));
    }

    /// <summary>
    /// Each resource's outcome, in the dictionary's order: topics go to the controller in one call (Kafka's checks and
    /// the incremental ops are the controller's, shared with the Kafka listener), groups to their grains at once; other
    /// resources are refused as the Kafka listener refuses them. Legacy AlterConfigs sets every entry, ignoring its
    /// incremental op, as Kafka's does.
    /// </summary>
    private async Task<List<(ConfigResource Resource, Error Error)>> AlterAsync(
        Dictionary<ConfigResource, List<ConfigEntry>> configs, bool incremental, AdminOptions? options, bool validateOnly)
    {
        ArgumentNullException.ThrowIfNull(configs);
        var outcomes = new List<(ConfigResource Resource, Error Error)>(configs.Count);
        var changes = new List<TopicConfigsChange>();
        var sent = new List<int>();
        List<(int Index, Task<GroupResponse> Call)>? groups = null;
        foreach (var (resource, entries) in configs)
        {
            ArgumentNullException.ThrowIfNull(entries);
            var kind = KindOf(resource);
            if (ConfigChangeRules.Refusal(kind, resource.Name) is { } refusal)
            {
                outcomes.Add((resource, new Error(ErrorCode.InvalidRequest, refusal)));
                continue;
            }
            var altered = entries.ConvertAll(e => new AlterableConfig(e.Name, incremental ? (AlterConfigOp)e.IncrementalOperation : AlterConfigOp.Set, e.Value));
            if (kind == ConfigResourceKind.Group)
            {
                // Idempotent: the same change again leaves the same configs.
                var group = clusterClient.GetGrain<IConsumerGroupGrain>(resource.Name);
                (groups ??= []).Add((outcomes.Count, RetryingCall(() => group.AlterConfigs(altered, incremental, validateOnly), Timeout(options), idempotent: true)));
            }
            else
            {
                changes.Add(new TopicConfigsChange(resource.Name, altered, incremental));
                sent.Add(outcomes.Count);
            }
            outcomes.Add((resource, Error.NoError));
        }
        if (changes.Count > 0)
        {
            var results = await RetryNotControllerAsync(changes, c => _cache.Controller.AlterConfigs(c, validateOnly), options, idempotent: validateOnly).ConfigureAwait(false);
            for (var i = 0; i < sent.Count; i++)
                outcomes[sent[i]] = (outcomes[sent[i]].Resource, ErrorOf(results[i].Error, results[i].ErrorMessage));
        }
        if (groups is not null)
            foreach (var (i, call) in groups)
            {
                var answer = await call.ConfigureAwait(false);
                outcomes[i] = (outcomes[i].Resource, ErrorOf(answer.Error, answer.ErrorMessage));
            }
        return outcomes;
    }

    private static bool Failed(List<(ConfigResource Resource, Error Error)> outcomes) => outcomes.Exists(static o => o.Error.IsError);

    /// <summary>
    /// Kafka's config resource types from Confluent's ACL-shaped ones, as librdkafka maps them (Group is Kafka's GROUP
    /// config resource, 32); Any and the rest have no configs and go as Unknown, which is refused.
    /// </summary>
    private static ConfigResourceKind KindOf(ConfigResource resource)
    {
        ArgumentNullException.ThrowIfNull(resource);
        return resource.Type switch
        {
            ResourceType.Topic => ConfigResourceKind.Topic,
            ResourceType.Broker => ConfigResourceKind.Broker,
            ResourceType.Group => ConfigResourceKind.Group,
            _ => ConfigResourceKind.Unknown,
        };
    }

    private static Error ErrorOf(ErrorCode code, string? message) => code == ErrorCode.None ? Error.NoError : new Error(code, message);

    private static Dictionary<string, ConfigEntryResult> Entries(IReadOnlyList<ResourceConfig> configs)
    {
        var entries = new Dictionary<string, ConfigEntryResult>(configs.Count, StringComparer.Ordinal);
        foreach (var c in configs)
        {
            entries[c.Name] = new ConfigEntryResult
            {
                Name = c.Name,
                Value = c.Value,
                IsDefault = c.Source == ConfigValueSource.DefaultConfig,
                IsReadOnly = c.ReadOnly,
                IsSensitive = c.Sensitive,
                Source = (ConfigSource)c.Source,
                Synonyms = c.Synonyms.Select(static s => new ConfigSynonym { Name = s.Name, Value = s.Value, Source = (ConfigSource)s.Source }).ToList(),
            };
        }
        return entries;
    }
}
