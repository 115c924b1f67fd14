namespace OrleansStream.Protocol.Messages;

/// <summary>ApiVersionsRequest v0-4; v3 (flexible) names the client software, v4 is v3 (KAFKA-17011 changed the answer only).</summary>
public sealed record ApiVersionsRequest(string? ClientSoftwareName, string? ClientSoftwareVersion)
{
    public static ApiVersionsRequest Read(ref KafkaReader reader, short version)
    {
        if (version < 3) return new ApiVersionsRequest(null, null);
        var name = reader.ReadString(flexible: true);
        var softwareVersion = reader.ReadString(flexible: true);
        reader.SkipTaggedFields();
        return new ApiVersionsRequest(name, softwareVersion);
    }

    public void Write(KafkaWriter writer, short version)
    {
        if (version < 3) return;
        writer.WriteString(ClientSoftwareName ?? "", flexible: true);
        writer.WriteString(ClientSoftwareVersion ?? "", flexible: true);
        writer.WriteEmptyTaggedFields();
    }
}

/// <summary>A feature the broker can run at any level from <paramref name="MinVersion"/> to <paramref name="MaxVersion"/> (Kafka's SupportedFeatureKey).</summary>
public readonly record struct SupportedFeature(string Name, short MinVersion, short MaxVersion);

/// <summary>A feature the cluster runs at <paramref name="Level"/> (Kafka's FinalizedFeatureKey; level 0 is never answered).</summary>
public readonly record struct FinalizedFeature(string Name, short Level);

/// <summary>
/// What ApiVersions v3+ answers of features, in its tagged fields: the supported range of each feature, the finalized
/// levels and the epoch of those levels (a client keeps the levels of the highest epoch it has seen).
/// </summary>
public sealed record BrokerFeatures(IReadOnlyList<SupportedFeature> Supported, long FinalizedEpoch, IReadOnlyList<FinalizedFeature> Finalized)
{
    public static readonly BrokerFeatures None = new([], -1, []);
}

/// <summary>
/// ApiVersionsResponse v0-4: the error, the supported APIs and (v1+) the throttle time; from v3, tagged, the features
/// (<see cref="BrokerFeatures"/>). An unsupported request version is answered in the v0 layout with UnsupportedVersion
/// and the list, so the client can pick a version it shares. Before v4 a supported feature whose min version is 0 is
/// left out (KAFKA-17011: older clients fail to read it), as Kafka answers; a finalized level 0 is never answered.
/// </summary>
public static class ApiVersionsResponse
{
    public static void Write(KafkaWriter writer, short version, ErrorCode error, IReadOnlyList<SupportedApi> apis, BrokerFeatures? features = null)
    {
        var flexible = version >= 3;
        writer.WriteInt16((short)error);
        writer.WriteArrayLength(apis.Count, flexible);
        foreach (var api in apis)
        {
            writer.WriteInt16((short)api.Key);
            writer.WriteInt16(api.MinVersion);
            writer.WriteInt16(api.MaxVersion);
            if (flexible) writer.WriteEmptyTaggedFields();
        }
        if (version >= 1) writer.WriteInt32(0);
        if (!flexible) return;
        if (features is null)
        {
            writer.WriteEmptyTaggedFields();
            return;
        }
        var supported = 0;
        foreach (var f in features.Supported)
            if (version >= 4 || f.MinVersion != 0) supported++;
        var finalized = 0;
        foreach (var f in features.Finalized)
            if (f.Level != 0) finalized++;
        var hasEpoch = features.FinalizedEpoch != -1;
        writer.WriteUnsignedVarint((uint)((supported > 0 ? 1 : 0) + (hasEpoch ? 1 : 0) + (finalized > 0 ? 1 : 0)));
        if (supported > 0)
        {
            using var field = new KafkaWriter(64);
            field.WriteArrayLength(supported, flexible: true);
            foreach (var f in features.Supported)
            {
                if (version < 4 && f.MinVersion == 0) continue;
                field.WriteString(f.Name, flexible: true);
                field.WriteInt16(f.MinVersion);
                field.WriteInt16(f.MaxVersion);
                field.WriteEmptyTaggedFields();
            }
            WriteTaggedField(writer, 0, field);
        }
        if (hasEpoch)
        {
            writer.WriteUnsignedVarint(1);
            writer.WriteUnsignedVarint(8);
            writer.WriteInt64(features.FinalizedEpoch);
        }
        if (finalized > 0)
        {
            using var field = new KafkaWriter(64);
            field.WriteArrayLength(finalized, flexible: true);
            foreach (var f in features.Finalized)
            {
                if (f.Level == 0) continue;
                field.WriteString(f.Name, flexible: true);
                field.WriteInt16(f.Level);
                field.WriteInt16(f.Level);
                field.WriteEmptyTaggedFields();
            }
            WriteTaggedField(writer, 2, field);
        }
    }

    private static void WriteTaggedField(KafkaWriter writer, uint tag, KafkaWriter field)
    {
        writer.WriteUnsignedVarint(tag);
        writer.WriteUnsignedVarint((uint)field.Length);
        field.WrittenSpan.CopyTo(writer.GetSpan(field.Length));
        writer.Advance(field.Length);
    }

    /// <summary>Reads an answer of <paramref name="version"/> (v3+): the error, the APIs and the features (what a client sees).</summary>
    public static (ErrorCode Error, List<SupportedApi> Apis, BrokerFeatures Features) Read(ref KafkaReader reader, short version)
    {
        var flexible = version >= 3;
        var error = (ErrorCode)reader.ReadInt16();
        var count = Math.Max(reader.ReadArrayLength(flexible), 0);
        var apis = new List<SupportedApi>(count);
        for (var i = 0; i < count; i++)
        {
            apis.Add(new SupportedApi((ApiKey)reader.ReadInt16(), reader.ReadInt16(), reader.ReadInt16()));
            if (flexible) reader.SkipTaggedFields();
        }
        if (version >= 1) reader.ReadInt32();
        var supported = new List<SupportedFeature>();
        var finalized = new List<FinalizedFeature>();
        long epoch = -1;
        if (flexible)
            for (var tags = reader.ReadUnsignedVarint(); tags > 0; tags--)
            {
                var tag = reader.ReadUnsignedVarint();
                var size = (int)reader.ReadUnsignedVarint();
                switch (tag)
                {
                    case 0:
                        for (var n = reader.ReadArrayLength(true); n > 0; n--)
                        {
                            supported.Add(new SupportedFeature(reader.ReadString(true), reader.ReadInt16(), reader.ReadInt16()));
                            reader.SkipTaggedFields();
                        }
                        break;
                    case 1:
                        epoch = reader.ReadInt64();
                        break;
                    case 2:
                        for (var n = reader.ReadArrayLength(true); n > 0; n--)
                        {
                            var name = reader.ReadString(true);
                            var max = reader.ReadInt16();
                            reader.ReadInt16();
                            finalized.Add(new FinalizedFeature(name, max));
                            reader.SkipTaggedFields();
                        }
                        break;
                    default:
                        reader.Skip(size);
                        break;
                }
            }
        return (error, apis, new BrokerFeatures(supported, epoch, finalized));
    }
}
