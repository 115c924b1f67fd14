using OrleansStream.Client.Admin;

namespace OrleansStream.Client;

/// <summary>
/// ACL administration through the controller grain: the controller code the Kafka listener forwards to (Kafka's
/// checks and messages, the one write the brokers' authorizers reload on), so the SDK only maps Confluent.Kafka's
/// shapes to the grain contract, whose codes are Kafka's and Confluent's alike.
/// </summary>
internal sealed partial class AdminClient
{
    public async Task CreateAclsAsync(IEnumerable<AclBinding> aclBindings, CreateAclsOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(aclBindings);
        var bindings = aclBindings.Select(ToInfo).ToList();
        // Confluent's (librdkafka's) refusal of an empty request.
        if (bindings.Count == 0) throw new ArgumentException("No ACL bindings to create.", nameof(aclBindings));
        // Idempotent: a binding stored twice is stored once.
        var results = await RetryNotControllerAsync(bindings, b => _cache.Controller.CreateAclBindings(b), static r => r.Error, options, idempotent: true).ConfigureAwait(false);
        var reports = results.Select(static r => new CreateAclReport { Error = ErrorOf(r.Error, r.ErrorMessage) }).ToList();
        if (reports.Exists(static r => r.Error.IsError)) throw new CreateAclsException(reports);
    }

    public async Task<DescribeAclsResult> DescribeAclsAsync(AclBindingFilter aclBindingFilter, DescribeAclsOptions? options = null)
    {
        var filter = ToInfo(aclBindingFilter);
        var answer = await RetryingCall(() => _cache.Controller.DescribeAcls(filter), Timeout(options), idempotent: true).ConfigureAwait(false);
        var bindings = answer.Bindings.Select(ToBinding).ToList();
        if (answer.Error != ErrorCode.None) throw new DescribeAclsException(new DescribeAclsReport { Error = ErrorOf(answer.Error, answer.ErrorMessage), AclBindings = bindings });
        return new DescribeAclsResult { AclBindings = bindings };
    }

    public async Task<List<DeleteAclsResult>> DeleteAclsAsync(IEnumerable<AclBindingFilter> aclBindingFilters, DeleteAclsOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(aclBindingFilters);
        var filters = aclBindingFilters.Select(ToInfo).ToList();
        if (filters.Count == 0) throw new ArgumentException("No ACL binding filters to delete by.", nameof(aclBindingFilters));
        // Not idempotent: made again after it was applied, a filter reports no binding removed.
        var results = await RetryNotControllerAsync(filters, f => _cache.Controller.DeleteAclBindings(f), static r => r.Error, options, idempotent: false).ConfigureAwait(false);
        var reports = results.Select(static r => new DeleteAclsReport { Error = ErrorOf(r.Error, r.ErrorMessage), AclBindings = r.Deleted.Select(ToBinding).ToList() }).ToList();
        if (reports.Exists(static r => r.Error.IsError)) throw new DeleteAclsException(reports);
        return reports.ConvertAll(static r => new DeleteAclsResult { AclBindings = r.AclBindings });
    }

    // Confluent's enums carry Kafka's codes (Broker is Kafka's CLUSTER, 4): they pass as they are, and the controller
    // refuses what Kafka refuses, with Kafka's message.
    private static AclBindingInfo ToInfo(AclBinding binding)
    {
        ArgumentNullException.ThrowIfNull(binding);
        ArgumentNullException.ThrowIfNull(binding.Pattern);
        ArgumentNullException.ThrowIfNull(binding.Entry);
        return new AclBindingInfo((sbyte)binding.Pattern.Type, binding.Pattern.Name, (sbyte)binding.Pattern.ResourcePatternType,
            binding.Entry.Principal, binding.Entry.Host, (sbyte)binding.Entry.Operation, (sbyte)binding.Entry.PermissionType);
    }

    private static AclBindingInfo ToInfo(AclBindingFilter filter)
    {
        ArgumentNullException.ThrowIfNull(filter);
        ArgumentNullException.ThrowIfNull(filter.PatternFilter);
        ArgumentNullException.ThrowIfNull(filter.EntryFilter);
        return new AclBindingInfo((sbyte)filter.PatternFilter.Type, filter.PatternFilter.Name, (sbyte)filter.PatternFilter.ResourcePatternType,
            filter.EntryFilter.Principal, filter.EntryFilter.Host, (sbyte)filter.EntryFilter.Operation, (sbyte)filter.EntryFilter.PermissionType);
    }

    private static AclBinding ToBinding(AclBindingInfo b) => new()
    {
        Pattern = new ResourcePattern { Type = (ResourceType)b.ResourceType, Name = b.ResourceName ?? "", ResourcePatternType = (ResourcePatternType)b.PatternType },
        Entry = new AccessControlEntry { Principal = b.Principal ?? "", Host = b.Host ?? "", Operation = (AclOperation)b.Operation, PermissionType = (AclPermissionType)b.PermissionType },
    };
}
