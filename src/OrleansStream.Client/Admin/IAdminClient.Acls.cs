using OrleansStream.Client.Admin;

namespace OrleansStream.Client;

/// <summary>ACL administration, shaped like Confluent.Kafka's IAdminClient (Kafka's CreateAcls, DescribeAcls, DeleteAcls).</summary>
public partial interface IAdminClient
{
    /// <summary>
    /// Kafka's CreateAcls: each valid binding stored (one that exists already is not stored twice), all in one write
    /// that every broker's authorizer reloads. Throws <see cref="CreateAclsException"/> with every binding's report when
    /// any was refused (InvalidRequest with Kafka's message: a filter-only value, a CLUSTER not named kafka-cluster...).
    /// The SDK is trusted: no ACL is checked, and ACLs are stored even where the brokers' authorizer is off. No binding:
    /// ArgumentException, as Confluent's.
    /// </summary>
    Task CreateAclsAsync(IEnumerable<AclBinding> aclBindings, CreateAclsOptions? options = null);

    /// <summary>
    /// Kafka's DescribeAcls: the bindings the filter matches (<see cref="ResourcePatternType.Match"/>: those that apply to
    /// the named resource), from the controller's latest state. An invalid filter throws <see cref="DescribeAclsException"/>.
    /// </summary>
    Task<DescribeAclsResult> DescribeAclsAsync(AclBindingFilter aclBindingFilter, DescribeAclsOptions? options = null);

    /// <summary>
    /// Kafka's DeleteAcls: per filter, in order, the bindings it removed, all in one write. Throws
    /// <see cref="DeleteAclsException"/> with every filter's report when any was refused. No filter: ArgumentException.
    /// </summary>
    Task<List<DeleteAclsResult>> DeleteAclsAsync(IEnumerable<AclBindingFilter> aclBindingFilters, DeleteAclsOptions? options = null);
}
