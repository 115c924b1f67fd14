using Microsoft.Extensions.DependencyInjection;
using Orleans.Runtime;
using OrleansStream.Server.Controller;
using OrleansStream.Server.Transactions.ProducerIds;

namespace OrleansStream.Cluster.Tests;

/// <summary>
/// A broker's request for a producer id block in flight to the controller when the controller's silo dies: Orleans
/// would end it only at its response timeout (30 s), and every InitProducerId on that broker (idempotent and
/// transactional producers alike) would wait for it. The broker gives it up and asks the controller's next activation.
/// </summary>
[Collection(SiloKillCollection.Name)]
public sealed class ProducerIdRequestFailoverTests(ProducerIdRequestFailoverTests.Fixture fixture) : IClassFixture<ProducerIdRequestFailoverTests.Fixture>
{
    /// <summary>Well under Orleans' response timeout: a request that waited for it would not be answered within this.</summary>
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(20);

    /// <summary>
    /// Holds, unanswered, the first AllocateProducerIds call one broker sends: an in-process kill answers the calls its
    /// silo holds as it stops, where a killed process answers nothing and Orleans 10.4.2 ends such a call only at its
    /// response timeout (dotnet/orleans#10165). The broker's later calls go through.
    /// </summary>
    public sealed class Fixture : ClusterFixture
    {
        private readonly TaskCompletionSource _released = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private volatile string? _holdingBroker;
        private int _held;

        /// <summary>The broker's first block request is held.</summary>
        public bool Holding => Volatile.Read(ref _held) == 1;

        public void HoldFirstRequestOf(string brokerId) => _holdingBroker = brokerId;

        public void Release() => _released.TrySetResult();

        protected override void ConfigureSilo(string brokerId, ISiloBuilder silo) =>
            silo.Services.AddSingleton<IOutgoingGrainCallFilter>(new HeldAllocation(this, brokerId));

        private sealed class HeldAllocation(Fixture fixture, string brokerId) : IOutgoingGrainCallFilter
        {
            public Task Invoke(IOutgoingGrainCallContext context)
            {
                if (fixture._holdingBroker != brokerId || context.InterfaceMethod is not { Name: nameof(IControllerInternalGrain.AllocateProducerIds) } method
                    || method.DeclaringType != typeof(IControllerInternalGrain) || Interlocked.CompareExchange(ref fixture._held, 1, 0) != 0)
                    return context.Invoke();
                return Unanswered(fixture._released.Task);
            }

            private static async Task Unanswered(Task released)
            {
                await released;
                throw new TimeoutException("The held AllocateProducerIds call was released unanswered.");
            }
        }
    }

    [Fact]
    public async Task InitProducerId_is_answered_by_the_next_controller_activation_when_a_block_request_was_in_flight_to_the_dying_one()
    {
        var controller = fixture.Grains.GetGrain<IControllerInternalGrain>(GrainKeys.Controller);
        await controller.GetBrokerNodes();
        var host = await fixture.Client.GetGrain<IManagementGrain>(0).GetActivationAddress(controller, TestContext.Current.CancellationToken);
        var controllerBroker = fixture.Silos.Values.Single(s => s.SiloAddress.Equals(host)).Name;
        var survivor = fixture.Silos.Values.First(s => s.Name != controllerBroker);
        var manager = survivor.ServiceProvider.GetRequiredService<ProducerIdManager>();
        Task? kill = null;
        try
        {
            fixture.HoldFirstRequestOf(survivor.Name);
            var first = manager.NextProducerIdAsync(TestContext.Current.CancellationToken).AsTask();
            await Eventually.WaitUntilAsync(() => fixture.Holding, "the survivor's block request is in flight, unanswered");

            kill = fixture.KillSiloAsync(controllerBroker);

            // InitProducerId on the survivor: the broker's ProducerIdGrain answers from the broker's own block once the
            // unanswered request is given up and made again to the controller's next activation.
            var grains = survivor.ServiceProvider.GetRequiredService<IGrainFactory>();
            InitProducerIdResponse? answer = null;
            await Eventually.WaitUntilAsync(async () => (answer = await grains.GetGrain<IProducerIdGrain>(0).InitProducerId()).Error == ErrorCode.None,
                "InitProducerId on the survivor answers a producer id", Bound, state: () => $"last answer: {answer}");
            var id = await first.WaitAsync(Bound, TestContext.Current.CancellationToken);

            var block = manager.CurrentBlock;
            Assert.NotNull(block);
            Assert.Equal(survivor.Name, block.AssignedBroker);
            Assert.InRange(id, block.FirstProducerId, block.LastProducerId);
            Assert.InRange(answer!.ProducerId, block.FirstProducerId, block.LastProducerId);
            Assert.NotEqual(id, answer.ProducerId);
        }
        finally
        {
            fixture.Release();
            if (kill is not null)
            {
                await kill;
                await fixture.StartSiloAsync(controllerBroker);
            }
        }
    }
}
