using System.CommandLine;
using System.CommandLine.Parsing;
using System.Text;
using OrleansStream.Client;
using OrleansStream.Client.Admin;

namespace OrleansStream.Cli.Commands;

/// <summary><c>acls list|add|remove</c>, the kafka-acls.sh of OrleansStream, with its flags and its list output.</summary>
internal static class AclsCommands
{
    public static Command Build()
    {
        var acls = new Command("acls", "List, add and remove the ACLs the Kafka listeners' authorizer applies");
        acls.Subcommands.Add(List());
        acls.Subcommands.Add(Add());
        acls.Subcommands.Add(Remove());
        return acls;
    }

    /// <summary>kafka-acls.sh's resource flags: at most one (add and remove: exactly one).</summary>
    private sealed class ResourceOptions
    {
        public Option<string?> Topic { get; } = new("--topic") { Description = "A topic (* for every topic)" };
        public Option<string?> Group { get; } = new("--group") { Description = "A consumer group (* for every group)" };
        public Option<bool> Cluster { get; } = new("--cluster") { Description = "The cluster (kafka-cluster)" };
        public Option<string?> TransactionalId { get; } = new("--transactional-id") { Description = "A transactional.id (* for every one)" };
        public Option<string?> PatternType { get; }

        public ResourceOptions(bool filter)
        {
            PatternType = new Option<string?>("--resource-pattern-type")
            {
                Description = filter ? "literal (the default with a resource), prefixed, match (every ACL that applies to the named resource) or any (the default without one)"
                    : "literal (the default) or prefixed",
            };
            if (filter) PatternType.AcceptOnlyFromAmong("literal", "prefixed", "match", "any");
            else PatternType.AcceptOnlyFromAmong("literal", "prefixed");
        }

        public void AddTo(Command command, bool required)
        {
            command.Options.Add(Topic);
            command.Options.Add(Group);
            command.Options.Add(Cluster);
            command.Options.Add(TransactionalId);
            command.Options.Add(PatternType);
            command.Validators.Add(result =>
            {
                var named = Named(result);
                if (named > 1) result.AddError("give only one of --topic, --group, --cluster, --transactional-id");
                else if (named == 0 && required) result.AddError("one of --topic, --group, --cluster, --transactional-id is required");
            });
        }

        private int Named(CommandResult result) =>
            (result.GetValue(Topic) is null ? 0 : 1) + (result.GetValue(Group) is null ? 0 : 1) + (result.GetValue(Cluster) ? 1 : 0) + (result.GetValue(TransactionalId) is null ? 0 : 1);

        /// <summary>The resource named, null when none is.</summary>
        public (ResourceType Type, string Name)? Resource(ParseResult parse) =>
            parse.GetValue(Topic) is { } topic ? (ResourceType.Topic, topic)
            : parse.GetValue(Group) is { } group ? (ResourceType.Group, group)
            : parse.GetValue(Cluster) ? (ResourceType.Broker, ClusterName)
            : parse.GetValue(TransactionalId) is { } id ? (ResourceType.TransactionalId, id)
            : null;

        /// <summary>The pattern type given, else <paramref name="otherwise"/> (kafka-acls.sh's default: literal).</summary>
        public ResourcePatternType Pattern(ParseResult parse, ResourcePatternType otherwise = ResourcePatternType.Literal) => parse.GetValue(PatternType) switch
        {
            "literal" => ResourcePatternType.Literal,
            "prefixed" => ResourcePatternType.Prefixed,
            "match" => ResourcePatternType.Match,
            "any" => ResourcePatternType.Any,
            _ => otherwise,
        };

        /// <summary>The named resource's pattern filter; none named: every resource (kafka-acls.sh --list without one).</summary>
        public ResourcePatternFilter Filter(ParseResult parse) => Resource(parse) is { } r
            ? new ResourcePatternFilter { Type = r.Type, Name = r.Name, ResourcePatternType = Pattern(parse) }
            : new ResourcePatternFilter { Type = ResourceType.Any, Name = null, ResourcePatternType = Pattern(parse, ResourcePatternType.Any) };
    }

