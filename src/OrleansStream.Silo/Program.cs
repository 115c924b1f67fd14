using Microsoft.Extensions.Options;
using Orleans.Configuration;
using Orleans.Runtime;
using OrleansStream.Server;
using OrleansStream.Server.Kafka;
using OrleansStream.Silo;

// The broker host: one silo with the embedded defaults below, everything overridable from appsettings, environment
// variables (Orleans__Endpoints__GatewayPort, OrleansStream__DataDirectory, ...) and the command line.
try
{
    var builder = WebApplication.CreateBuilder(args);
    builder.Configuration.Sources.Insert(0, new Microsoft.Extensions.Configuration.Memory.MemoryConfigurationSource
    {
        InitialData = BrokerHostDefaults.Configuration,
    });
    var hostOptions = BrokerHostDefaults.ReadBrokerHostOptions(builder.Configuration);
    // One Kestrel serves the health endpoints and the Kafka listeners; with endpoints configured here it ignores URLs.
    builder.WebHost.ConfigureKestrel(kestrel =>
    {
        BrokerHostDefaults.ListenHealth(kestrel, hostOptions);
        kestrel.ListenKafka();
    });

    BrokerHostDefaults.ApplyClusteringDefaults(builder.Configuration);
    builder.UseOrleans(silo =>
    {
        silo.Services.Configure<ClusterMembershipOptions>(builder.Configuration.GetSection("Orleans:Membership"));
        silo.Services.AddOptions<BrokerOptions>().Bind(builder.Configuration.GetSection(OrleansStreamDefaults.ConfigurationSection))
            .PostConfigure(o =>
            {
                if (string.IsNullOrWhiteSpace(o.BrokerId)) o.BrokerId = BrokerHostDefaults.DefaultBrokerId(builder.Configuration);
            });
        silo.AddOrleansStream();
    });
    builder.AddOrleansStreamTelemetry();

    var app = builder.Build();
    app.MapOrleansStreamTelemetry();
    app.MapGet("/healthz", () => Results.Text("live"));
    // Not ready while the silo is not an active member, while its data names a cluster and the controller has not accepted
    // its registration yet, or while the cluster refuses it (another cluster's data directory) or the controller cannot
    // serve (grain storage not shared): the reason is the answer's body.
    app.MapGet("/ready", (ISiloStatusOracle oracle, OrleansStream.Server.Cluster.BrokerRegistration registration) =>
        oracle.CurrentStatus != SiloStatus.Active ? Results.Text(oracle.CurrentStatus.ToString(), statusCode: 503)
        : registration.Problem is { } problem ? Results.Text(problem, statusCode: 503)
        : Results.Text("ready"));
    await app.RunAsync();
    return 0;
}
catch (OptionsValidationException e)
{
    Console.Error.WriteLine($"orleansstream-silo: invalid configuration: {string.Join(" ", e.Failures)}");
    return 2;
}
catch (Exception e) when (e is InvalidOperationException or OrleansConfigurationException or FormatException or ArgumentException or IOException)
{
    Console.Error.WriteLine($"orleansstream-silo: cannot start: {e.GetBaseException().Message}");
    return 1;
}
