// The fleet through a real Mosquitto (password file + ACL), in one process:
// credentials, the ACL, every kind of bad update, robust aggregation against
// a poisoned device, and FedAvg's accuracy on non-IID MNIST.
import { readFileSync } from 'node:fs';

import { connect, type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { connected, openConnection } from '../lib/fleet/connection';
import { decodeModel, encodeUpdate, type Model } from '../lib/fleet/encoding';
import { shardIndices, subset } from '../lib/fleet/shard';
import { crc32 } from '../lib/fleet/crc32';
import { Dataset, FleetAggregator, FleetDevice, Network, bandData, loadMnist, tempDir, type RoundReport } from './helpers';
import type { Rejection } from '../lib/fleet/aggregator';
import { startMosquitto, type Broker } from './mosquitto';

const FLEET = 'trucks';
const SHAPE = [20, 8, 4];

function band(seed: number, count = 400): Dataset {
  const { inputs, labels } = bandData(count, 20, 4, seed);
  return Dataset.from({ inputs, labels, inputSize: 20 });
}

async function client(broker: Broker, user: string, password = broker.users[user]): Promise<MqttClient> {
  const c = openConnection({ broker: broker.url, username: user, password, reconnectPeriod: 0 }, `raw-${user}-${Math.random()}`);
  await connected(c);
  return c;
}

/** The retained model, as a device sees it. */
async function currentModel(c: MqttClient): Promise<Model> {
  return new Promise((resolve) => {
    c.on('message', (topic, payload) => {
      if (topic === `hdrnn/${FLEET}/model`) resolve(decodeModel(payload));
    });
    void c.subscribeAsync(`hdrnn/${FLEET}/model`, { qos: 1 });
  });
}

function waitFor<T>(em: { on(e: string, f: (x: T) => void): unknown }, event: string, pred: (x: T) => boolean): Promise<T> {
  return new Promise((resolve) => em.on(event, (x: T) => pred(x) && resolve(x)));
}

describe('fleet over Mosquitto', () => {
  let broker: Broker;
  beforeAll(async () => {
    broker = await startMosquitto({ fleet: FLEET, devices: ['d1', 'd2', 'd3', 'rogue'] });
  });
  afterAll(async () => {
    await broker?.cleanup();
  });

  it('refuses a device without credentials or with a wrong password', async () => {
    const anonymous = connect(broker.url, { protocolVersion: 5, reconnectPeriod: 0, clientId: 'anon' });
    await expect(connected(anonymous)).rejects.toMatchObject({ code: 135 });
    anonymous.end(true);
    const wrong = openConnection({ broker: broker.url, username: 'd1', password: 'guess', reconnectPeriod: 0 }, 'wrong');
    const error = (await connected(wrong).catch((e) => e)) as { code?: number };
    expect([134, 135]).toContain(error.code); // bad user name or password / not authorised
    wrong.end(true);
  });

  it('connects over TLS (mqtts://) with the CA given, and refuses a broker it cannot verify', async () => {
    const tls = await startMosquitto({ fleet: FLEET, devices: ['d1'], tls: true });
    try {
      expect(tls.url).toMatch(/^mqtts:/);
      const ok = openConnection({ broker: tls.url, username: 'd1', password: tls.users.d1, ca: readFileSync(tls.ca!), reconnectPeriod: 0 }, 'tls-ok');
      await connected(ok);
      const [grant] = await ok.subscribeAsync(`hdrnn/${FLEET}/model`, { qos: 1 });
      expect(grant.qos).toBe(1);
      await ok.endAsync();
      const unverified = openConnection({ broker: tls.url, username: 'd1', password: tls.users.d1, reconnectPeriod: 0 }, 'tls-bad');
      const error = await new Promise<Error>((resolve) => unverified.once('error', resolve));
      expect(error.message).toMatch(/certificate/i);
      unverified.end(true);
    } finally {
      await tls.cleanup();
    }
  });

  it('validates every update: bad ones are reported with device and reason and never used', async () => {
    const state = tempDir();
    const agg = new FleetAggregator({
      broker: broker.url, username: 'aggregator', password: broker.users.aggregator,
      fleet: FLEET, model: new Network({ shape: SHAPE, seed: 1 }), minDevices: 2, roundTimeout: 60_000,
      stateDir: state.dir, maxUpdateNorm: 1e3, clientId: 'agg-validate',
    });
    const rejected: Rejection[] = [];
    agg.on('rejected', (r) => rejected.push(r));
    const rounds: RoundReport[] = [];
    agg.on('round', (r) => rounds.push(r));
    await agg.start();
    const rogue = await client(broker, 'rogue');
    const model = await currentModel(rogue);
    expect(model.round).toBe(0);
    const good = { fleet: FLEET, device: 'rogue', round: 0, baseCrc: model.crc, examples: 100, shape: SHAPE, delta: await model.network.diff(model.network) };
    const send = (bytes: Uint8Array, device = 'rogue') => rogue.publishAsync(`hdrnn/${FLEET}/update/${device}`, Buffer.from(bytes), { qos: 1 });

    // The ACL: rogue may not publish as d1 (MQTT 5 PUBACK "not authorized"), and the aggregator never sees it.
    await expect(send(encodeUpdate({ ...good, device: 'd1' }), 'd1')).rejects.toMatchObject({ code: 135 });

    const cases: Array<[Uint8Array, RegExp]> = [
      [encodeUpdate({ ...good, round: 5 }), /round 5, the current round is 0/],
      [encodeUpdate({ ...good, baseCrc: (model.crc + 1) >>> 0 }), /CRC/],
      [encodeUpdate({ ...good, fleet: 'other' }), /fleet 'other'/],
      [encodeUpdate({ ...good, device: 'd2' }), /names device 'd2'/],
      [encodeUpdate(good).subarray(0, 100), /CRC-32 does not match|too short|truncated/],
      [encodeUpdate({ ...good, examples: 0 }), /0 examples/],
      [new Uint8Array(2000).fill(7), /wrong magic|CRC/],
    ];
    // A NaN behind a valid CRC (anyone can compute one): the finite check refuses it.
    const nan = encodeUpdate(good);
    const view = new DataView(nan.buffer);
    view.setFloat32(20 + 1 + FLEET.length + 1 + 'rogue'.length + 4 + 4 * SHAPE.length, NaN, true);
    view.setUint32(nan.length - 4, crc32(nan.subarray(0, nan.length - 4)), true);
    cases.push([nan, /not a finite number/]);
    // A huge delta: over the norm cap.
    const huge = await model.network.diff(model.network);
    huge.weights[0].fill(1e6);
    cases.push([encodeUpdate({ ...good, delta: huge }), /norm .* over the cap/]);
    for (const [bytes] of cases) await send(bytes);
    await new Promise((r) => setTimeout(r, 300));
    expect(rejected.every((r) => r.device === 'rogue')).toBe(true);
    cases.forEach(([, reason], i) => expect(rejected[i]?.reason, `case ${i}`).toMatch(reason));
    expect(rounds).toHaveLength(0); // nothing bad was counted towards the round

    // Two real devices close the round with their updates only.
    const devices = ['d1', 'd2'].map(
      (d, i) => new FleetDevice({ broker: broker.url, username: d, password: broker.users[d], fleet: FLEET, device: d, data: band(i + 10), clientId: `dev-validate-${d}` }),
    );
    const round1 = waitFor<RoundReport>(agg, 'round', (r) => r.round === 1);
    await Promise.all(devices.map((d) => d.start()));
    const r1 = await round1;
    expect(r1.devices).toEqual(['d1', 'd2']);
    expect(r1.examples).toBe(800);
    await Promise.all([...devices.map((d) => d.stop()), agg.stop()]);
    await rogue.endAsync();
    state.cleanup();
  });

  it('a poisoned device cannot wreck the model under median aggregation', async () => {
    const test = band(99, 1000);
    const make = (method: 'mean' | 'median', id: string) =>
      new FleetAggregator({
        broker: broker.url, username: 'aggregator', password: broker.users.aggregator, fleet: FLEET,
        model: new Network({ shape: SHAPE, seed: 2 }), minDevices: 3, rounds: 2, method, testData: test, clientId: `agg-${id}`,
      });
    const results: Record<string, number> = {};
    for (const method of ['median', 'mean'] as const) {
      const agg = make(method, method);
      const done = waitFor<RoundReport>(agg, 'round', (r) => r.round === 2);
      await agg.start();
      const honest = ['d1', 'd2'].map(
        (d, i) => new FleetDevice({ broker: broker.url, username: d, password: broker.users[d], fleet: FLEET, device: d, data: band(i + 20), clientId: `dev-${method}-${d}`, sessionExpiry: 0 }),
      );
      await Promise.all(honest.map((d) => d.start()));
      // The poisoner answers every model with a valid, huge update.
      const rogue = await client(broker, 'rogue');
      rogue.on('message', async (topic, payload) => {
        const m = decodeModel(payload);
        const delta = await m.network.diff(m.network);
        delta.weights.forEach((w) => w.fill(1e30));
        delta.biases.forEach((b) => b.fill(-1e30));
        const bytes = encodeUpdate({ fleet: FLEET, device: 'rogue', round: m.round, baseCrc: m.crc, examples: 1e6, shape: SHAPE, delta });
        await rogue.publishAsync(`hdrnn/${FLEET}/update/rogue`, Buffer.from(bytes), { qos: 1 }).catch(() => {}); // may race the test's end
      });
      await rogue.subscribeAsync(`hdrnn/${FLEET}/model`, { qos: 1 });
      const r = await done;
      results[method] = r.accuracy!;
      expect(r.devices).toEqual(['d1', 'd2', 'rogue']);
      await Promise.all([...honest.map((d) => d.stop()), agg.stop(), rogue.endAsync()]);
    }
    expect(results.median).toBeGreaterThan(0.85);
    expect(results.mean).toBeLessThan(0.5);
  });

  it('FedAvg on 10 non-IID MNIST devices (784-32-10, 1 local epoch per round) reaches 90 % within 10 rounds', async () => {
    const mnist = await loadMnist();
    const devices = Array.from({ length: 10 }, (_, i) => `t${i}`);
    const b = await startMosquitto({ fleet: FLEET, devices });
    try {
      const shards = shardIndices(mnist.train.labels!, 10, { nonIid: true }).map((idx) => subset(mnist.train, idx));
      // Each truck really is non-IID: 90 % of its examples from its two digits.
      const main = shards[3].labels!.filter((l) => l === 6 || l === 7).length / shards[3].count;
      expect(main).toBeCloseTo(0.9, 2);
      const agg = new FleetAggregator({
        broker: b.url, username: 'aggregator', password: b.users.aggregator, fleet: FLEET,
        model: new Network({ shape: [784, 32, 10], seed: 1, output: 'softmax', loss: 'cross-entropy', init: 'xavier' }),
        minDevices: 10, rounds: 10, testData: mnist.test, clientId: 'agg-mnist',
      });
      const reports: RoundReport[] = [];
      agg.on('round', (r) => reports.push(r));
      const done = waitFor<RoundReport>(agg, 'round', (r) => r.round === 10);
      await agg.start();
      const trucks = shards.map(
        (data, i) => new FleetDevice({ broker: b.url, username: devices[i], password: b.users[devices[i]], fleet: FLEET, device: devices[i], data, clientId: `mnist-${i}`, encoding: 'f16' }),
      );
      await Promise.all(trucks.map((t) => t.start()));
      await done;
      await Promise.all([...trucks.map((t) => t.stop()), agg.stop()]);
      const acc = reports.map((r) => r.accuracy!);
      console.log('fleet accuracy per round (softmax + cross-entropy + Xavier, eta 0.5, f16 updates):', acc.map((a) => (a * 100).toFixed(2)).join(' '));
      expect(reports.every((r) => r.devices.length === 10)).toBe(true);
      expect(acc[9]).toBeGreaterThanOrEqual(0.9);
    } finally {
      await b.cleanup();
    }
  }, 120_000);
});
