# A group of another protocol type than "consumer" through kafka-python's own group coordinator (BaseCoordinator):
# two members elect a primary as Schema Registry's Kafka-based election does (protocol type "sr", JSON metadata, the
# leader's JSON assignment naming the primary). The first member alone elects itself; when the second joins, both
# rejoin and learn the same primary in the new generation. Then the second member (a follower) rejoins with other
# metadata (a new port): as with Kafka, whose coordinator compares a member's metadata bytes, the group rebalances and
# the leader's next assignment has the new port. Admin lists the group with its protocol type.
# Usage: python3 leader_election.py <bootstrap> <group>
# Prints one JSON line with what each step saw; any failure exits non-zero.
import json
import sys
import threading

from kafka import KafkaAdminClient
from kafka.client_async import KafkaClient
from kafka.coordinator.base import BaseCoordinator
from kafka.metrics import Metrics

from waiting import arm, until

bootstrap, group = sys.argv[1].split(','), sys.argv[2]
arm(90)


class Elector(BaseCoordinator):
    """One candidate: its metadata says who it is; the leader's assignment names the primary for everyone."""

    def __init__(self, host, **configs):
        self.host = host
        self.port = 8081
        self.new_port = None  # set by the main thread, taken up by the member's own thread
        self.elected = None  # (generation, primary host, members, ports) of the last completed join
        self.lock = threading.Lock()
        client = KafkaClient(bootstrap_servers=bootstrap, client_id=host)
        super().__init__(client, Metrics(), group_id=group, session_timeout_ms=10000, heartbeat_interval_ms=500,
                         max_poll_interval_ms=10000, **configs)
        self.client = client

    def protocol_type(self):
        return 'sr'

    def group_protocols(self):
        return [('v0', json.dumps({'version': 1, 'host': self.host, 'port': self.port, 'master_eligibility': True}).encode())]

    def _on_join_prepare(self, generation, member_id):
        pass

    def _perform_assignment(self, leader_id, protocol, members):
        identities = [json.loads(bytes(metadata)) for _, metadata in members]
        candidates = sorted(identity['host'] for identity in identities)
        ports = sorted(identity['port'] for identity in identities)
        answer = json.dumps({'error': 0, 'master': candidates[0], 'members': len(members), 'ports': ports}).encode()
        return {member_id: answer for member_id, _ in members}

    def _on_join_complete(self, generation, member_id, protocol, member_assignment_bytes):
        assignment = json.loads(bytes(member_assignment_bytes))
        with self.lock:
            self.elected = (generation, assignment['master'], assignment['members'], assignment['ports'])

    def run(self, stop):
        while not stop.is_set():
            with self.lock:
                new_port, self.new_port = self.new_port, None
            if new_port is not None:
                self.port = new_port
                self.request_rejoin()
            self.ensure_active_group()
            # The member's liveness: without it the heartbeat thread leaves the group after max_poll_interval_ms, and
            # every member would rejoin each 10 s whatever the coordinator does.
            self.poll_heartbeat()
            self.client.poll(timeout_ms=50)

    def seen(self):
        with self.lock:
            return self.elected


stop = threading.Event()
members = [Elector('candidate-a'), Elector('candidate-b')]
threads = [threading.Thread(target=m.run, args=(stop,), daemon=True) for m in members]
result = {}

threads[0].start()
until('the first candidate elected', lambda: members[0].seen() is not None)
result['firstAlone'] = list(members[0].seen())

threads[1].start()
until('both candidates in one generation with two members',
      lambda: all(m.seen() is not None and m.seen()[2] == 2 for m in members)
      and members[0].seen()[0] == members[1].seen()[0])
result['afterJoin'] = [list(m.seen()) for m in members]

generation = members[0].seen()[0]
with members[1].lock:
    members[1].new_port = 8082
until('both candidates in a later generation whose assignment has the follower\'s new port',
      lambda: all(m.seen()[0] > generation and m.seen()[3] == [8081, 8082] for m in members)
      and members[0].seen()[0] == members[1].seen()[0])
result['afterChange'] = [list(m.seen()) for m in members]

admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id='kafka-python-admin')
result['listed'] = [list(g) for g in admin.list_consumer_groups() if g[0] == group]
# (kafka-python 2.0.2's describe_consumer_groups fails on any group whose protocol type is not "consumer", against
# Apache Kafka too: it builds no member tuple for them. The test describes the group through the grain instead.)
stop.set()
for t in threads:
    t.join(timeout=10)
for m in members:
    m.close()
admin.close()
print(json.dumps(result))
