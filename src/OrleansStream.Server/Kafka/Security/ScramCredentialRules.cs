using OrleansStream.Protocol.Sasl;
using OrleansStream.Server.Controller;
using OrleansStream.Server.Kafka.Handlers;

namespace OrleansStream.Server.Kafka.Security;

/// <summary>
/// Kafka's checks and answers of AlterUserScramCredentials and DescribeUserScramCredentials (<c>ScramControlManager</c>,
/// <c>ScramImage</c>), in one place for the Kafka listener's handlers and the controller's calls for the SDK, so both
/// refuse the same requests with the same errors and messages and store through the same controller write.
/// </summary>
internal static class ScramCredentialRules
{
    /// <summary>Kafka's messages (<c>ScramControlManager</c>).</summary>
    public const string DuplicateMessage = "A user credential cannot be altered twice in the same request";

    public const string EmptyUserMessage = "Username must not be empty";
    public const string UnknownMechanismMessage = "Unknown SCRAM mechanism";
    public const string TooFewIterationsMessage = "Too few iterations";
    public const string TooManyIterationsMessage = "Too many iterations";

    /// <summary>Ours: Kafka takes an empty salt or salted password and fails later (an empty HMAC key); a credential needs both.</summary>
    public const string EmptySaltMessage = "Salt and salted password must not be empty";

    /// <summary>Kafka's messages (<c>ScramImage</c>), each followed by the user's name.</summary>
    public const string DuplicateUserMessage = "Cannot describe SCRAM credentials for the same user twice in a single request: ";

    public const string UnknownUserMessage = "Attempt to describe a user credential that does not exist: ";

    /// <summary>
    /// Kafka's order of checks: a user altered twice (a deletion and an upsertion count alike) fails as a whole, however
    /// many more times it is named; each change is checked on its own otherwise. Each valid upsertion's salted password
    /// becomes StoredKey and ServerKey here (the salted password goes no further). <paramref name="isConfigured"/>: whether
    /// the broker's configuration gives the user that credential, so its removal must be stored.
    /// </summary>
    public static ScramAlterationPlan Plan(
        IReadOnlyList<ScramCredentialDeletionInfo> deletions, IReadOnlyList<ScramCredentialUpsertionInfo> upsertions, Func<string, ScramMechanism, bool> isConfigured)
    {
        ArgumentNullException.ThrowIfNull(deletions);
        ArgumentNullException.ThrowIfNull(upsertions);
        var plan = new ScramAlterationPlan();
        var valid = new Dictionary<string, ScramCredentialChange>(StringComparer.Ordinal);
        void Fail(string user, ErrorCode error, string message)
        {
            valid.Remove(user);
            plan.Fail(user, error, message);
        }
        foreach (var deletion in deletions)
        {
            if (plan.Failed(deletion.User)) continue;
            if (valid.ContainsKey(deletion.User)) Fail(deletion.User, ErrorCode.DuplicateResource, DuplicateMessage);
            else if (Check(deletion.User, deletion.Mechanism, out var mechanism) is { } invalid) Fail(deletion.User, invalid.Error, invalid.Message);
            else valid[deletion.User] = new ScramCredentialChange(deletion.User, mechanism.Name, null, isConfigured(deletion.User, mechanism));
        }
        foreach (var upsertion in upsertions)
        {
            if (plan.Failed(upsertion.User)) continue;
            if (valid.ContainsKey(upsertion.User)) Fail(upsertion.User, ErrorCode.DuplicateResource, DuplicateMessage);
            else if (Check(upsertion, out var mechanism) is { } invalid) Fail(upsertion.User, invalid.Error, invalid.Message);
            else
            {
                var credential = mechanism.CredentialFromSaltedPassword(upsertion.Salt, upsertion.SaltedPassword, upsertion.Iterations);
                valid[upsertion.User] = new ScramCredentialChange(upsertion.User, mechanism.Name, StoredScramCredential.Of(upsertion.User, mechanism, credential),
                    isConfigured(upsertion.User, mechanism));
            }
        }
        // The deletions, then the upsertions, in the order named (a valid user is named once).
        foreach (var deletion in deletions)
            if (valid.Remove(deletion.User, out var change)) plan.Changes.Add(change);
        foreach (var upsertion in upsertions)
            if (valid.Remove(upsertion.User, out var change)) plan.Changes.Add(change);
        return plan;
    }

