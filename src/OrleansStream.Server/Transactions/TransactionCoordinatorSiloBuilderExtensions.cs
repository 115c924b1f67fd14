using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using OrleansStream.Server.Transactions;

namespace Orleans.Hosting;

public static class TransactionCoordinatorSiloBuilderExtensions
{
    /// <summary>
    /// The transaction coordinator's options (section <see cref="TransactionCoordinatorOptions.ConfigurationSection"/>
    /// when the host has configuration, then <paramref name="configure"/>), validated at start, and the service that
    /// keeps every coordinator shard active. <c>AddOrleansStream</c> calls it.
    /// </summary>
    public static ISiloBuilder AddOrleansStreamTransactions(this ISiloBuilder builder, Action<TransactionCoordinatorOptions>? configure = null)
    {
        var options = builder.Services.AddOptions<TransactionCoordinatorOptions>();
        var section = builder.Configuration.GetSection(TransactionCoordinatorOptions.ConfigurationSection);
        if (section.Exists())
            options.Bind(section);
        if (configure is not null) options.Configure(configure);
        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<TransactionCoordinatorOptions>, TransactionCoordinatorOptionsValidator>());
        options.ValidateOnStart();
        if (!builder.Services.Any(static d => d.ServiceType == typeof(TransactionCoordinatorWaker)))
        {
            builder.Services.AddSingleton<TransactionCoordinatorWaker>();
            builder.Services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>>(sp => sp.GetRequiredService<TransactionCoordinatorWaker>());
        }
        return builder;
    }
}