    private static Command List()
    {
        // kafka-acls.sh --list [--topic T ...] [--principal User:alice]
        var resource = new ResourceOptions(filter: true);
        var principal = new Option<string?>("--principal") { Description = "Only the ACLs of this principal (User:alice)" };
        var command = new Command("list", "The ACLs matching the resource (all when none is named), per resource, as kafka-acls.sh --list") { principal };
        resource.AddTo(command, required: false);
        command.SetAction(async (parse, ct) =>
        {
            var filter = new AclBindingFilter
            {
                PatternFilter = resource.Filter(parse),
                EntryFilter = new AccessControlEntryFilter { Principal = parse.GetValue(principal), Operation = AclOperation.Any, PermissionType = AclPermissionType.Any },
            };
            await using var connection = await CliApp.ConnectAsync(parse, ct);
            using var admin = new AdminClientBuilder(connection.Client).Build();
            DescribeAclsResult result;
            try
            {
                result = await admin.DescribeAclsAsync(filter);
            }
            catch (DescribeAclsException e)
            {
                throw new CliException($"{e.Result.Error.Code}: {e.Result.Error.Reason}");
            }
            Console.Out.Write(Format("Current ACLs for resource", result.AclBindings));
            return ExitCodes.Success;
        });
        return command;
    }

    private static Command Add()
    {
        // kafka-acls.sh --add --allow-principal User:alice --operation Read --topic T
        var resource = new ResourceOptions(filter: false);
        var (allow, deny, operation, host) = EntryOptions();
        operation.Required = true;
        var command = new Command("add", "Add ACLs: each principal allowed or denied each operation on the resource") { allow, deny, operation, host };
        resource.AddTo(command, required: true);
        command.Validators.Add(result =>
        {
            if (result.GetValue(allow) is not { Length: > 0 } && result.GetValue(deny) is not { Length: > 0 }) result.AddError("--allow-principal or --deny-principal is required");
        });
        command.SetAction(async (parse, ct) =>
        {
            var (type, name) = resource.Resource(parse)!.Value;
            var pattern = new ResourcePattern { Type = type, Name = name, ResourcePatternType = resource.Pattern(parse) };
            var bindings = new List<AclBinding>();
            foreach (var (principal, permission) in Principals(parse, allow, deny))
                foreach (var op in Operations(parse, operation))
                    bindings.Add(new AclBinding
                    {
                        Pattern = pattern,
                        Entry = new AccessControlEntry { Principal = principal!, Host = parse.GetValue(host) ?? "*", Operation = op, PermissionType = permission },
                    });
            await using var connection = await CliApp.ConnectAsync(parse, ct);
            using var admin = new AdminClientBuilder(connection.Client).Build();
            try
            {
                await admin.CreateAclsAsync(bindings);
            }
            catch (CreateAclsException e)
            {
                var failed = e.Results.First(static r => r.Error.IsError).Error;
                throw new CliException($"{failed.Code}: {failed.Reason}");
            }
            Console.Out.Write(Format("Adding ACLs for resource", bindings));
            return ExitCodes.Success;
        });
        return command;
    }

    private static Command Remove()
    {
        // kafka-acls.sh --remove --topic T [--allow-principal User:alice --operation Read]: without a principal, every ACL of the resource
        var resource = new ResourceOptions(filter: true);
        var (allow, deny, operation, host) = EntryOptions();
        var command = new Command("remove", "Remove the ACLs matching the resource and, when given, the principals, operations and host; prints what was removed")
        {
            allow, deny, operation, host,
        };
        resource.AddTo(command, required: true);
        command.SetAction(async (parse, ct) =>
        {
            var pattern = resource.Filter(parse);
            var operations = parse.GetValue(operation) is { Length: > 0 } ? Operations(parse, operation) : [AclOperation.Any];
            var principals = Principals(parse, allow, deny);
            if (principals.Count == 0) principals.Add((null, AclPermissionType.Any));
            var filters = new List<AclBindingFilter>();
            foreach (var (principal, permission) in principals)
                foreach (var op in operations)
                    filters.Add(new AclBindingFilter
                    {
                        PatternFilter = pattern,
                        EntryFilter = new AccessControlEntryFilter { Principal = principal, Host = parse.GetValue(host), Operation = op, PermissionType = permission },
                    });
            await using var connection = await CliApp.ConnectAsync(parse, ct);
            using var admin = new AdminClientBuilder(connection.Client).Build();
            List<DeleteAclsResult> results;
            try
            {
                results = await admin.DeleteAclsAsync(filters);
            }
            catch (DeleteAclsException e)
            {
                var failed = e.Results.First(static r => r.Error.IsError).Error;
                throw new CliException($"{failed.Code}: {failed.Reason}");
            }
            var removed = results.SelectMany(static r => r.AclBindings).ToList();
            Console.Out.Write(removed.Count == 0 ? "No ACLs matched.\n" : Format("Removed ACLs for resource", removed));
            return ExitCodes.Success;
        });
        return command;
    }

