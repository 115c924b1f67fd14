using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace OrleansStream.Server.Diagnostics;

public static class MetricsServiceCollectionExtensions
{
    /// <summary>Registers <see cref="OrleansStreamMetrics"/> (and the host's meter factory if none is there yet).</summary>
    public static IServiceCollection AddOrleansStreamMetrics(this IServiceCollection services)
    {
        services.AddMetrics();
        services.TryAddSingleton<OrleansStreamMetrics>();
        return services;
    }
}
