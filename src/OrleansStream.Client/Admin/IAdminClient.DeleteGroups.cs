using OrleansStream.Client.Admin;

namespace OrleansStream.Client;

public partial interface IAdminClient
{
    /// <summary>
    /// Confluent.Kafka's DeleteGroupsAsync (Kafka's Admin.deleteConsumerGroups): every group is tried, each removed with
    /// its offsets only while empty; when any fails, <see cref="DeleteGroupsException"/> carries every group's report
    /// (NonEmptyGroup, GroupIdNotFound), the others deleted. <see cref="DeleteConsumerGroupsAsync"/> stops at the first.
    /// </summary>
    Task DeleteGroupsAsync(IList<string> group, DeleteGroupsOptions? options = null);
}
