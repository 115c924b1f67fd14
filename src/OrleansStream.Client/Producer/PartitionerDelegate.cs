using System.IO.Hashing;
using OrleansStream.Records;

namespace OrleansStream.Client;

/// <summary>
/// A custom partitioner: the partition for a message with key bytes <paramref name="keyData"/> (empty and
/// <paramref name="keyIsNull"/> for a null key) of <paramref name="topic"/>, which has <paramref name="partitionCount"/>.
/// </summary>
public delegate int PartitionerDelegate(string topic, int partitionCount, ReadOnlySpan<byte> keyData, bool keyIsNull);
