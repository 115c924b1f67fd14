// The README's "Using it from C#" example, compiled here so that it keeps compiling. Not run: it needs a broker.
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using OrleansStream;
using OrleansStream.Client;
using OrleansStream.Client.Admin;

namespace OrleansStream.Client.Tests;

internal static class ReadmeExample
{
    public static async Task RunAsync()
    {
        using var host = Host.CreateDefaultBuilder()
            .UseOrleansClient(c => c.UseLocalhostClustering(gatewayPort: 30000))
            .Build();
        await host.StartAsync();
        var cluster = host.Services.GetRequiredService<IClusterClient>();

        using (var admin = new AdminClientBuilder(cluster).Build())
        {
            await admin.CreateTopicsAsync([new TopicSpecification { Name = "orders", NumPartitions = 3, ReplicationFactor = 1 }]);
        }

        await using (var producer = new ProducerBuilder<string, string>(cluster, new ProducerConfig { Acks = Acks.All, LingerMs = 5 }).Build())
        {
            // Same key, same partition as a Java or librdkafka murmur2_random producer would pick.
            var result = await producer.ProduceAsync("orders", new Message<string, string> { Key = "customer-42", Value = "{\"total\":12.5}" });
            Console.WriteLine($"delivered to {result.TopicPartitionOffset}");
        }

        using var consumer = new ConsumerBuilder<string, string>(cluster, new ConsumerConfig { AutoOffsetReset = AutoOffsetReset.Earliest }).Build();
        consumer.Assign([new TopicPartitionOffset(new TopicPartition("orders", 0), Offset.Beginning)]);
        var record = consumer.Consume(TimeSpan.FromSeconds(5));
        if (record is not null) Console.WriteLine($"{record.TopicPartitionOffset}: {record.Message!.Key} = {record.Message.Value}");
    }
}
