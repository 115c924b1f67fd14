using OrleansStream.Server.Controller;

namespace OrleansStream.Server.Transactions.ProducerIds;

/// <summary>
/// The controller's half of KIP-730 (Kafka's <c>ProducerIdControlManager</c>): the next block starts where the state's
/// <see cref="ControllerState.NextProducerIdBlockStart"/> says and moves it past the block. The caller makes the state
/// durable before it hands the block out, so a block is never given twice.
/// </summary>
internal static class ProducerIdControlManager
{
    /// <summary>Takes the next block for <paramref name="brokerId"/> from <paramref name="state"/>; null when ids are exhausted.</summary>
    public static ProducerIdsBlock? Allocate(ControllerState state, string brokerId, int size = ProducerIdsBlock.DefaultSize)
    {
        var first = state.NextProducerIdBlockStart;
        // Kafka refuses a block that would overflow a long: producer ids are never reused.
        if (first < 0 || first > long.MaxValue - size) return null;
        var block = new ProducerIdsBlock(brokerId, first, size);
        state.NextProducerIdBlockStart = block.NextBlockFirstId;
        return block;
    }
}
