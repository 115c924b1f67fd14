using System.Security.Cryptography;
using OrleansStream.Client.Admin;
using OrleansStream.Records;

namespace OrleansStream.Client;

/// <summary>
/// SCRAM credential administration through the controller grain, with the Kafka listener's checks (shared server
/// code) and its controller write, so the brokers reload the credentials alike. The password is salted here, as
/// librdkafka salts it: only the salted password travels, and the controller turns it into StoredKey and ServerKey.
/// </summary>
internal sealed partial class AdminClient
{
    /// <summary>librdkafka's salt length when the application gives none.</summary>
    private const int RandomSaltLength = 64;

    public async Task<DescribeUserScramCredentialsResult> DescribeUserScramCredentialsAsync(IEnumerable<string>? users, DescribeUserScramCredentialsOptions? options = null)
    {
        // Null or none: every user, as Confluent's; a null or empty name is refused here, as Confluent refuses it.
        var names = users is null ? [] : new List<string>(users);
        if (names.Exists(string.IsNullOrEmpty)) throw new ArgumentException("A user to describe is null or empty.", nameof(users));
        var answers = await RetryingCall(() => _cache.Controller.DescribeUserScramCredentials(names), Timeout(options), idempotent: true).ConfigureAwait(false);
        var descriptions = new List<UserScramCredentialsDescription>(answers.Count);
        foreach (var a in answers)
        {
            descriptions.Add(new UserScramCredentialsDescription
            {
                User = a.User,
                Error = ErrorOf(a.Error, a.ErrorMessage),
                ScramCredentialInfos = a.Credentials.Select(static c => new ScramCredentialInfo { Mechanism = (ScramMechanism)c.Mechanism, Iterations = c.Iterations }).ToList(),
            });
        }
        if (descriptions.Exists(static d => d.Error.IsError))
            throw new DescribeUserScramCredentialsException(new DescribeUserScramCredentialsReport { UserScramCredentialsDescriptions = descriptions });
        return new DescribeUserScramCredentialsResult { UserScramCredentialsDescriptions = descriptions };
    }

    public async Task AlterUserScramCredentialsAsync(IEnumerable<UserScramCredentialAlteration> alterations, AlterUserScramCredentialsOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(alterations);
        var deletions = new List<ScramCredentialDeletionInfo>();
        var upsertions = new List<ScramCredentialUpsertionInfo>();
        try
        {
            foreach (var alteration in alterations)
            {
                switch (alteration)
                {
                    case UserScramCredentialDeletion d:
                        deletions.Add(new ScramCredentialDeletionInfo(d.User ?? "", (sbyte)d.Mechanism));
                        break;
                    case UserScramCredentialUpsertion u:
                        upsertions.Add(Salted(u));
                        break;
                    default:
                        throw new ArgumentException($"Unknown alteration {alteration?.GetType().Name ?? "null"}: an upsertion or a deletion.", nameof(alterations));
                }
            }
            if (deletions.Count + upsertions.Count == 0) return;
            var results = await AlterScramAsync(deletions, upsertions, options).ConfigureAwait(false);
            var reports = results.ConvertAll(static r => new AlterUserScramCredentialsReport { User = r.User, Error = ErrorOf(r.Error, r.ErrorMessage) });
            if (reports.Exists(static r => r.Error.IsError)) throw new AlterUserScramCredentialsException(reports);
        }
        finally
        {
            foreach (var u in upsertions) CryptographicOperations.ZeroMemory(u.SaltedPassword);
        }
    }

    /// <summary>
    /// One result per user (applied first, then refused, as Kafka answers). Users the controller refused with
    /// NotController (another activation wrote first; nothing of theirs applied) go again, up to twice, as Kafka's admin
    /// client retries them. Not idempotent otherwise: a deletion made again reports ResourceNotFound.
    /// </summary>
    private async Task<List<UserScramCredentialResult>> AlterScramAsync(
        List<ScramCredentialDeletionInfo> deletions, List<ScramCredentialUpsertionInfo> upsertions, AdminOptions? options)
    {
        var timeout = Timeout(options);
        var results = new List<UserScramCredentialResult>(await RetryingCall(() => _cache.Controller.AlterUserScramCredentials(deletions, upsertions), timeout, idempotent: false).ConfigureAwait(false));
        for (var attempt = 0; attempt < 2; attempt++)
        {
            var stale = new HashSet<string>(results.Where(static r => r.Error == ErrorCode.NotController).Select(static r => r.User), StringComparer.Ordinal);
            if (stale.Count == 0) break;
            await Task.Delay(TimeSpan.FromMilliseconds(Math.Max(1, _retryBackoffMs)), time).ConfigureAwait(false);
            var againDeleted = deletions.FindAll(d => stale.Contains(d.User));
            var againUpserted = upsertions.FindAll(u => stale.Contains(u.User));
            var retried = await RetryingCall(() => _cache.Controller.AlterUserScramCredentials(againDeleted, againUpserted), timeout, idempotent: false).ConfigureAwait(false);
            results.RemoveAll(r => stale.Contains(r.User));
            results.AddRange(retried);
        }
        return results;
    }

    /// <summary>
    /// SaltedPassword = Hi(password, salt, iterations) of the mechanism (the shared derivation), with a random salt when
    /// none is given. An unknown mechanism goes unsalted, for the controller to refuse with Kafka's error.
    /// </summary>
    private static ScramCredentialUpsertionInfo Salted(UserScramCredentialUpsertion upsertion)
    {
        var info = upsertion.ScramCredentialInfo ?? throw new ArgumentException("An upsertion needs its ScramCredentialInfo.", nameof(upsertion));
        var salt = upsertion.Salt is { Length: > 0 } given ? given : RandomNumberGenerator.GetBytes(RandomSaltLength);
        HashAlgorithmName? hash = info.Mechanism switch
        {
            ScramMechanism.ScramSha256 => HashAlgorithmName.SHA256,
            ScramMechanism.ScramSha512 => HashAlgorithmName.SHA512,
            _ => null,
        };
        // Iterations out of Kafka's bounds are not derived (16384 at most is cheap; a huge count would hang here): the controller refuses them.
        var derive = hash.HasValue && info.Iterations > 0 && info.Iterations <= MaxDerivedIterations;
        var salted = derive ? ScramSaltedPassword.Compute(hash!.Value, upsertion.Password ?? [], salt, info.Iterations) : [0];
        return new ScramCredentialUpsertionInfo(upsertion.User ?? "", (sbyte)info.Mechanism, info.Iterations, salt, salted);
    }

    /// <summary>Kafka's upper bound on iterations: a count above it is refused by the controller, so it is not derived.</summary>
    private const int MaxDerivedIterations = 16384;
}
