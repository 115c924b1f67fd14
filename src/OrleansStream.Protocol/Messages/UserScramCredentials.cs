namespace OrleansStream.Protocol.Messages;

/// <summary>DescribeUserScramCredentialsRequest v0 (flexible, KIP-554): the users to describe, null or empty for every user.</summary>
public sealed record DescribeUserScramCredentialsRequest(string[]? Users)
{
    public static DescribeUserScramCredentialsRequest Read(ref KafkaReader reader, short version)
    {
        var count = reader.ReadArrayLength(flexible: true);
        string[]? users = count < 0 ? null : new string[count];
        for (var i = 0; i < count; i++)
        {
            users![i] = reader.ReadString(flexible: true);
            reader.SkipTaggedFields();
        }
        reader.SkipTaggedFields();
        return new DescribeUserScramCredentialsRequest(users);
    }

    public void Write(KafkaWriter writer, short version)
    {
        writer.WriteArrayLength(Users?.Length ?? -1, flexible: true);
        foreach (var user in Users ?? [])
        {
            writer.WriteString(user, flexible: true);
            writer.WriteEmptyTaggedFields();
        }
        writer.WriteEmptyTaggedFields();
    }
}

/// <summary>One of a user's SCRAM credentials as DescribeUserScramCredentials tells it: the mechanism (1 SCRAM-SHA-256, 2 SCRAM-SHA-512) and its iterations.</summary>
public readonly record struct ScramCredentialInfo(sbyte Mechanism, int Iterations);

/// <summary>One user's answer: its credentials, or why there are none to tell.</summary>
public sealed record DescribeUserScramCredentialsResult(string User, ErrorCode Error, string? ErrorMessage, IReadOnlyList<ScramCredentialInfo> CredentialInfos);

/// <summary>DescribeUserScramCredentialsResponse v0: an error for the whole request, or one result per user.</summary>
public sealed record DescribeUserScramCredentialsResponse(ErrorCode Error, string? ErrorMessage, IReadOnlyList<DescribeUserScramCredentialsResult> Results)
{
    public void Write(KafkaWriter writer, short version)
    {
        writer.WriteInt32(0);
        writer.WriteInt16((short)Error);
        writer.WriteErrorMessage(ErrorMessage, flexible: true);
        writer.WriteArrayLength(Results.Count, flexible: true);
        foreach (var result in Results)
        {
            writer.WriteString(result.User, flexible: true);
            writer.WriteInt16((short)result.Error);
            writer.WriteErrorMessage(result.ErrorMessage, flexible: true);
            writer.WriteArrayLength(result.CredentialInfos.Count, flexible: true);
            foreach (var info in result.CredentialInfos)
            {
                writer.WriteInt8(info.Mechanism);
                writer.WriteInt32(info.Iterations);
                writer.WriteEmptyTaggedFields();
            }
            writer.WriteEmptyTaggedFields();
        }
        writer.WriteEmptyTaggedFields();
    }

    /// <summary>A client's reading (the throttle time is skipped).</summary>
    public static DescribeUserScramCredentialsResponse Read(ref KafkaReader reader, short version)
    {
        reader.ReadInt32();
        var error = (ErrorCode)reader.ReadInt16();
        var message = reader.ReadNullableString(flexible: true);
        var results = new DescribeUserScramCredentialsResult[Math.Max(reader.ReadArrayLength(flexible: true), 0)];
        for (var i = 0; i < results.Length; i++)
        {
            var user = reader.ReadString(flexible: true);
            var userError = (ErrorCode)reader.ReadInt16();
            var userMessage = reader.ReadNullableString(flexible: true);
            var infos = new ScramCredentialInfo[Math.Max(reader.ReadArrayLength(flexible: true), 0)];
            for (var j = 0; j < infos.Length; j++)
            {
                infos[j] = new ScramCredentialInfo(reader.ReadInt8(), reader.ReadInt32());
                reader.SkipTaggedFields();
            }
            reader.SkipTaggedFields();
            results[i] = new DescribeUserScramCredentialsResult(user, userError, userMessage, infos);
        }
        reader.SkipTaggedFields();
        return new DescribeUserScramCredentialsResponse(error, message, results);
    }
}

/// <summary>A SCRAM credential to remove: the user and the mechanism.</summary>
public readonly record struct ScramCredentialDeletion(string Name, sbyte Mechanism);

