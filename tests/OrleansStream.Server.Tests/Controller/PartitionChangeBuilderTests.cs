using OrleansStream.Server.Controller;

namespace OrleansStream.Server.Tests.Controller;

public sealed class PartitionChangeBuilderTests
{
    private static PartitionAssignment Partition(int leader, int[] isr, int leaderEpoch = 3, int partitionEpoch = 7) =>
        new() { Partition = 0, Replicas = ["b0", "b1", "b2"], Leader = leader, LeaderEpoch = leaderEpoch, Isr = [.. isr], PartitionEpoch = partitionEpoch };

    private static HashSet<string> Live(params string[] brokers) => new(brokers, StringComparer.Ordinal);

    private static void AssertChange(PartitionChange? change, int leader, int leaderEpoch, int[] isr, int partitionEpoch)
    {
        Assert.NotNull(change);
        Assert.Equal((leader, leaderEpoch, partitionEpoch), (change.Leader, change.LeaderEpoch, change.PartitionEpoch));
        Assert.Equal(isr, change.Isr);
    }

    [Fact]
    public void Nothing_changes_while_the_leader_and_the_isr_are_live()
    {
        Assert.Null(PartitionChangeBuilder.Elect(Partition(0, [0, 1, 2]), Live("b0", "b1", "b2"), uncleanLeaderElection: false, controlledShutdown: false));
    }

    [Fact]
    public void A_dead_leader_hands_over_to_the_first_live_isr_member_with_both_epochs_bumped()
    {
        var change = PartitionChangeBuilder.Elect(Partition(0, [0, 1, 2]), Live("b1", "b2"), false, false);

        AssertChange(change, leader: 1, leaderEpoch: 4, isr: [1, 2], partitionEpoch: 8);
        Assert.Equal(0, change!.OldLeader);
        Assert.False(change.Unclean);
    }

    [Fact]
    public void A_dead_follower_leaves_the_isr_in_a_new_partition_epoch_without_a_leader_epoch()
    {
        AssertChange(PartitionChangeBuilder.Elect(Partition(0, [0, 1, 2]), Live("b0", "b1"), false, false),
            leader: 0, leaderEpoch: 3, isr: [0, 1], partitionEpoch: 8);
    }

    [Fact]
    public void With_no_live_isr_member_a_clean_election_leaves_no_leader_and_keeps_the_last_isr_member()
    {
        AssertChange(PartitionChangeBuilder.Elect(Partition(0, [0]), Live("b1", "b2"), false, false),
            leader: -1, leaderEpoch: 4, isr: [0], partitionEpoch: 8);
    }

    [Fact]
    public void Unclean_election_takes_a_live_replica_outside_the_isr_and_makes_it_the_isr()
    {
        var change = PartitionChangeBuilder.Elect(Partition(0, [0]), Live("b2"), uncleanLeaderElection: true, controlledShutdown: false);

        Assert.NotNull(change);
        Assert.True(change.Unclean);
        Assert.Equal(2, change.Leader);
        Assert.Equal([2], change.Isr);
    }

    [Fact]
    public void A_controlled_shutdown_nobody_can_take_over_from_keeps_its_leader_and_is_never_unclean()
    {
        // The leaving broker b0 is already out of the live set.
        Assert.Null(PartitionChangeBuilder.Elect(Partition(0, [0]), Live("b1", "b2"), uncleanLeaderElection: true, controlledShutdown: true));

        var handover = PartitionChangeBuilder.Elect(Partition(0, [0, 2]), Live("b1", "b2"), true, true);
        Assert.NotNull(handover);
        Assert.Equal(2, handover.Leader);
        Assert.False(handover.Unclean);
    }

    [Fact]
    public void A_broker_in_controlled_shutdown_keeps_what_it_has_but_is_elected_by_no_election()
    {
        var shuttingDown = Live("b1");

        // The dead leader's first live ISR member is shutting down: the next one takes over, and b1 stays in the ISR.
        AssertChange(PartitionChangeBuilder.Elect(Partition(0, [0, 1, 2]), Live("b1", "b2"), false, false, shuttingDown),
            leader: 2, leaderEpoch: 4, isr: [1, 2], partitionEpoch: 8);
        // Nobody else in the ISR: no leader rather than one about to stop; unclean elections pass it over too.
        AssertChange(PartitionChangeBuilder.Elect(Partition(0, [0, 1]), Live("b1"), false, false, shuttingDown),
            leader: -1, leaderEpoch: 4, isr: [1], partitionEpoch: 8);
        var unclean = PartitionChangeBuilder.Elect(Partition(0, [0]), Live("b1", "b2"), uncleanLeaderElection: true, controlledShutdown: false, shuttingDown);
        Assert.Equal((2, true), (unclean!.Leader, unclean.Unclean));
        // A leader in controlled shutdown that is still live leads on (its own shutdown found nobody to take over).
        Assert.Null(PartitionChangeBuilder.Elect(Partition(1, [1]), Live("b1", "b2"), true, false, shuttingDown));
    }

