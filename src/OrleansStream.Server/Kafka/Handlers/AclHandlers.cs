using OrleansStream.Protocol;
using OrleansStream.Protocol.Messages;

namespace OrleansStream.Server.Kafka.Handlers;

/// <summary>
/// DescribeAcls, CreateAcls and DeleteAcls v1-3, answered as a Kafka cluster without an authorizer answers them: the
/// broker authorizes nothing (any authenticated client may do anything the listener serves, docs/kafka-protocol.md),
/// so there are no ACLs to list, create or delete, and each request or binding gets <c>SecurityDisabled</c> (54).
/// Admin tools (kafka-acls.sh, UIs) tell that state apart from a broker without the API, which they report as a failure.
/// </summary>
internal static class NoAuthorizer
{
    /// <summary>Kafka's message for DescribeAcls (the broker's) and for Create/DeleteAcls (the controller's).</summary>
    public const string BrokerMessage = "No Authorizer is configured on the broker";
    public const string ControllerMessage = "No Authorizer is configured.";
}

internal sealed class DescribeAclsHandler() : KafkaApiHandler<DescribeAclsRequest>(ApiKey.DescribeAcls, DescribeAclsRequest.Read)
{
    protected override ValueTask<bool> AnswerAsync(DescribeAclsRequest body, KafkaRequest request, KafkaWriter response)
    {
        new DescribeAclsResponse(ErrorCode.SecurityDisabled, NoAuthorizer.BrokerMessage).Write(response, request.Version);
        return ValueTask.FromResult(true);
    }
}

internal sealed class CreateAclsHandler() : KafkaApiHandler<CreateAclsRequest>(ApiKey.CreateAcls, CreateAclsRequest.Read)
{
    protected override ValueTask<bool> AnswerAsync(CreateAclsRequest body, KafkaRequest request, KafkaWriter response)
    {
        new CreateAclsResponse(body.Creations.Length, ErrorCode.SecurityDisabled, NoAuthorizer.ControllerMessage).Write(response, request.Version);
        return ValueTask.FromResult(true);
    }
}

internal sealed class DeleteAclsHandler() : KafkaApiHandler<DeleteAclsRequest>(ApiKey.DeleteAcls, DeleteAclsRequest.Read)
{
    protected override ValueTask<bool> AnswerAsync(DeleteAclsRequest body, KafkaRequest request, KafkaWriter response)
    {
        new DeleteAclsResponse(body.Filters.Length, ErrorCode.SecurityDisabled, NoAuthorizer.ControllerMessage).Write(response, request.Version);
        return ValueTask.FromResult(true);
    }
}
