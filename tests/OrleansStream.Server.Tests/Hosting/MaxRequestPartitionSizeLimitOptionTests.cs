namespace OrleansStream.Server.Tests.Hosting;

public sealed class MaxRequestPartitionSizeLimitOptionTests
{
    /// <summary>Kafka's <c>max.request.partition.size.limit</c>: default 2000, at least 1 (its <c>atLeast(1)</c>).</summary>
    [Fact]
    public void A_limit_below_one_is_refused_naming_the_key_and_the_default_is_Kafkas_2000()
    {
        var validator = new BrokerOptionsValidator();

        var zero = validator.Validate(null, new BrokerOptions { MaxRequestPartitionSizeLimit = 0 });
        Assert.True(zero.Failed);
        Assert.Contains("OrleansStream:MaxRequestPartitionSizeLimit must be at least 1, not 0.", zero.FailureMessage, StringComparison.Ordinal);

        Assert.True(validator.Validate(null, new BrokerOptions { MaxRequestPartitionSizeLimit = 1 }).Succeeded);
        Assert.Equal(2000, new BrokerOptions().MaxRequestPartitionSizeLimit);
    }
}
