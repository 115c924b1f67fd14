using System.Security.Cryptography;
using OrleansStream.Protocol;
using OrleansStream.Protocol.Messages;
using OrleansStream.Protocol.Sasl;
using OrleansStream.Server.Kafka.Security;
using OrleansStream.Server.Security.Authorization;

namespace OrleansStream.Server.Kafka.Handlers;

/// <summary>
/// DescribeUserScramCredentials v0 (KIP-554): each user's SCRAM mechanisms and iterations, never a key, from this
/// broker's <see cref="SaslCredentialStore"/> brought up to the controller's first (Kafka's broker answers from its
/// metadata cache). DESCRIBE on the cluster when the authorizer is on.
/// </summary>
internal sealed class DescribeUserScramCredentialsHandler(KafkaAuthorizer authorizer, SaslCredentialStore credentials, MetadataCache metadata)
    : KafkaApiHandler<DescribeUserScramCredentialsRequest>(ApiKey.DescribeUserScramCredentials, DescribeUserScramCredentialsRequest.Read)
{
    /// <summary>Kafka's messages (<c>ScramImage</c>), each followed by the user's name.</summary>
    public const string DuplicateUserMessage = "Cannot describe SCRAM credentials for the same user twice in a single request: ";

    public const string UnknownUserMessage = "Attempt to describe a user credential that does not exist: ";

    protected override async ValueTask<bool> AnswerAsync(DescribeUserScramCredentialsRequest body, KafkaRequest request, KafkaWriter response)
    {
        var users = body.Users ?? [];
        if (!request.IsAllowedOnCluster(authorizer, AclOperation.Describe))
        {
            // Kafka's error response: the error at the top and once per user asked for, without the user's name.
            var refused = new DescribeUserScramCredentialsResult[users.Length];
            Array.Fill(refused, new DescribeUserScramCredentialsResult("", ErrorCode.ClusterAuthorizationFailed, AuthorizationMessages.Cluster, []));
            new DescribeUserScramCredentialsResponse(ErrorCode.ClusterAuthorizationFailed, AuthorizationMessages.Cluster, refused).Write(response, request.Version);
            return true;
        }
        // The controller's latest, where it answers: a client that just changed a credential through another broker sees it.
        await metadata.CatchUpAsync();
        var results = new List<DescribeUserScramCredentialsResult>();
        if (users.Length == 0)
        {
            foreach (var user in credentials.UserNames()) results.Add(Describe(user));
        }
        else
        {
            // Each user once, in the order first named; a user named twice gets DuplicateResource instead.
            var named = new Dictionary<string, bool>(StringComparer.Ordinal);
            var order = new List<string>();
            foreach (var user in users)
                if (named.TryAdd(user, false)) order.Add(user);
                else named[user] = true;
            foreach (var user in order)
                results.Add(named[user] ? new DescribeUserScramCredentialsResult(user, ErrorCode.DuplicateResource, DuplicateUserMessage + user, [])
                    : Describe(user));
        }
        new DescribeUserScramCredentialsResponse(ErrorCode.None, null, results).Write(response, request.Version);
        return true;
    }

    private DescribeUserScramCredentialsResult Describe(string user)
    {
        var held = credentials.Credentials(user);
        if (held.Count == 0) return new DescribeUserScramCredentialsResult(user, ErrorCode.ResourceNotFound, UnknownUserMessage + user, []);
        var infos = new ScramCredentialInfo[held.Count];
        for (var i = 0; i < infos.Length; i++) infos[i] = new ScramCredentialInfo(held[i].Mechanism.Type, held[i].Iterations);
        return new DescribeUserScramCredentialsResult(user, ErrorCode.None, null, infos);
    }
}