    /// <summary>
    /// Kafka's broker's answer: the users whose change the controller applied, in order, then every refused user with
    /// its error. <paramref name="answers"/> null: the controller did not answer (RequestTimedOut for every change).
    /// </summary>
    public static List<UserScramCredentialResult> Results(ScramAlterationPlan plan, IReadOnlyList<ControllerChangeResult>? answers)
    {
        ArgumentNullException.ThrowIfNull(plan);
        var results = new List<UserScramCredentialResult>(plan.Changes.Count + plan.ErrorOrder.Count);
        for (var i = 0; i < plan.Changes.Count; i++)
        {
            var (error, message) = answers is null ? (ErrorCode.RequestTimedOut, ControllerCalls.ControllerDidNotAnswer) : (answers[i].Error, answers[i].Message);
            if (error == ErrorCode.None) results.Add(new UserScramCredentialResult(plan.Changes[i].User, ErrorCode.None, null));
            else plan.Fail(plan.Changes[i].User, error, message ?? error.ToString());
        }
        foreach (var user in plan.ErrorOrder) results.Add(new UserScramCredentialResult(user, plan.Errors[user].Error, plan.Errors[user].Message));
        return results;
    }

    /// <summary>
    /// Kafka's DescribeUserScramCredentials from <paramref name="credentials"/>: every user with a credential (in ordinal
    /// order) when none is named, else each user once, in the order first named; a user named twice gets DuplicateResource.
    /// </summary>
    public static List<UserScramCredentials> Describe(SaslCredentialStore credentials, IReadOnlyList<string>? users)
    {
        ArgumentNullException.ThrowIfNull(credentials);
        var results = new List<UserScramCredentials>();
        if (users is null || users.Count == 0)
        {
            foreach (var user in credentials.UserNames()) results.Add(Describe(credentials, user));
            return results;
        }
        var named = new Dictionary<string, bool>(StringComparer.Ordinal);
        var order = new List<string>();
        foreach (var user in users)
            if (named.TryAdd(user, false)) order.Add(user);
            else named[user] = true;
        foreach (var user in order)
            results.Add(named[user] ? new UserScramCredentials(user, ErrorCode.DuplicateResource, DuplicateUserMessage + user, []) : Describe(credentials, user));
        return results;
    }

    private static UserScramCredentials Describe(SaslCredentialStore credentials, string user)
    {
        var held = credentials.Credentials(user);
        if (held.Count == 0) return new UserScramCredentials(user, ErrorCode.ResourceNotFound, UnknownUserMessage + user, []);
        var infos = new ScramCredentialSummary[held.Count];
        for (var i = 0; i < infos.Length; i++) infos[i] = new ScramCredentialSummary(held[i].Mechanism.Type, held[i].Iterations);
        return new UserScramCredentials(user, ErrorCode.None, null, infos);
    }

    private static (ErrorCode Error, string Message)? Check(string user, sbyte type, out ScramMechanism mechanism)
    {
        mechanism = ScramMechanism.ForType(type)!;
        if (string.IsNullOrEmpty(user)) return (ErrorCode.UnacceptableCredential, EmptyUserMessage);
        if (mechanism is null) return (ErrorCode.UnsupportedSaslMechanism, UnknownMechanismMessage);
        return null;
    }

    private static (ErrorCode Error, string Message)? Check(ScramCredentialUpsertionInfo upsertion, out ScramMechanism mechanism)
    {
        if (Check(upsertion.User, upsertion.Mechanism, out mechanism) is { } invalid) return invalid;
        if (upsertion.Iterations < ScramMechanism.MinIterations) return (ErrorCode.UnacceptableCredential, TooFewIterationsMessage);
        if (upsertion.Iterations > ScramMechanism.MaxIterations) return (ErrorCode.UnacceptableCredential, TooManyIterationsMessage);
        if (upsertion.Salt is not { Length: > 0 } || upsertion.SaltedPassword is not { Length: > 0 }) return (ErrorCode.UnacceptableCredential, EmptySaltMessage);
        return null;
    }
}

/// <summary>What <see cref="ScramCredentialRules.Plan"/> made of a request: the changes for the controller, and the users refused with why.</summary>
internal sealed class ScramAlterationPlan
{
    public List<ScramCredentialChange> Changes { get; } = [];

    public Dictionary<string, (ErrorCode Error, string Message)> Errors { get; } = new(StringComparer.Ordinal);

    public List<string> ErrorOrder { get; } = [];

    public bool Failed(string user) => Errors.ContainsKey(user);

    public void Fail(string user, ErrorCode error, string message)
    {
        Errors[user] = (error, message);
        ErrorOrder.Add(user);
    }
}
