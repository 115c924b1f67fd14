using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using Orleans.Dashboard;
using OrleansStream.Server.Diagnostics;

namespace OrleansStream.Silo;

/// <summary>
/// Metrics and the optional dashboard for the silo host: the broker's <c>OrleansStream</c> meter always; an OTLP
/// exporter for it, Orleans' and the runtime's meters when <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> is set (the exporter
/// reads the standard <c>OTEL_*</c> variables itself); the Orleans Dashboard under <see cref="DashboardPath"/> on the
/// health port when <c>OrleansStream:Telemetry:Dashboard</c> is true.
/// </summary>
public static class Telemetry
{
    public const string OtlpEndpointKey = "OTEL_EXPORTER_OTLP_ENDPOINT";
    public const string DashboardKey = "OrleansStream:Telemetry:Dashboard";
    public const string DashboardPath = "/dashboard";

    /// <summary>Meters exported over OTLP: the broker's, Orleans' runtime and the .NET runtime's.</summary>
    public static readonly string[] ExportedMeters = [OrleansStreamMetrics.MeterName, "Microsoft.Orleans", "System.Runtime"];

    public static WebApplicationBuilder AddOrleansStreamTelemetry(this WebApplicationBuilder builder)
    {
        var configuration = builder.Configuration;
        builder.Services.AddOrleansStreamMetrics();

        if (!string.IsNullOrWhiteSpace(configuration[OtlpEndpointKey]))
        {
            var serviceName = configuration["OTEL_SERVICE_NAME"] is { Length: > 0 } name ? name : "orleansstream";
            builder.Services.AddOpenTelemetry()
                .ConfigureResource(resource => resource.AddService(serviceName, serviceInstanceId: configuration["OrleansStream:BrokerId"]))
                .WithMetrics(metrics => metrics.AddMeter(ExportedMeters).AddOtlpExporter());
        }

        if (IsDashboardEnabled(configuration))
        {
            // UseOrleans again adds to the same silo builder the host configured.
            builder.UseOrleans(silo => silo.AddDashboard());
        }

        return builder;
    }

    public static WebApplication MapOrleansStreamTelemetry(this WebApplication app)
    {
        if (IsDashboardEnabled(app.Configuration))
        {
            app.MapOrleansDashboard(routePrefix: DashboardPath);
        }

        return app;
    }

    public static bool IsDashboardEnabled(IConfiguration configuration)
        => bool.TryParse(configuration[DashboardKey], out var enabled) && enabled;
}
