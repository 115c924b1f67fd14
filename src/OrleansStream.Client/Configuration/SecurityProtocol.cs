namespace OrleansStream.Client;

/// <summary>How the client talks to the gateways (<c>security.protocol</c>).</summary>
public enum SecurityProtocol
{
    Plaintext,
    /// <summary>TLS; the gateway's certificate is verified, and the client's own is presented when configured.</summary>
    Ssl,
}

/// <summary>Whether the gateway's certificate must name the address the client dialled (<c>ssl.endpoint.identification.algorithm</c>).</summary>
public enum SslEndpointIdentificationAlgorithm
{
    None,
    Https,
}
