namespace OrleansStream.Protocol.Tests;

internal static class Hex
{
    /// <summary>Hex digits, spaces allowed between groups.</summary>
    public static byte[] Parse(string hex) => Convert.FromHexString(hex.Replace(" ", "", StringComparison.Ordinal));
}
