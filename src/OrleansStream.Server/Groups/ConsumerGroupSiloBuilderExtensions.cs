using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using OrleansStream.Server.Groups;

namespace Orleans.Hosting;

public static class ConsumerGroupSiloBuilderExtensions
{
    /// <summary>
    /// The group coordinator's options (section <see cref="ConsumerGroupOptions.ConfigurationSection"/> when the host
    /// has configuration, then <paramref name="configure"/>), validated at start. <c>AddOrleansStream</c> calls it.
    /// </summary>
    public static ISiloBuilder AddOrleansStreamGroups(this ISiloBuilder builder, Action<ConsumerGroupOptions>? configure = null)
    {
        var options = builder.Services.AddOptions<ConsumerGroupOptions>();
        var section = builder.Configuration.GetSection(ConsumerGroupOptions.ConfigurationSection);
        if (section.Exists())
            options.Bind(section);
        if (configure is not null) options.Configure(configure);
        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<ConsumerGroupOptions>, ConsumerGroupOptionsValidator>());
        options.ValidateOnStart();
        return builder;
    }
}
