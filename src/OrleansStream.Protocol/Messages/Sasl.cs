namespace OrleansStream.Protocol.Messages;

/// <summary>
/// SaslHandshake v0-1: the mechanism the client wants. The layouts are the same; after v0 the client sends the
/// mechanism's tokens as bare size-prefixed frames (Kafka's legacy framing), after v1 in SaslAuthenticate requests.
/// </summary>
public sealed record SaslHandshakeRequest(string Mechanism)
{
    public static SaslHandshakeRequest Read(ref KafkaReader reader, short version) => new(reader.ReadString(false));

    public void Write(KafkaWriter writer, short version) => writer.WriteString(Mechanism, false);
}

/// <summary>SaslHandshake's answer: the error and the mechanisms this listener enables.</summary>
public sealed record SaslHandshakeResponse(ErrorCode Error, IReadOnlyList<string> Mechanisms)
{
    public void Write(KafkaWriter writer, short version)
    {
        writer.WriteInt16((short)Error);
        writer.WriteArrayLength(Mechanisms.Count, false);
        foreach (var m in Mechanisms) writer.WriteString(m, false);
    }

    public static SaslHandshakeResponse Read(ref KafkaReader reader, short version)
    {
        var error = (ErrorCode)reader.ReadInt16();
        var mechanisms = new string[reader.ReadArrayLength(false)];
        for (var i = 0; i < mechanisms.Length; i++) mechanisms[i] = reader.ReadString(false);
        return new SaslHandshakeResponse(error, mechanisms);
    }
}

/// <summary>SaslAuthenticate v0-2 (KIP-152): one SASL token of the mechanism chosen by SaslHandshake; v2 is flexible.</summary>
public sealed record SaslAuthenticateRequest(byte[] AuthBytes)
{
    public static SaslAuthenticateRequest Read(ref KafkaReader reader, short version)
    {
        var flexible = version >= 2;
        var bytes = reader.ReadBytes(flexible).ToArray();
        if (flexible) reader.SkipTaggedFields();
        return new SaslAuthenticateRequest(bytes);
    }

    public void Write(KafkaWriter writer, short version)
    {
        var flexible = version >= 2;
        writer.WriteBytes(AuthBytes, flexible);
        if (flexible) writer.WriteEmptyTaggedFields();
    }
}

/// <summary>
/// SaslAuthenticate's answer: the error and message, the server's token and (v1+, KIP-368) the session lifetime, 0
/// for a session that never has to authenticate again.
/// </summary>
public sealed record SaslAuthenticateResponse(ErrorCode Error, string? ErrorMessage, byte[] AuthBytes, long SessionLifetimeMs = 0)
{
    public void Write(KafkaWriter writer, short version)
    {
        var flexible = version >= 2;
        writer.WriteInt16((short)Error);
        writer.WriteErrorMessage(ErrorMessage, flexible);
        writer.WriteBytes(AuthBytes, flexible);
        if (version >= 1) writer.WriteInt64(SessionLifetimeMs);
        if (flexible) writer.WriteEmptyTaggedFields();
    }

    public static SaslAuthenticateResponse Read(ref KafkaReader reader, short version)
    {
        var flexible = version >= 2;
        var error = (ErrorCode)reader.ReadInt16();
        var message = reader.ReadNullableString(flexible);
        var bytes = reader.ReadBytes(flexible).ToArray();
        var lifetime = version >= 1 ? reader.ReadInt64() : 0;
        if (flexible) reader.SkipTaggedFields();
        return new SaslAuthenticateResponse(error, message, bytes, lifetime);
    }
}