    [Fact]
    public void Alter_isr_refuses_a_replica_of_a_broker_in_controlled_shutdown_rejoining_the_isr()
    {
        var p = Partition(0, [0, 2]);
        var live = Live("b0", "b1", "b2");

        Assert.Equal((ErrorCode.IneligibleReplica, null), PartitionChangeBuilder.AlterIsr(p, 0, 3, 7, [0, 1, 2], live, Live("b1")));
        // Already a member, it may stay; shrinking around it is no rejoin.
        Assert.Equal(ErrorCode.None, PartitionChangeBuilder.AlterIsr(Partition(0, [0, 1, 2]), 0, 3, 7, [0, 1], live, Live("b1")).Error);
        AssertChange(PartitionChangeBuilder.AlterIsr(p, 0, 3, 7, [0, 1, 2], live, Live("b3")).Change, leader: 0, leaderEpoch: 3, isr: [0, 1, 2], partitionEpoch: 8);
    }

    [Fact]
    public void Alter_isr_is_fenced_by_leader_epoch_leader_and_partition_epoch()
    {
        var p = Partition(0, [0, 1]);
        var live = Live("b0", "b1", "b2");

        Assert.Equal(ErrorCode.FencedLeaderEpoch, PartitionChangeBuilder.AlterIsr(p, 0, 2, 7, [0, 1, 2], live).Error);
        Assert.Equal(ErrorCode.NotLeaderOrFollower, PartitionChangeBuilder.AlterIsr(p, 1, 3, 7, [0, 1, 2], live).Error);
        Assert.Equal(ErrorCode.InvalidUpdateVersion, PartitionChangeBuilder.AlterIsr(p, 0, 3, 6, [0, 1, 2], live).Error);
        Assert.Equal(ErrorCode.InvalidRequest, PartitionChangeBuilder.AlterIsr(p, 0, 3, 7, [1, 2], live).Error);
        Assert.Equal(ErrorCode.InvalidRequest, PartitionChangeBuilder.AlterIsr(p, 0, 3, 7, [0, 0], live).Error);
        Assert.Equal(ErrorCode.InvalidRequest, PartitionChangeBuilder.AlterIsr(p, 0, 3, 7, [0, 3], live).Error);
    }

    [Fact]
    public void Alter_isr_expands_sorted_and_ignores_a_dead_follower_outside_the_isr()
    {
        var p = Partition(0, [0]);

        var (error, change) = PartitionChangeBuilder.AlterIsr(p, 0, 3, 7, [2, 0, 1], Live("b0", "b2"));

        Assert.Equal(ErrorCode.None, error);
        AssertChange(change, leader: 0, leaderEpoch: 3, isr: [0, 2], partitionEpoch: 8);
        Assert.Equal((ErrorCode.None, (PartitionChange?)null), PartitionChangeBuilder.AlterIsr(p, 0, 3, 7, [0], Live("b0")));
    }

    [Fact]
    public void Reassign_moves_only_out_of_sync_replicas_of_overdue_brokers_and_names_those_still_waiting()
    {
        var state = new ControllerState();
        var p = new PartitionAssignment { Partition = 0, Replicas = ["b0", "b1", "b2"], Leader = 0, LeaderEpoch = 1, Isr = [0], PartitionEpoch = 5 };
        state.Topics["t"] = new TopicState { Name = "t", Partitions = [p] };
        var live = Live("b0", "b3");
        var waiting = new HashSet<string>();

        var moves = PartitionChangeBuilder.Reassign(p, live, overdue: Live("b1"), new ReplicaAssigner(["b0", "b3"], state), waiting);

        Assert.Equal([new ReplicaMove(1, "b1", "b3")], moves);
        Assert.Equal(["b0", "b3", "b2"], p.Replicas);
        Assert.Equal(6, p.PartitionEpoch);
        Assert.Equal(["b2"], waiting);
    }

    [Fact]
    public void Reassign_keeps_the_last_isr_member_and_everything_of_a_leaderless_partition()
    {
        var state = new ControllerState();
        var inSync = new PartitionAssignment { Partition = 0, Replicas = ["b0", "b1"], Leader = 0, Isr = [0, 1] };
        var leaderless = new PartitionAssignment { Partition = 1, Replicas = ["b0", "b1"], Leader = -1, Isr = [1] };
        state.Topics["t"] = new TopicState { Name = "t", Partitions = [inSync, leaderless] };
        var assigner = new ReplicaAssigner(["b0", "b2"], state);

        Assert.Null(PartitionChangeBuilder.Reassign(inSync, Live("b0", "b2"), Live("b1"), assigner, new List<string>()));
        Assert.Null(PartitionChangeBuilder.Reassign(leaderless, Live("b0", "b2"), Live("b1"), assigner, new List<string>()));
        Assert.Equal(["b0", "b1"], leaderless.Replicas);
    }

    [Fact]
    public void The_preferred_replica_takes_over_cleanly_only_when_it_is_live_in_the_isr_and_not_leading_already()
    {
        var change = PartitionChangeBuilder.ElectPreferred(Partition(1, [0, 1, 2]), Live("b0", "b1", "b2"));
        AssertChange(change, leader: 0, leaderEpoch: 4, isr: [0, 1, 2], partitionEpoch: 8);
        Assert.Equal(1, change!.OldLeader);
        Assert.False(change.Unclean);

        Assert.Null(PartitionChangeBuilder.ElectPreferred(Partition(0, [0, 1, 2]), Live("b0", "b1", "b2")));
        Assert.Null(PartitionChangeBuilder.ElectPreferred(Partition(1, [1, 2]), Live("b0", "b1", "b2")));
        Assert.Null(PartitionChangeBuilder.ElectPreferred(Partition(1, [0, 1, 2]), Live("b1", "b2")));
    }
}
