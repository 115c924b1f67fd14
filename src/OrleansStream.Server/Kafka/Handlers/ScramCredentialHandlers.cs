using System.Security.Cryptography;
using OrleansStream.Protocol;
using OrleansStream.Protocol.Messages;
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
        var described = ScramCredentialRules.Describe(credentials, users);
        var results = new DescribeUserScramCredentialsResult[described.Count];
        for (var i = 0; i < results.Length; i++)
        {
            var d = described[i];
            var infos = new ScramCredentialInfo[d.Credentials.Count];
            for (var j = 0; j < infos.Length; j++) infos[j] = new ScramCredentialInfo(d.Credentials[j].Mechanism, d.Credentials[j].Iterations);
            results[i] = new DescribeUserScramCredentialsResult(d.User, d.Error, d.ErrorMessage, infos);
        }
        new DescribeUserScramCredentialsResponse(ErrorCode.None, null, results).Write(response, request.Version);
        return true;
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

        // Kafka's checks, shared with the controller's calls for the SDK.
        var deletions = new ScramCredentialDeletionInfo[body.Deletions.Length];
        for (var i = 0; i < deletions.Length; i++) deletions[i] = new ScramCredentialDeletionInfo(body.Deletions[i].Name, body.Deletions[i].Mechanism);
        var upsertions = new ScramCredentialUpsertionInfo[body.Upsertions.Length];
        for (var i = 0; i < upsertions.Length; i++)
        {
            var u = body.Upsertions[i];
            upsertions[i] = new ScramCredentialUpsertionInfo(u.Name, u.Mechanism, u.Iterations, u.Salt, u.SaltedPassword);
        }
        var plan = ScramCredentialRules.Plan(deletions, upsertions, credentials.IsConfigured);
        var answers = plan.Changes.Count == 0 ? [] : await ControllerCalls.UnlessUnreachableAsync(grains.ControllerInternal().AlterScramCredentials(plan.Changes));
        if (plan.Changes.Count > 0) await metadata.CatchUpAsync();
        var outcomes = ScramCredentialRules.Results(plan, answers);
        var results = new AlterUserScramCredentialsResult[outcomes.Count];
        for (var i = 0; i < results.Length; i++) results[i] = new AlterUserScramCredentialsResult(outcomes[i].User, outcomes[i].Error, outcomes[i].ErrorMessage);
        new AlterUserScramCredentialsResponse(results).Write(response, request.Version);
    }
}
