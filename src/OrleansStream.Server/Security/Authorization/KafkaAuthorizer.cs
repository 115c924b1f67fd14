using Microsoft.Extensions.Options;

namespace OrleansStream.Server.Security.Authorization;

/// <summary>
/// ACL authorization on the Kafka listeners, bound from <c>OrleansStream:Authorizer</c> (Kafka's
/// <c>authorizer.class.name</c> set to its <c>StandardAuthorizer</c>, and that authorizer's settings).
/// </summary>
public sealed class AuthorizerOptions
{
    public const string SectionName = "OrleansStream:Authorizer";

    /// <summary>
    /// Whether requests are authorized against the cluster's ACLs. Off by default, as Kafka has no authorizer by default:
    /// every client may do anything its listener serves, and the ACL APIs answer <c>SecurityDisabled</c>.
    /// </summary>
    public bool Enabled { get; set; }

    /// <summary>Kafka's <c>super.users</c>: principals allowed everything, separated by semicolons (<c>User:admin;User:ops</c>).</summary>
    public string SuperUsers { get; set; } = "";

    /// <summary>Kafka's <c>allow.everyone.if.no.acl.found</c>: a resource no binding names is open to everyone (false: to nobody).</summary>
    public bool AllowEveryoneIfNoAclFound { get; set; }

    /// <summary>The principals of <see cref="SuperUsers"/>.</summary>
    public IReadOnlyList<string> SuperUserList() =>
        SuperUsers.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
}

/// <summary>Each super user must be a principal (<c>Type:name</c>), as Kafka parses <c>super.users</c>.</summary>
public sealed class AuthorizerOptionsValidator : IValidateOptions<AuthorizerOptions>
{
    public ValidateOptionsResult Validate(string? name, AuthorizerOptions options)
    {
        foreach (var user in options.SuperUserList())
            if (user.IndexOf(':', StringComparison.Ordinal) <= 0)
                return ValidateOptionsResult.Fail($"{AuthorizerOptions.SectionName}:SuperUsers: '{user}' is not a principal (Type:name, such as User:admin).");
        return ValidateOptionsResult.Success;
    }
}

/// <summary>
/// Kafka's <c>StandardAuthorizer</c> on one broker: every ACL binding the controller stores, held as an
/// <see cref="AclImage"/> that the broker's metadata cache replaces whenever the controller's ACL version moves (within
/// a second of a change, as a Kafka broker follows its metadata log). A check is a lookup in the image, with no call.
/// Until the first image is loaded only super users are allowed anything (Kafka's <c>AuthorizerNotReadyException</c>);
/// the connection handler waits for it before a connection's first request.
/// </summary>
public sealed class KafkaAuthorizer
{
    /// <summary>Kafka's principal of a connection that did not authenticate (PLAINTEXT, SSL without a client certificate).</summary>
    public const string Anonymous = "User:ANONYMOUS";

    private readonly HashSet<string> _superUsers;
    private readonly bool _allowIfNoAcls;
    private readonly TaskCompletionSource _loaded = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Lock _applying = new();
    private AclImage _image = AclImage.Empty;

    public KafkaAuthorizer(IOptions<AuthorizerOptions> options)
    {
        var o = options.Value;
        IsEnabled = o.Enabled;
        _superUsers = new HashSet<string>(o.SuperUserList(), StringComparer.Ordinal);
        _allowIfNoAcls = o.AllowEveryoneIfNoAclFound;
        if (!IsEnabled) _loaded.TrySetResult();
    }

    /// <summary>Whether ACLs are enforced; when not, every check allows and the ACL APIs answer <c>SecurityDisabled</c>.</summary>
    public bool IsEnabled { get; }

    /// <summary>Completes once the first image is loaded (at once when disabled).</summary>
    public Task Loaded => _loaded.Task;

    /// <summary>The version of the controller's ACLs this broker holds (-1 before the first load).</summary>
    public long Version => _loaded.Task.IsCompleted ? _image.Version : -1;

    /// <summary>Every binding this broker holds.</summary>
    public IReadOnlyList<AclBinding> Bindings => _image.Snapshot.Bindings;

    /// <summary>Takes <paramref name="snapshot"/> when it is newer than the image held (answers may arrive out of order).</summary>
    public void Apply(AclSnapshot snapshot)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        if (_loaded.Task.IsCompleted && snapshot.Version <= _image.Version) return;
        var image = new AclImage(snapshot);
        lock (_applying)
        {
            if (_loaded.Task.IsCompleted && snapshot.Version <= _image.Version) return;
            _image = image;
            _loaded.TrySetResult();
        }
    }

    /// <summary>Whether <paramref name="principal"/> connected from <paramref name="host"/> may do <paramref name="operation"/> on the resource.</summary>
    public bool IsAllowed(string principal, string host, AclOperation operation, AclResourceType type, string name)
    {
        if (!IsEnabled || _superUsers.Contains(principal)) return true;
        if (!_loaded.Task.IsCompleted) return false;
        return _image.Decide(principal, host, operation, type, name) switch
        {
            AclDecision.Allowed => true,
            AclDecision.NoAcls => _allowIfNoAcls,
            _ => false,
        };
    }

    /// <summary>
    /// The authorized-operations bit field of Metadata, DescribeGroups, DescribeCluster and ConsumerGroupDescribe: bit n
    /// set for each operation n of <paramref name="operations"/> allowed (Kafka's <c>AuthHelper.authorizedOperations</c>).
    /// </summary>
    public int AuthorizedOperations(string principal, string host, AclResourceType type, string name, ReadOnlySpan<AclOperation> operations)
    {
        var bits = 0;
        foreach (var operation in operations)
            if (IsAllowed(principal, host, operation, type, name)) bits |= 1 << (int)operation;
        return bits;
    }
}
