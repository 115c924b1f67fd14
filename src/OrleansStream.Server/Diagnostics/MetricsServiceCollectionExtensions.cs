using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace OrleansStream.Server.Diagnostics;

public static class MetricsServiceCollectionExtensions
{
    /// <summary>
    /// Registers <see cref="OrleansStreamMetrics"/> (and the host's meter factory if none is there yet) and the grain
    /// call filter that times broker requests.
    /// </summary>
    public static IServiceCollection AddOrleansStreamMetrics(this IServiceCollection services)
    {
        services.AddMetrics();
        services.TryAddSingleton<OrleansStreamMetrics>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IIncomingGrainCallFilter, RequestMetricsFilter>());
        return services;
    }
}