/// <summary>
/// AlterUserScramCredentials v0 (KIP-554, what <c>kafka-configs.sh --alter --entity-type users</c> and the admin
/// clients' <c>AlterUserScramCredentials</c> send): ALTER on the cluster when the authorizer is on. The broker checks
/// each user's changes as Kafka's <c>ScramControlManager</c> does, turns each salted password into StoredKey and
/// ServerKey (the salted password goes no further), and the controller stores them in one write; the broker that
/// forwarded them reloads its credentials before it answers, the others within a second.
/// </summary>
internal sealed class AlterUserScramCredentialsHandler(KafkaAuthorizer authorizer, SaslCredentialStore credentials, MetadataCache metadata, IGrainFactory grains)
    : KafkaApiHandler<AlterUserScramCredentialsRequest>(ApiKey.AlterUserScramCredentials, AlterUserScramCredentialsRequest.Read)
{
    /// <summary>Kafka's messages (<c>ScramControlManager</c>).</summary>
    public const string DuplicateMessage = "A user credential cannot be altered twice in the same request";

    public const string EmptyUserMessage = "Username must not be empty";
    public const string UnknownMechanismMessage = "Unknown SCRAM mechanism";
    public const string TooFewIterationsMessage = "Too few iterations";
    public const string TooManyIterationsMessage = "Too many iterations";

    /// <summary>Ours: Kafka takes an empty salt or salted password and fails later (an empty HMAC key); a credential needs both.</summary>
    public const string EmptySaltMessage = "Salt and salted password must not be empty";

    protected override async ValueTask<bool> AnswerAsync(AlterUserScramCredentialsRequest body, KafkaRequest request, KafkaWriter response)
    {
        try
        {
            await AlterAsync(body, request, response);
            return true;
        }
        finally
        {
            foreach (var upsertion in body.Upsertions) CryptographicOperations.ZeroMemory(upsertion.SaltedPassword);
        }
    }

    private async Task AlterAsync(AlterUserScramCredentialsRequest body, KafkaRequest request, KafkaWriter response)
    {
        if (!request.IsAllowedOnCluster(authorizer, AclOperation.Alter))
        {
            // Kafka's error response: every user named, once each, in name order.
            var users = new SortedSet<string>(StringComparer.Ordinal);
            foreach (var d in body.Deletions) users.Add(d.Name);
            foreach (var u in body.Upsertions) users.Add(u.Name);
            var refused = new List<AlterUserScramCredentialsResult>(users.Count);
            foreach (var user in users) refused.Add(new AlterUserScramCredentialsResult(user, ErrorCode.ClusterAuthorizationFailed, AuthorizationMessages.Cluster));
            new AlterUserScramCredentialsResponse(refused).Write(response, request.Version);
            return;
        }

        // Kafka's order of checks: a user altered twice (a deletion and an upsertion count alike) fails as a whole,
        // however many more times it is named; each change is checked on its own otherwise.
        var errors = new Dictionary<string, (ErrorCode Error, string Message)>(StringComparer.Ordinal);
        var errorOrder = new List<string>();
        var valid = new Dictionary<string, ScramCredentialChange>(StringComparer.Ordinal);
        void Fail(string user, ErrorCode error, string message)
        {
            valid.Remove(user);
            errors[user] = (error, message);
            errorOrder.Add(user);
        }
        foreach (var deletion in body.Deletions)
        {
            if (errors.ContainsKey(deletion.Name)) continue;
            if (valid.ContainsKey(deletion.Name)) Fail(deletion.Name, ErrorCode.DuplicateResource, DuplicateMessage);
            else if (Check(deletion.Name, deletion.Mechanism, out var mechanism) is { } invalid) Fail(deletion.Name, invalid.Error, invalid.Message);
            else valid[deletion.Name] = new ScramCredentialChange(deletion.Name, mechanism.Name, null, credentials.IsConfigured(deletion.Name, mechanism));
        }
        foreach (var upsertion in body.Upsertions)
        {
            if (errors.ContainsKey(upsertion.Name)) continue;
            if (valid.ContainsKey(upsertion.Name)) Fail(upsertion.Name, ErrorCode.DuplicateResource, DuplicateMessage);
            else if (Check(upsertion, out var mechanism) is { } invalid) Fail(upsertion.Name, invalid.Error, invalid.Message);
            else
            {
                var credential = mechanism.CredentialFromSaltedPassword(upsertion.Salt, upsertion.SaltedPassword, upsertion.Iterations);
                valid[upsertion.Name] = new ScramCredentialChange(upsertion.Name, mechanism.Name, StoredScramCredential.Of(upsertion.Name, mechanism, credential),
                    credentials.IsConfigured(upsertion.Name, mechanism));
            }
        }

        // The deletions, then the upsertions, in the order named (a valid user is named once).
        var changes = new List<ScramCredentialChange>(valid.Count);
        foreach (var deletion in body.Deletions)
            if (valid.Remove(deletion.Name, out var change)) changes.Add(change);
        foreach (var upsertion in body.Upsertions)
            if (valid.Remove(upsertion.Name, out var change)) changes.Add(change);
        var answers = changes.Count == 0 ? [] : await ControllerCalls.UnlessUnreachableAsync(grains.ControllerInternal().AlterScramCredentials(changes));
        if (changes.Count > 0) await metadata.CatchUpAsync();

        var results = new List<AlterUserScramCredentialsResult>(changes.Count + errorOrder.Count);
        for (var i = 0; i < changes.Count; i++)
        {
            var (error, message) = answers is null ? (ErrorCode.RequestTimedOut, ControllerCalls.ControllerDidNotAnswer) : (answers[i].Error, answers[i].Message);
            if (error == ErrorCode.None) results.Add(new AlterUserScramCredentialsResult(changes[i].User, ErrorCode.None, null));
            else
            {
                errors[changes[i].User] = (error, message!);
                errorOrder.Add(changes[i].User);
            }
        }
        foreach (var user in errorOrder) results.Add(new AlterUserScramCredentialsResult(user, errors[user].Error, errors[user].Message));
        new AlterUserScramCredentialsResponse(results).Write(response, request.Version);
    }

    private static (ErrorCode Error, string Message)? Check(string user, sbyte type, out ScramMechanism mechanism)
    {
        mechanism = ScramMechanism.ForType(type)!;
        if (user.Length == 0) return (ErrorCode.UnacceptableCredential, EmptyUserMessage);
        if (mechanism is null) return (ErrorCode.UnsupportedSaslMechanism, UnknownMechanismMessage);
        return null;
    }

    private static (ErrorCode Error, string Message)? Check(ScramCredentialUpsertion upsertion, out ScramMechanism mechanism)
    {
        if (Check(upsertion.Name, upsertion.Mechanism, out mechanism) is { } invalid) return invalid;
        if (upsertion.Iterations < ScramMechanism.MinIterations) return (ErrorCode.UnacceptableCredential, TooFewIterationsMessage);
        if (upsertion.Iterations > ScramMechanism.MaxIterations) return (ErrorCode.UnacceptableCredential, TooManyIterationsMessage);
        if (upsertion.Salt.Length == 0 || upsertion.SaltedPassword.Length == 0) return (ErrorCode.UnacceptableCredential, EmptySaltMessage);
        return null;
    }
}
