using OrleansStream.Client;

namespace OrleansStream.Client.Tests;

public sealed class ConfigTests
{
    [Fact]
    public void Typed_properties_read_and_write_Kafkas_keys()
    {
        var config = new ProducerConfig { Acks = Acks.Leader, LingerMs = 20, BatchSize = 65536, Partitioner = Partitioner.Consistent };
        Assert.Equal("1", config.Get("acks"));
        Assert.Equal("20", config.Get("linger.ms"));
        Assert.Equal("65536", config.Get("batch.size"));
        Assert.Equal("consistent", config.Get("partitioner"));

        var fromKeys = new ProducerConfig(new Dictionary<string, string> { ["acks"] = "all", ["message.timeout.ms"] = "1000" });
        Assert.Equal(Acks.All, fromKeys.Acks);
        Assert.Equal(1000, fromKeys.MessageTimeoutMs);

        var consumer = new ConsumerConfig { GroupId = "g", AutoOffsetReset = AutoOffsetReset.Earliest, EnablePartitionEof = true };
        Assert.Equal("earliest", consumer.Get("auto.offset.reset"));
        Assert.Equal("true", consumer.Get("enable.partition.eof"));
        Assert.Equal("g", consumer.Get("group.id"));

        var kip848 = new ConsumerConfig { GroupProtocol = GroupProtocol.Consumer, GroupRemoteAssignor = "range" };
        Assert.Equal("consumer", kip848.Get("group.protocol"));
        Assert.Equal("range", kip848.Get("group.remote.assignor"));
        Assert.Equal(GroupProtocol.Classic, new ConsumerConfig(new Dictionary<string, string> { ["group.protocol"] = "classic" }).GroupProtocol);
        Assert.Null(new ConsumerConfig().GroupProtocol);
    }

    [Theory]
    [InlineData("none", Records.CompressionType.None)]
    [InlineData("gzip", Records.CompressionType.Gzip)]
    [InlineData("snappy", Records.CompressionType.Snappy)]
    [InlineData("lz4", Records.CompressionType.Lz4)]
    [InlineData("zstd", Records.CompressionType.Zstd)]
    public void Compression_type_reads_and_writes_Kafkas_names(string name, Records.CompressionType codec)
    {
        Assert.Equal(name, new ProducerConfig { CompressionType = codec }.Get("compression.type"));
        var config = new ProducerConfig(new Dictionary<string, string> { ["compression.type"] = name });
        Assert.Equal(codec, config.CompressionType);
        Assert.Equal(codec, config.Resolve().CompressionType);
    }

    [Fact]
    public void Defaults_follow_Kafka()
    {
        var p = new ProducerConfig().Resolve();
        Assert.Equal(Acks.All, p.Acks);
        Assert.Equal(5, p.LingerMs);
        Assert.Equal(16384, p.BatchSize);
        Assert.Equal(300000, p.MessageTimeoutMs);
        Assert.Equal(Partitioner.Murmur2Random, p.Partitioner);
        Assert.Equal(100000, p.QueueBufferingMaxMessages);   // librdkafka's
        Assert.Equal(1024L * 1048576, p.QueueBufferingMaxBytes);
        Assert.True(p.EnableIdempotence);   // Kafka 3+
        Assert.Equal(5, p.MaxInFlight);
        Assert.Equal(Records.CompressionType.None, p.CompressionType);
        var c = new ConsumerConfig().Resolve();
        Assert.Equal(AutoOffsetReset.Latest, c.AutoOffsetReset);
        Assert.Equal(1048576, c.MaxPartitionFetchBytes);
        Assert.Equal(500, c.FetchWaitMaxMs);
    }

    [Fact]
    public void Bad_values_are_InvalidConfig_naming_the_key()
    {
        var e = Assert.Throws<OrleansStreamException>(() => new ProducerConfig { LingerMs = -1 }.Resolve());
        Assert.Equal(ErrorCode.InvalidConfig, e.Code);
        Assert.Contains("linger.ms", e.Message);

        var config = new ProducerConfig();
        config.Set("acks", "2");
        e = Assert.Throws<OrleansStreamException>(() => config.Acks);
        Assert.Equal(ErrorCode.InvalidConfig, e.Code);

        config = new ProducerConfig();
        config.Set("compression.type", "brotli");
        e = Assert.Throws<OrleansStreamException>(() => config.Resolve());
        Assert.Contains("compression.type", e.Message);

        config = new ProducerConfig();
        config.Set("batch.size", "big");
        e = Assert.Throws<OrleansStreamException>(() => config.Resolve());
        Assert.Contains("batch.size", e.Message);
    }

