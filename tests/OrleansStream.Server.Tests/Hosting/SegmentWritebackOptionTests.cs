namespace OrleansStream.Server.Tests.Hosting;

public sealed class SegmentWritebackOptionTests
{
    [Fact]
    public void A_negative_writeback_size_is_refused_naming_the_key_and_zero_turns_it_off()
    {
        var validator = new BrokerOptionsValidator();

        var negative = validator.Validate(null, new BrokerOptions { SegmentWritebackBytes = -1 });
        Assert.True(negative.Failed);
        Assert.Contains("OrleansStream:SegmentWritebackBytes must not be negative, not -1.", negative.FailureMessage, StringComparison.Ordinal);

        Assert.True(validator.Validate(null, new BrokerOptions { SegmentWritebackBytes = 0 }).Succeeded);
        Assert.Equal(1_048_576, new BrokerOptions().SegmentWritebackBytes);
    }
}
