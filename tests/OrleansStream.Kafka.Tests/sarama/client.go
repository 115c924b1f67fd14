// The Go client sarama (Debian's golang-github-shopify-sarama-dev, 1.22.1: its own protocol code, speaking Kafka 2.1's
// versions: Metadata v5, Produce v3, Fetch v4, ListOffsets v1, JoinGroup v1, OffsetCommit v2, OffsetFetch v1,
// InitProducerId v0, CreateTopics v2, DescribeConfigs v1, DeleteTopics v1) against the brokers named in the first
// argument: the cluster admin creates, lists, describes and reads the configs of a topic; an idempotent producer with
// acks=all sends records with each codec; a plain consumer reads a partition from its oldest offset; two members of
// a consumer group split the partitions, consume and commit; the admin describes the group, lists it and reads its
// offsets, and deletes the topic. Prints one JSON object of what it saw as its last line; exits non-zero on an error.
//
// Built by GoClient.cs in GOPATH mode (GO111MODULE=off, GOPATH=/usr/share/gocode) with Debian's Go.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/Shopify/sarama"
)

const partitions = 3

var codecs = []struct {
	name  string
	codec sarama.CompressionCodec
}{
	{"none", sarama.CompressionNone},
	{"gzip", sarama.CompressionGZIP},
	{"snappy", sarama.CompressionSnappy},
	{"lz4", sarama.CompressionLZ4},
	{"zstd", sarama.CompressionZSTD},
}

func config() *sarama.Config {
	c := sarama.NewConfig()
	c.Version = sarama.V2_1_0_0
	c.ClientID = "sarama-test"
	c.Metadata.Retry.Backoff = 200 * time.Millisecond
	c.Admin.Timeout = 30 * time.Second
	return c
}

func fail(step string, err error) {
	fmt.Fprintf(os.Stderr, "%s: %v\n", step, err)
	os.Exit(1)
}

type produced struct {
	Key       string `json:"key"`
	Value     string `json:"value"`
	Partition int32  `json:"partition"`
	Offset    int64  `json:"offset"`
}

// member is one consumer-group member: what it was last assigned and what it consumed.
type member struct {
	mu       sync.Mutex
	claims   []int32
	consumed []produced
	total    *int64
	all      *sync.Cond
}

func (m *member) Setup(s sarama.ConsumerGroupSession) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.claims = append([]int32(nil), s.Claims()[topicName]...)
	sort.Slice(m.claims, func(i, j int) bool { return m.claims[i] < m.claims[j] })
	m.all.Broadcast()
	return nil
}

func (m *member) Cleanup(sarama.ConsumerGroupSession) error { return nil }

func (m *member) ConsumeClaim(s sarama.ConsumerGroupSession, claim sarama.ConsumerGroupClaim) error {
	for msg := range claim.Messages() {
		m.mu.Lock()
		m.consumed = append(m.consumed, produced{string(msg.Key), string(msg.Value), msg.Partition, msg.Offset})
		m.mu.Unlock()
		s.MarkMessage(msg, "")
		m.all.L.Lock()
		*m.total++
		m.all.L.Unlock()
		m.all.Broadcast()
	}
	return nil
}

func (m *member) assigned() []int32 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]int32(nil), m.claims...)
}

var topicName string