    private static (Option<string[]> Allow, Option<string[]> Deny, Option<string[]> Operation, Option<string?> Host) EntryOptions()
    {
        var allow = new Option<string[]>("--allow-principal") { Description = "A principal to allow (User:alice), repeatable" };
        var deny = new Option<string[]>("--deny-principal") { Description = "A principal to deny (User:mallory), repeatable" };
        var operation = new Option<string[]>("--operation")
        {
            Description = "Read, Write, Create, Delete, Alter, Describe, ClusterAction, DescribeConfigs, AlterConfigs, IdempotentWrite or All; repeatable",
        };
        operation.Validators.Add(result =>
        {
            foreach (var value in result.GetValueOrDefault<string[]>() ?? [])
                if (ParseOperation(value) is null) result.AddError($"'{value}' is not an operation");
        });
        var host = new Option<string?>("--host") { Description = "The host the principal connects from (add: * when absent; remove: any)" };
        foreach (var principal in new[] { allow, deny })
            principal.Validators.Add(result =>
            {
                foreach (var value in result.GetValueOrDefault<string[]>() ?? [])
                    if (value.IndexOf(':', StringComparison.Ordinal) <= 0) result.AddError($"'{value}' is not a principal: give type:name, User:alice");
            });
        return (allow, deny, operation, host);
    }

    private static List<(string? Principal, AclPermissionType Permission)> Principals(ParseResult parse, Option<string[]> allow, Option<string[]> deny)
    {
        var principals = new List<(string?, AclPermissionType)>();
        foreach (var p in parse.GetValue(allow) ?? []) principals.Add((p, AclPermissionType.Allow));
        foreach (var p in parse.GetValue(deny) ?? []) principals.Add((p, AclPermissionType.Deny));
        return principals;
    }

    private static List<AclOperation> Operations(ParseResult parse, Option<string[]> operation) =>
        (parse.GetValue(operation) ?? []).Select(static o => ParseOperation(o)!.Value).Distinct().ToList();

    /// <summary>kafka-acls.sh's operation names (Read, DescribeConfigs), case-insensitive; Kafka's DESCRIBE_CONFIGS too.</summary>
    private static AclOperation? ParseOperation(string value) =>
        Enum.TryParse<AclOperation>(value.Replace("_", "", StringComparison.Ordinal), ignoreCase: true, out var op) && op is not (AclOperation.Unknown or AclOperation.Any)
            && Enum.IsDefined(op) && !int.TryParse(value, out _)
            ? op : null;

    /// <summary>kafka-acls.sh's listing: per resource, a heading with the resource pattern and a tab-indented line per entry.</summary>
    internal static string Format(string heading, IEnumerable<AclBinding> bindings)
    {
        var output = new StringBuilder();
        foreach (var group in bindings.GroupBy(static b => b.Pattern))
        {
            var p = group.Key;
            output.Append(heading).Append(" `ResourcePattern(resourceType=").Append(ResourceName(p.Type)).Append(", name=").Append(p.Name)
                .Append(", patternType=").Append(KafkaName(p.ResourcePatternType.ToString())).Append(")`:\n");
            foreach (var b in group)
                output.Append("\t(principal=").Append(b.Entry.Principal).Append(", host=").Append(b.Entry.Host)
                    .Append(", operation=").Append(KafkaName(b.Entry.Operation.ToString()))
                    .Append(", permissionType=").Append(KafkaName(b.Entry.PermissionType.ToString())).Append(")\n");
            output.Append('\n');
        }
        return output.ToString();
    }

    private const string ClusterName = "kafka-cluster";

    /// <summary>Kafka's names: Confluent's Broker is Kafka's CLUSTER.</summary>
    private static string ResourceName(ResourceType type) => type == ResourceType.Broker ? "CLUSTER" : KafkaName(type.ToString());

    /// <summary>Kafka's upper-case names of its enums (<c>TRANSACTIONAL_ID</c>, <c>DESCRIBE_CONFIGS</c>).</summary>
    private static string KafkaName(string name)
    {
        var result = new StringBuilder(name.Length + 4);
        for (var i = 0; i < name.Length; i++)
        {
            if (i > 0 && char.IsUpper(name[i]) && char.IsLower(name[i - 1])) result.Append('_');
            result.Append(char.ToUpperInvariant(name[i]));
        }
        return result.ToString();
    }
}
