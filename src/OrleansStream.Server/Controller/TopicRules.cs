using System.Globalization;

namespace OrleansStream.Server.Controller;

/// <summary>Kafka's rules for topic names and the server-side topic keys; log keys are the storage engine's to judge.</summary>
internal static class TopicRules
{
    public const int MaxNameLength = 249;

    /// <summary>
    /// Kafka's controller bound on one request (<c>MAX_PARTITIONS_PER_BATCH</c>, <c>MAX_RECORDS_PER_USER_OP</c>): the
    /// partitions one CreateTopics or CreatePartitions request may add. The controller builds every new partition in
    /// one grain turn and stores them in one write, so a request for two billion partitions would stop the cluster's
    /// metadata; it is refused whole with <c>PolicyViolation</c>, as Kafka refuses it.
    /// </summary>
    public const int MaxPartitionsPerRequest = 10_000;

    public const string TooManyPartitionsToCreate = "Excessively large number of partitions per request.";
    public const string TooManyPartitionsToAdd = "Unable to perform excessively large batch operation.";

    /// <summary>
    /// Kafka's internal topics (<c>Topic.isInternal</c>) and its metadata log. Here their roles are grains: a group's
    /// offsets and members live in its group grain, a transaction's state in its coordinator shard, and the cluster's
    /// metadata in the controller grain. A topic of one of these names would be an empty ordinary topic that Kafka
    /// tools read as the real thing (a consumer of <c>__consumer_offsets</c> would see no group commit at all), so none
    /// is created, as Kafka's controller refuses <c>__cluster_metadata</c>, whose implementation differs too.
    /// </summary>
    public static bool IsReservedName(string? name) =>
        name is "__consumer_offsets" or "__transaction_state" or "__share_group_state" or "__cluster_metadata";

    /// <summary>Kafka's answer to a CreateTopics for a reserved name (<c>INVALID_REQUEST</c>, its message).</summary>
    public static string ReservedNameMessage(string name) =>
        $"Creation of internal topic {name} is prohibited: this broker keeps what Kafka stores there in its grains.";

    public static string? ValidateName(string? name)
    {
        if (string.IsNullOrEmpty(name)) return "Topic name is empty.";
        if (name is "." or "..") return $"Topic name cannot be '{name}'.";
        if (name.Length > MaxNameLength) return $"Topic name is {name.Length} characters long, more than {MaxNameLength}.";
        foreach (var c in name)
            if (!(c is >= 'a' and <= 'z' or >= 'A' and <= 'Z' or >= '0' and <= '9' or '.' or '_' or '-'))
                return $"Topic name '{name}' contains '{c}'; only ASCII letters, digits, '.', '_' and '-' are legal.";
        return null;
    }

    /// <summary>Checks the keys only the server knows; returns an error message or null.</summary>
    public static string? ValidateServerConfig(string key, string value) => key switch
    {
        OrleansStreamDefaults.MinInsyncReplicasConfig =>
            int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n >= 1
                ? null : $"{key} must be an integer of at least 1, not '{value}'.",
        OrleansStreamDefaults.UncleanLeaderElectionEnableConfig =>
            bool.TryParse(value, out _) ? null : $"{key} must be true or false, not '{value}'.",
        _ => null,
    };

    public static bool IsServerKey(string key) =>
        key is OrleansStreamDefaults.MinInsyncReplicasConfig or OrleansStreamDefaults.UncleanLeaderElectionEnableConfig;

    public static int MinInsyncReplicas(IReadOnlyDictionary<string, string> configs) =>
        configs.TryGetValue(OrleansStreamDefaults.MinInsyncReplicasConfig, out var v)
        && int.TryParse(v, NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n : 1;

    public static bool UncleanLeaderElection(IReadOnlyDictionary<string, string> configs) =>
        configs.TryGetValue(OrleansStreamDefaults.UncleanLeaderElectionEnableConfig, out var v) && bool.TryParse(v, out var b) && b;
}
