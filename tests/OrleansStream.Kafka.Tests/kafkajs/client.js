// kafkajs against the brokers: admin (create and list topics), keyed produce with acks=all, a group consumer that
// reads every record back and commits. Usage: node client.js <bootstrap> <topic> <group> <count>
// KAFKAJS_SASL (JSON: mechanism, username, password) and KAFKAJS_SSL_CA (a PEM file) add SASL and TLS;
// KAFKAJS_REAUTH_THRESHOLD_MS sets kafkajs's reauthenticationThreshold; KAFKAJS_OAUTHBEARER_TOKEN (a JWT) authenticates
// with OAUTHBEARER, kafkajs's oauthBearerProvider giving that token.
// Prints one JSON line with what each step saw; any failure exits non-zero (a missing kafkajs too).
'use strict';
const { Kafka, logLevel, Partitioners } = require('kafkajs');

const [bootstrap, topic, groupId, countText] = process.argv.slice(2);
const count = Number(countText);
const bearer = process.env.KAFKAJS_OAUTHBEARER_TOKEN;
const sasl = bearer ? { mechanism: 'oauthbearer', oauthBearerProvider: async () => ({ value: bearer }) }
  : process.env.KAFKAJS_SASL ? JSON.parse(process.env.KAFKAJS_SASL) : undefined;
const ssl = process.env.KAFKAJS_SSL_CA ? { ca: [require('fs').readFileSync(process.env.KAFKAJS_SSL_CA, 'utf8')] } : undefined;
// kafkajs re-authenticates (KIP-368) before any request made within this many ms of its session's end (default 10 s).
const reauthenticationThreshold = process.env.KAFKAJS_REAUTH_THRESHOLD_MS ? Number(process.env.KAFKAJS_REAUTH_THRESHOLD_MS) : undefined;
const kafka = new Kafka({ clientId: 'kafkajs-test', brokers: bootstrap.split(','), logLevel: logLevel.ERROR, sasl, ssl, reauthenticationThreshold });

async function main() {
  const admin = kafka.admin();
  await admin.connect();
  const created = await admin.createTopics({ topics: [{ topic, numPartitions: 2, replicationFactor: 1 }], waitForLeaders: true });
  const listed = (await admin.listTopics()).includes(topic);

  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  const messages = [];
  for (let i = 0; i < count; i++) messages.push({ key: `k${i}`, value: `v${i}` });
  const produced = await producer.send({ topic, acks: -1, messages });
  await producer.disconnect();

  const consumer = kafka.consumer({ groupId });
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  const consumed = [];
  await new Promise((resolve, reject) => {
    consumer.run({
      eachMessage: async ({ partition, message }) => {
        consumed.push({ partition, offset: Number(message.offset), key: message.key.toString(), value: message.value.toString() });
        if (consumed.length === count) resolve();
      },
    }).catch(reject);
  });
  await consumer.commitOffsets(consumed.map((m) => ({ topic, partition: m.partition, offset: String(m.offset + 1) })));
  await consumer.disconnect();
  const committed = await admin.fetchOffsets({ groupId, topics: [topic] });
  await admin.disconnect();

  console.log(JSON.stringify({
    created,
    listed,
    produced: produced.map((r) => ({ partition: r.partition, errorCode: r.errorCode })),
    consumed,
    committed: committed[0].partitions.map((p) => ({ partition: p.partition, offset: Number(p.offset) })),
  }));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
