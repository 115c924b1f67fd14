using System.Security.Cryptography;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using OrleansStream.Server.Kafka.Security;

namespace OrleansStream.Server.Controller;

/// <summary>
/// The cluster's SCRAM credentials changed at run time (Kafka's <c>ScramControlManager</c>, KIP-554): stored in the
/// controller's state, changed one request at a time, and read by every broker's <see cref="SaslCredentialStore"/>
/// when the SCRAM version moves. The brokers check each request's names, mechanisms and iterations first; the
/// controller decides what exists.
/// </summary>
internal sealed partial class ClusterControllerGrain
{
    /// <summary>Kafka's message for the removal of a credential that does not exist.</summary>
    public const string ScramCredentialNotFoundMessage = "Attempt to delete a user credential that does not exist";

    public Task<IReadOnlyList<ControllerChangeResult>> AlterScramCredentials(IReadOnlyList<ScramCredentialChange> changes)
    {
        ArgumentNullException.ThrowIfNull(changes);
        if (_stateLost is { } lost)
        {
            var refused = new ControllerChangeResult[changes.Count];
            Array.Fill(refused, new ControllerChangeResult(ErrorCode.InconsistentClusterId, lost));
            return Task.FromResult<IReadOnlyList<ControllerChangeResult>>(refused);
        }
        return Serialized(async () =>
        {
            var results = new ControllerChangeResult[changes.Count];
            var stored = State.ScramCredentials;
            var applied = 0;
            for (var i = 0; i < changes.Count; i++)
            {
                var change = changes[i];
                var at = stored.FindIndex(c => c.User == change.User && c.Mechanism == change.Mechanism);
                if (change.Credential is { } credential)
                {
                    if (at >= 0) stored[at] = credential;
                    else stored.Add(credential);
                }
                else
                {
                    // A credential exists when it is stored, or when the configuration gives it and no removal is stored.
                    var exists = at >= 0 ? !stored[at].Deleted : change.Configured;
                    if (!exists)
                    {
                        results[i] = new ControllerChangeResult(ErrorCode.ResourceNotFound, ScramCredentialNotFoundMessage);
                        continue;
                    }
                    // Only a removal stored keeps the configuration's credential from coming back.
                    var removal = StoredScramCredential.Removal(change.User, change.Mechanism);
                    if (!change.Configured) stored.RemoveAt(at);
                    else if (at >= 0) stored[at] = removal;
                    else stored.Add(removal);
                }
                results[i] = ControllerChangeResult.Stored;
                applied++;
            }
            if (applied == 0) return (IReadOnlyList<ControllerChangeResult>)results;
            State.ScramVersion++;
            if (!await TryCommitAsync(metadataChanged: false))
            {
                for (var i = 0; i < results.Length; i++)
                    if (results[i].Error == ErrorCode.None) results[i] = new ControllerChangeResult(ErrorCode.NotController, StaleWriteMessage);
                return results;
            }
            for (var i = 0; i < results.Length; i++)
                if (results[i].Error == ErrorCode.None) LogScramCredentialChanged(changes[i].User, changes[i].Mechanism, changes[i].Credential is null ? "removed" : "stored");
            return results;
        });
    }

    public Task<ScramCredentialSnapshot> GetScramCredentials()
    {
        var image = _image;
        return Task.FromResult(new ScramCredentialSnapshot(image.ScramVersion, image.ScramCredentials));
    }

    /// <summary>
    /// The SDK's AlterUserScramCredentials: the Kafka listener's checks (<see cref="ScramCredentialRules"/>) and then
    /// <see cref="AlterScramCredentials"/>, the write the Kafka path makes, so the SCRAM version moves alike. A credential
    /// the configuration gives is judged by this silo's configuration, as the Kafka path judges it by the forwarding broker's.
    /// </summary>
    public async Task<IReadOnlyList<UserScramCredentialResult>> AlterUserScramCredentials(
        IReadOnlyList<ScramCredentialDeletionInfo> deletions, IReadOnlyList<ScramCredentialUpsertionInfo> upsertions)
    {
        ArgumentNullException.ThrowIfNull(deletions);
        ArgumentNullException.ThrowIfNull(upsertions);
        try
        {
            var local = ServiceProvider.GetService<SaslCredentialStore>();
            var plan = ScramCredentialRules.Plan(deletions, upsertions, (user, mechanism) => local?.IsConfigured(user, mechanism) ?? false);
            var answers = plan.Changes.Count == 0 ? [] : await AlterScramCredentials(plan.Changes);
            return ScramCredentialRules.Results(plan, answers);
        }
        finally
        {
            foreach (var upsertion in upsertions) CryptographicOperations.ZeroMemory(upsertion?.SaltedPassword);
        }
    }

    /// <summary>
    /// The SDK's DescribeUserScramCredentials, answered as the Kafka listener answers (<see cref="ScramCredentialRules.Describe"/>)
    /// from this silo's credential store brought up to the controller's state (none when this silo runs no Kafka
    /// listener: then only the stored credentials).
    /// </summary>
    public Task<IReadOnlyList<UserScramCredentials>> DescribeUserScramCredentials(IReadOnlyList<string>? users)
    {
        var image = _image;
        var store = ServiceProvider.GetService<SaslCredentialStore>() ?? new SaslCredentialStore(Options.Create(new SaslOptions()));
        // The broker's own poll applies the same snapshot; an older one than it holds is ignored.
        store.Apply(new ScramCredentialSnapshot(image.ScramVersion, image.ScramCredentials));
        return Task.FromResult<IReadOnlyList<UserScramCredentials>>(ScramCredentialRules.Describe(store, users));
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "SCRAM credential {Outcome}: user {User}, {Mechanism}")]
    private partial void LogScramCredentialChanged(string user, string mechanism, string outcome);
}