func main() {
	if len(os.Args) != 5 && !(len(os.Args) == 6 && os.Args[5] == "produce") {
		fmt.Fprintln(os.Stderr, "usage: client BOOTSTRAP TOPIC GROUP COUNT [produce]")
		os.Exit(2)
	}
	// "produce": create the topic and produce only, leaving the topic for the caller to read.
	produceOnly := len(os.Args) == 6
	brokers := strings.Split(os.Args[1], ",")
	topicName = os.Args[2]
	group := os.Args[3]
	count, err := strconv.Atoi(os.Args[4])
	if err != nil {
		fail("count", err)
	}
	result := map[string]interface{}{}

	admin, err := sarama.NewClusterAdmin(brokers, config())
	if err != nil {
		fail("admin", err)
	}
	if err := admin.CreateTopic(topicName, &sarama.TopicDetail{NumPartitions: partitions, ReplicationFactor: 2,
		ConfigEntries: map[string]*string{"cleanup.policy": strPtr("delete")}}, false); err != nil {
		fail("create topic", err)
	}
	// Kafka's CreateTopics with validate_only: the answer without creating.
	result["validateOnlyExisting"] = errorText(admin.CreateTopic(topicName, &sarama.TopicDetail{NumPartitions: 1, ReplicationFactor: 1}, true))
	topics, err := admin.ListTopics()
	if err != nil {
		fail("list topics", err)
	}
	listed, ok := topics[topicName]
	result["listed"] = ok && listed.NumPartitions == partitions
	described, err := admin.DescribeTopics([]string{topicName})
	if err != nil {
		fail("describe topics", err)
	}
	result["described"] = map[string]interface{}{"error": int16(described[0].Err), "partitions": len(described[0].Partitions),
		"replicas": len(described[0].Partitions[0].Replicas)}
	configs, err := admin.DescribeConfig(sarama.ConfigResource{Type: sarama.TopicResource, Name: topicName})
	if err != nil {
		fail("describe config", err)
	}
	configValues := map[string]string{}
	for _, entry := range configs {
		if entry.Name == "cleanup.policy" || entry.Name == "retention.ms" {
			configValues[entry.Name] = entry.Value
		}
	}
	result["configs"] = configValues

	// Two group members split the topic before anything is produced, so each reads only what its partitions get.
	var totalMu sync.Mutex
	var total int64
	all := sync.NewCond(&totalMu)
	members := []*member{{total: &total, all: all}, {total: &total, all: all}}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	groups := make([]sarama.ConsumerGroup, 2)
	join := func(i int) {
		cfg := config()
		cfg.Consumer.Offsets.Initial = sarama.OffsetOldest
		cfg.Consumer.Return.Errors = false
		g, err := sarama.NewConsumerGroup(brokers, group, cfg)
		if err != nil {
			fail("consumer group", err)
		}
		groups[i] = g
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				if err := g.Consume(ctx, []string{topicName}, members[i]); err != nil && ctx.Err() == nil {
					fmt.Fprintf(os.Stderr, "member %d: %v\n", i, err)
					time.Sleep(100 * time.Millisecond)
				}
			}
		}()
	}
	waitFor := func(what string, done func() bool) {
		deadline := time.Now().Add(60 * time.Second)
		totalMu.Lock()
		defer totalMu.Unlock()
		for !done() {
			if time.Now().After(deadline) {
				fail(what, fmt.Errorf("not within 60 s"))
			}
			timer := time.AfterFunc(200*time.Millisecond, all.Broadcast)
			all.Wait()
			timer.Stop()
		}
	}
	if !produceOnly {
		join(0)
		waitFor("first member assigned", func() bool { return len(members[0].assigned()) == partitions })
		result["firstAlone"] = len(members[0].assigned())
		join(1)
		waitFor("both members assigned", func() bool {
			a, b := members[0].assigned(), members[1].assigned()
			return len(a) > 0 && len(b) > 0 && len(a)+len(b) == partitions
		})
		result["assignments"] = [][]int32{members[0].assigned(), members[1].assigned()}
	}

	// The idempotent producer (InitProducerId, sequence numbers) with acks=all, once per codec.
	var sent []produced
	for _, c := range codecs {
		cfg := config()
		cfg.Producer.RequiredAcks = sarama.WaitForAll
		cfg.Producer.Return.Successes = true
		cfg.Producer.Idempotent = true
		cfg.Producer.Retry.Max = 5
		cfg.Net.MaxOpenRequests = 1
		cfg.Producer.Compression = c.codec
		producer, err := sarama.NewSyncProducer(brokers, cfg)
		if err != nil {
			fail("producer "+c.name, err)
		}
		messages := make([]*sarama.ProducerMessage, count)
		for i := range messages {
			messages[i] = &sarama.ProducerMessage{Topic: topicName, Key: sarama.StringEncoder(fmt.Sprintf("k%d", i)),
				Value: sarama.StringEncoder(fmt.Sprintf("%s-v%d", c.name, i))}
		}
		if err := producer.SendMessages(messages); err != nil {
			fail("send "+c.name, err)
		}
		for _, m := range messages {
			sent = append(sent, produced{fmt.Sprint(m.Key), fmt.Sprint(m.Value), m.Partition, m.Offset})
		}
		if err := producer.Close(); err != nil {
			fail("close producer "+c.name, err)
		}
	}
	result["produced"] = sent
	if produceOnly {
		cancel()
		admin.Close()
		emit(result)
		return
	}

	waitFor("everything consumed", func() bool { return total >= int64(len(sent)) })
	groupDescriptions, err := admin.DescribeConsumerGroups([]string{group})
	if err != nil {
		fail("describe group", err)
	}
	result["groupState"] = groupDescriptions[0].State
	result["groupMembers"] = len(groupDescriptions[0].Members)
	result["groupProtocol"] = groupDescriptions[0].Protocol
	// sarama reads a member's metadata and assignment strictly: a byte past the version it wrote fails the decode.
	var describedMembers []map[string]interface{}
	for _, m := range groupDescriptions[0].Members {
		metadata, err := m.GetMemberMetadata()
		if err != nil {
			fail("described member metadata", err)
		}
		assignment, err := m.GetMemberAssignment()
		if err != nil {
			fail("described member assignment", err)
		}
		describedMembers = append(describedMembers, map[string]interface{}{"topics": metadata.Topics, "partitions": assignment.Topics[topicName]})
	}
	result["describedMembers"] = describedMembers
	listedGroups, err := admin.ListConsumerGroups()
	if err != nil {
		fail("list groups", err)
	}
	_, groupListed := listedGroups[group]
	result["groupListed"] = groupListed
	cancel()
	for _, g := range groups {
		// Close commits what was marked (the offset manager's last flush) and leaves the group.
		if err := g.Close(); err != nil {
			fail("close member", err)
		}
	}
	wg.Wait()
	consumed := make([][]produced, 2)
	for i, m := range members {
		consumed[i] = m.consumed
	}
	result["consumed"] = consumed

	offsets, err := admin.ListConsumerGroupOffsets(group, map[string][]int32{topicName: {0, 1, 2}})
	if err != nil {
		fail("group offsets", err)
	}
	committed := map[string]int64{}
	for p, block := range offsets.Blocks[topicName] {
		committed[strconv.Itoa(int(p))] = block.Offset
	}
	result["committed"] = committed

	// A plain consumer (no group): the oldest and newest offsets, then partition 0 from the oldest.
	client, err := sarama.NewClient(brokers, config())
	if err != nil {
		fail("client", err)
	}
	watermarks := map[string][]int64{}
	for p := int32(0); p < partitions; p++ {
		oldest, err := client.GetOffset(topicName, p, sarama.OffsetOldest)
		if err != nil {
			fail("oldest offset", err)
		}
		newest, err := client.GetOffset(topicName, p, sarama.OffsetNewest)
		if err != nil {
			fail("newest offset", err)
		}
		watermarks[strconv.Itoa(int(p))] = []int64{oldest, newest}
	}
	result["watermarks"] = watermarks
	consumer, err := sarama.NewConsumerFromClient(client)
	if err != nil {
		fail("consumer", err)
	}
	pc, err := consumer.ConsumePartition(topicName, 0, sarama.OffsetOldest)
	if err != nil {
		fail("consume partition", err)
	}
	var partitionZero []produced
	for len(partitionZero) < int(watermarks["0"][1]) {
		select {
		case msg := <-pc.Messages():
			partitionZero = append(partitionZero, produced{string(msg.Key), string(msg.Value), msg.Partition, msg.Offset})
		case err := <-pc.Errors():
			fail("partition consumer", err)
		case <-time.After(30 * time.Second):
			fail("partition consumer", fmt.Errorf("%d of %d records in 30 s", len(partitionZero), watermarks["0"][1]))
		}
	}
	result["partitionZero"] = partitionZero
	pc.Close()
	consumer.Close()
	client.Close()

	if err := admin.DeleteTopic(topicName); err != nil {
		fail("delete topic", err)
	}
	after, err := admin.ListTopics()
	if err != nil {
		fail("list topics after delete", err)
	}
	_, stillListed := after[topicName]
	result["listedAfterDelete"] = stillListed
	admin.Close()

	emit(result)
}

func emit(result map[string]interface{}) {
	out, err := json.Marshal(result)
	if err != nil {
		fail("json", err)
	}
	fmt.Println(string(out))
}

func strPtr(s string) *string { return &s }

func errorText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
