using OrleansStream.Server.Transactions;

namespace OrleansStream.Server.Tests.Transactions;

/// <summary>
/// Producer ids in blocks as the controller hands them out (KIP-730's shape), from a counter; <see cref="Available"/>
/// false stands for a block that has not arrived yet.
/// </summary>
internal sealed class InMemoryProducerIdBlockAllocator(int blockSize = 3) : IProducerIdGenerator
{
    private long _nextBlockStart;
    private long _next;
    private long _blockEnd;

    public bool Available { get; set; } = true;

    public int BlocksAllocated { get; private set; }

    public bool TryGenerateProducerId(out long producerId)
    {
        producerId = -1;
        if (!Available) return false;
        if (_next == _blockEnd)
        {
            _next = _nextBlockStart;
            _blockEnd = _nextBlockStart += blockSize;
            BlocksAllocated++;
        }
        producerId = _next++;
        return true;
    }
}