/// <summary>
/// A SCRAM credential to store: the client's salt, its iterations and the salted password (PBKDF2 of the password),
/// from which the broker derives StoredKey and ServerKey. The password itself never travels.
/// </summary>
public sealed record ScramCredentialUpsertion(string Name, sbyte Mechanism, int Iterations, byte[] Salt, byte[] SaltedPassword);

/// <summary>AlterUserScramCredentialsRequest v0 (flexible, KIP-554): credentials to remove and credentials to store.</summary>
public sealed record AlterUserScramCredentialsRequest(ScramCredentialDeletion[] Deletions, ScramCredentialUpsertion[] Upsertions)
{
    public static AlterUserScramCredentialsRequest Read(ref KafkaReader reader, short version)
    {
        var deletions = new ScramCredentialDeletion[Math.Max(reader.ReadArrayLength(flexible: true), 0)];
        for (var i = 0; i < deletions.Length; i++)
        {
            deletions[i] = new ScramCredentialDeletion(reader.ReadString(flexible: true), reader.ReadInt8());
            reader.SkipTaggedFields();
        }
        var upsertions = new ScramCredentialUpsertion[Math.Max(reader.ReadArrayLength(flexible: true), 0)];
        for (var i = 0; i < upsertions.Length; i++)
        {
            var name = reader.ReadString(flexible: true);
            var mechanism = reader.ReadInt8();
            var iterations = reader.ReadInt32();
            var salt = reader.ReadBytes(flexible: true).ToArray();
            var saltedPassword = reader.ReadBytes(flexible: true).ToArray();
            reader.SkipTaggedFields();
            upsertions[i] = new ScramCredentialUpsertion(name, mechanism, iterations, salt, saltedPassword);
        }
        reader.SkipTaggedFields();
        return new AlterUserScramCredentialsRequest(deletions, upsertions);
    }

    public void Write(KafkaWriter writer, short version)
    {
        writer.WriteArrayLength(Deletions.Length, flexible: true);
        foreach (var deletion in Deletions)
        {
            writer.WriteString(deletion.Name, flexible: true);
            writer.WriteInt8(deletion.Mechanism);
            writer.WriteEmptyTaggedFields();
        }
        writer.WriteArrayLength(Upsertions.Length, flexible: true);
        foreach (var upsertion in Upsertions)
        {
            writer.WriteString(upsertion.Name, flexible: true);
            writer.WriteInt8(upsertion.Mechanism);
            writer.WriteInt32(upsertion.Iterations);
            writer.WriteBytes(upsertion.Salt, flexible: true);
            writer.WriteBytes(upsertion.SaltedPassword, flexible: true);
            writer.WriteEmptyTaggedFields();
        }
        writer.WriteEmptyTaggedFields();
    }
}

/// <summary>One user's outcome of an AlterUserScramCredentials request.</summary>
public readonly record struct AlterUserScramCredentialsResult(string User, ErrorCode Error, string? ErrorMessage);

/// <summary>AlterUserScramCredentialsResponse v0: one result per user the request named.</summary>
public sealed record AlterUserScramCredentialsResponse(IReadOnlyList<AlterUserScramCredentialsResult> Results)
{
    public void Write(KafkaWriter writer, short version)
    {
        writer.WriteInt32(0);
        writer.WriteArrayLength(Results.Count, flexible: true);
        foreach (var result in Results)
        {
            writer.WriteString(result.User, flexible: true);
            writer.WriteInt16((short)result.Error);
            writer.WriteErrorMessage(result.ErrorMessage, flexible: true);
            writer.WriteEmptyTaggedFields();
        }
        writer.WriteEmptyTaggedFields();
    }

    /// <summary>A client's reading (the throttle time is skipped).</summary>
    public static AlterUserScramCredentialsResponse Read(ref KafkaReader reader, short version)
    {
        reader.ReadInt32();
        var results = new AlterUserScramCredentialsResult[Math.Max(reader.ReadArrayLength(flexible: true), 0)];
        for (var i = 0; i < results.Length; i++)
        {
            results[i] = new AlterUserScramCredentialsResult(reader.ReadString(flexible: true), (ErrorCode)reader.ReadInt16(), reader.ReadNullableString(flexible: true));
            reader.SkipTaggedFields();
        }
        reader.SkipTaggedFields();
        return new AlterUserScramCredentialsResponse(results);
    }
}
