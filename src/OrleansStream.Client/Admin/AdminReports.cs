namespace OrleansStream.Client.Admin;

/// <summary>What an admin exception says of itself when its reports hold each entry's outcome.</summary>
internal static class AdminReports
{
    /// <summary>The first failure's code, its reason prefixed with what failed ("Failed to delete ACLs: ...").</summary>
    public static Error FirstError<T>(List<T> reports, Func<T, Error> errorOf, string what) =>
        FirstError(reports, r => ((string?)null, errorOf(r)), what);

    /// <summary>The first failure's code, its reason prefixed with what failed and of which entry ("Failed to delete records of t-0: ...").</summary>
    public static Error FirstError<T>(List<T> reports, Func<T, (string? Subject, Error Error)> of, string what)
    {
        ArgumentNullException.ThrowIfNull(reports);
        foreach (var r in reports)
        {
            var (subject, error) = of(r);
            if (error.IsError) return new Error(error.Code, subject is null ? $"Failed to {what}: {error.Reason}" : $"Failed to {what} {subject}: {error.Reason}");
        }
        return Error.NoError;
    }

    /// <summary>
    /// A group's failure, else its first failed partition's: the code, and the reason prefixed with what failed
    /// ("Failed to list offsets of group 'g' t-0: ...").
    /// </summary>
    public static Error FirstGroupError<T>(List<T> reports, Func<T, (string Group, Error Error, List<TopicPartitionOffsetError> Partitions)> of, string what)
    {
        ArgumentNullException.ThrowIfNull(reports);
        foreach (var r in reports)
        {
            var (group, error, partitions) = of(r);
            if (error.IsError) return new Error(error.Code, $"Failed to {what} '{group}': {error.Reason}");
            var first = FirstError(partitions, p => ((string?)$"'{group}' {p.TopicPartition}", p.Error), what);
            if (first.IsError) return first;
        }
        return Error.NoError;
    }
}
