namespace OrleansStream;

/// <summary>
/// An ACL binding or filter as Kafka's ACL APIs carry it (the wire's codes: resource type, pattern type, operation and
/// permission), for clients that talk to grains. The controller maps it to the bindings it stores, so the SDK never
/// references the server's types; a filter's null name, principal or host matches any.
/// </summary>
[GenerateSerializer, Immutable]
public sealed record AclBindingInfo(
    sbyte ResourceType, string? ResourceName, sbyte PatternType, string? Principal, string? Host, sbyte Operation, sbyte PermissionType);

/// <summary>The controller's answer for one binding of CreateAcls: Kafka's error and message, or none.</summary>
[GenerateSerializer, Immutable]
public sealed record AclCreationResult(ErrorCode Error, string? ErrorMessage);

/// <summary>The controller's answer for one filter of DeleteAcls: the bindings it removed, or Kafka's error.</summary>
[GenerateSerializer, Immutable]
public sealed record AclDeletionResult(ErrorCode Error, string? ErrorMessage, IReadOnlyList<AclBindingInfo> Deleted);

/// <summary>DescribeAcls' answer: the bindings a filter matches, or Kafka's error for an invalid filter.</summary>
[GenerateSerializer, Immutable]
public sealed record AclDescription(ErrorCode Error, string? ErrorMessage, IReadOnlyList<AclBindingInfo> Bindings);

/// <summary>
/// One upsertion of Kafka's AlterUserScramCredentials: the salted password (Hi(password, salt, iterations)) the client
/// made, as librdkafka sends it, never the password. <paramref name="Mechanism"/> is Kafka's type: 1 SCRAM-SHA-256, 2 SCRAM-SHA-512.
/// Not <c>[Immutable]</c>: the controller zeroes the salted password once used, so a caller in the same silo must hand it a
/// copy (its own array may go again in a retry).
/// </summary>
[GenerateSerializer]
public sealed record ScramCredentialUpsertionInfo(string User, sbyte Mechanism, int Iterations, byte[] Salt, byte[] SaltedPassword)
{
    // The salted password is a secret: a log line or a debugger shows the user and mechanism only.
    public override string ToString() => $"{User} mechanism {Mechanism} ({Iterations} iterations)";
}

/// <summary>One deletion of Kafka's AlterUserScramCredentials: <paramref name="User"/>'s credential of that mechanism type.</summary>
[GenerateSerializer, Immutable]
public sealed record ScramCredentialDeletionInfo(string User, sbyte Mechanism);

/// <summary>AlterUserScramCredentials' answer for one user: Kafka's error and message, or none.</summary>
[GenerateSerializer, Immutable]
public sealed record UserScramCredentialResult(string User, ErrorCode Error, string? ErrorMessage);

/// <summary>DescribeUserScramCredentials' answer for one user: each mechanism and its iterations (never a key), or Kafka's error.</summary>
[GenerateSerializer, Immutable]
public sealed record UserScramCredentials(string User, ErrorCode Error, string? ErrorMessage, IReadOnlyList<ScramCredentialSummary> Credentials);

/// <summary>A credential as described: Kafka's mechanism type and the iterations.</summary>
[GenerateSerializer, Immutable]
public sealed record ScramCredentialSummary(sbyte Mechanism, int Iterations);
