using OrleansStream.Client.Admin;

namespace OrleansStream.Client;

/// <summary>SCRAM credential administration, shaped like Confluent.Kafka's IAdminClient (KIP-554).</summary>
public partial interface IAdminClient
{
    /// <summary>
    /// Kafka's DescribeUserScramCredentials: each user's mechanisms and iterations (never a key); null or no user: every
    /// user with a credential (a null or empty name: ArgumentException, as Confluent's). Throws
    /// <see cref="DescribeUserScramCredentialsException"/> with every user's description when any failed
    /// (ResourceNotFound for a user without credentials, DuplicateResource for one named twice).
    /// </summary>
    Task<DescribeUserScramCredentialsResult> DescribeUserScramCredentialsAsync(IEnumerable<string>? users, DescribeUserScramCredentialsOptions? options = null);

    /// <summary>
    /// Kafka's AlterUserScramCredentials with its checks (iterations 4096 to 16384, a user altered at most once per
    /// request, a known mechanism; deleting a credential that does not exist is ResourceNotFound). The password is
    /// salted here and never sent. Throws <see cref="AlterUserScramCredentialsException"/> with every user's report when
    /// any change was refused; the others are applied.
    /// </summary>
    Task AlterUserScramCredentialsAsync(IEnumerable<UserScramCredentialAlteration> alterations, AlterUserScramCredentialsOptions? options = null);
}