    [Fact]
    public void Acks_0_or_1_without_asking_for_idempotence_turn_it_off_and_keep_one_request_in_flight()
    {
        foreach (var acks in new[] { Acks.None, Acks.Leader })
        {
            var p = new ProducerConfig { Acks = acks }.Resolve();
            Assert.False(p.EnableIdempotence);
            Assert.Equal(1, p.MaxInFlight);
        }
        var many = new ProducerConfig { MaxInFlight = 10 }.Resolve();
        Assert.False(many.EnableIdempotence);
        Assert.Equal(10, many.MaxInFlight);

        var explicitAll = new ProducerConfig { Acks = Acks.All, MaxInFlight = 3 }.Resolve();
        Assert.True(explicitAll.EnableIdempotence);
        Assert.Equal(3, explicitAll.MaxInFlight);
        Assert.Equal(5, new ProducerConfig { EnableIdempotence = true }.Resolve().MaxInFlight);

        var off = new ProducerConfig { EnableIdempotence = false }.Resolve();
        Assert.False(off.EnableIdempotence);
        Assert.Equal(1, off.MaxInFlight);
    }

    [Fact]
    public void Asking_for_idempotence_with_acks_below_all_or_more_than_5_in_flight_is_InvalidConfig()
    {
        var e = Assert.Throws<OrleansStreamException>(() => new ProducerConfig { EnableIdempotence = true, Acks = Acks.Leader }.Resolve());
        Assert.Equal(ErrorCode.InvalidConfig, e.Code);
        Assert.Contains("acks", e.Message);

        e = Assert.Throws<OrleansStreamException>(() => new ProducerConfig { EnableIdempotence = true, MaxInFlight = 6 }.Resolve());
        Assert.Equal(ErrorCode.InvalidConfig, e.Code);
        Assert.Contains("max.in.flight.requests.per.connection", e.Message);

        var p = new ProducerConfig(new Dictionary<string, string> { ["enable.idempotence"] = "true", ["acks"] = "-1", ["max.in.flight.requests.per.connection"] = "5" }).Resolve();
        Assert.True(p.EnableIdempotence);
        Assert.Equal(Acks.All, p.Acks);
    }

    [Fact]
    public void Security_keys_read_and_write_as_in_Confluent()
    {
        var config = new Config(new Dictionary<string, string> { ["security.protocol"] = "SSL", ["ssl.endpoint.identification.algorithm"] = "none" })
        {
            SslCaLocation = "ca.pem", SslCertificateLocation = "client.pem", SslKeyLocation = "client.key", SslKeyPassword = "p",
        };

        Assert.Equal(SecurityProtocol.Ssl, config.SecurityProtocol);
        Assert.Equal(SslEndpointIdentificationAlgorithm.None, config.SslEndpointIdentificationAlgorithm);
        Assert.Equal("ca.pem", config.Get("ssl.ca.location"));
        Assert.Equal("client.pem", config.Get("ssl.certificate.location"));
        Assert.Equal("client.key", config.Get("ssl.key.location"));
        Assert.Equal("p", config.Get("ssl.key.password"));
        Assert.Null(new Config().SecurityProtocol);
        Assert.Equal(ErrorCode.InvalidConfig,
            Assert.Throws<OrleansStreamException>(() => new Config { ["security.protocol"] = "sasl_ssl" }.SecurityProtocol).Code);
    }

    [Fact]
    public void Ssl_settings_that_cannot_apply_are_InvalidConfig_naming_the_key()
    {
        var withoutSsl = Assert.Throws<OrleansStreamException>(() => Connection.GatewayTls.From(new Config { SslCaLocation = "ca.pem" }));
        var unreadable = Assert.Throws<OrleansStreamException>(() => Connection.GatewayTls.From(
            new Config { SecurityProtocol = SecurityProtocol.Ssl, SslCaLocation = "/nonexistent/ca.pem" }));
        var keyAlone = Assert.Throws<OrleansStreamException>(() => Connection.GatewayTls.From(
            new Config { SecurityProtocol = SecurityProtocol.Ssl, SslKeyLocation = "client.key" }));

        Assert.Contains("'ssl.ca.location' needs security.protocol=ssl", withoutSsl.Message, StringComparison.Ordinal);
        Assert.Equal(ErrorCode.InvalidConfig, unreadable.Code);
        Assert.Contains("'ssl.ca.location' cannot be loaded", unreadable.Message, StringComparison.Ordinal);
        Assert.Contains("'ssl.key.location' needs ssl.certificate.location", keyAlone.Message, StringComparison.Ordinal);
        Assert.Null(Connection.GatewayTls.From(new Config()));
    }
}
