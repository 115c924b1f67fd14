using OrleansStream.Records;

namespace OrleansStream.Client;

/// <summary>A partition's low (log start) and high (high watermark) offsets.</summary>
public readonly record struct WatermarkOffsets(long Low, long High);
