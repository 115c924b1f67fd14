namespace OrleansStream.Protocol.Messages;

/// <summary>Kafka's FeatureUpdate.UpgradeType: how a new feature level may relate to the finalized one.</summary>
public enum FeatureUpgradeType : sbyte
{
    Unknown = 0,
    /// <summary>The level may only rise (or stay).</summary>
    Upgrade = 1,
    /// <summary>The level may fall where no data is lost.</summary>
    SafeDowngrade = 2,
    /// <summary>The level may fall even where data would be lost.</summary>
    UnsafeDowngrade = 3,
}

/// <summary>One feature to finalize at <paramref name="MaxVersionLevel"/> (0 removes it), and how it may move.</summary>
public readonly record struct FeatureUpdate(string Feature, short MaxVersionLevel, FeatureUpgradeType UpgradeType);

/// <summary>
/// UpdateFeaturesRequest v0-2, flexible in every version (KIP-584, kafka-features.sh upgrade/downgrade, the admin
/// clients' updateFeatures): the timeout, each feature's new level and how it may move (v0: allow_downgrade, read as a
/// safe downgrade; v1+: the upgrade type, KIP-778) and, from v1, whether only to validate.
/// </summary>
public sealed record UpdateFeaturesRequest(int TimeoutMs, FeatureUpdate[] Updates, bool ValidateOnly)
{
    public static UpdateFeaturesRequest Read(ref KafkaReader reader, short version)
    {
        var timeout = reader.ReadInt32();
        var updates = new FeatureUpdate[Math.Max(reader.ReadArrayLength(true), 0)];
        for (var i = 0; i < updates.Length; i++)
        {
            var feature = reader.ReadString(true);
            var level = reader.ReadInt16();
            var type = version == 0
                ? reader.ReadBoolean() ? FeatureUpgradeType.SafeDowngrade : FeatureUpgradeType.Upgrade
                : (FeatureUpgradeType)reader.ReadInt8();
            reader.SkipTaggedFields();
            updates[i] = new FeatureUpdate(feature, level, type);
        }
        var validateOnly = version >= 1 && reader.ReadBoolean();
        reader.SkipTaggedFields();
        return new UpdateFeaturesRequest(timeout, updates, validateOnly);
    }

    public void Write(KafkaWriter writer, short version)
    {
        writer.WriteInt32(TimeoutMs);
        writer.WriteArrayLength(Updates.Length, true);
        foreach (var u in Updates)
        {
            writer.WriteString(u.Feature, true);
            writer.WriteInt16(u.MaxVersionLevel);
            if (version == 0) writer.WriteBoolean(u.UpgradeType != FeatureUpgradeType.Upgrade);
            else writer.WriteInt8((sbyte)u.UpgradeType);
            writer.WriteEmptyTaggedFields();
        }
        if (version >= 1) writer.WriteBoolean(ValidateOnly);
        writer.WriteEmptyTaggedFields();
    }
}

/// <summary>
/// UpdateFeaturesResponse v0-2: the throttle time, one error and message for the whole request (the updates are
/// applied together or not at all), and before v2 a result per feature, written only when the request succeeded (each
/// then None), as Kafka's <c>createWithErrors</c> writes it.
/// </summary>
public sealed record UpdateFeaturesResponse(ErrorCode Error, string? ErrorMessage, IReadOnlyList<string> Features)
{
    public void Write(KafkaWriter writer, short version)
    {
        writer.WriteInt32(0);
        writer.WriteInt16((short)Error);
        writer.WriteNullableString(ErrorMessage, true);
        if (version < 2)
        {
            var results = Error == ErrorCode.None ? Features.Count : 0;
            writer.WriteArrayLength(results, true);
            for (var i = 0; i < results; i++)
            {
                writer.WriteString(Features[i], true);
                writer.WriteInt16((short)ErrorCode.None);
                writer.WriteNullableString(null, true);
                writer.WriteEmptyTaggedFields();
            }
        }
        writer.WriteEmptyTaggedFields();
    }

    public static UpdateFeaturesResponse Read(ref KafkaReader reader, short version)
    {
        reader.ReadInt32();
        var error = (ErrorCode)reader.ReadInt16();
        var message = reader.ReadNullableString(true);
        var features = new List<string>();
        if (version < 2)
            for (var n = reader.ReadArrayLength(true); n > 0; n--)
            {
                features.Add(reader.ReadString(true));
                reader.ReadInt16();
                reader.ReadNullableString(true);
                reader.SkipTaggedFields();
            }
        reader.SkipTaggedFields();
        return new UpdateFeaturesResponse(error, message, features);
    }
}
