/**
 * FleetAggregator: the back-office side of federated averaging over MQTT.
 *
 * Each round it publishes the global model (retained, QoS 1) on
 * hdrnn/<fleet>/model, collects the devices' updates from
 * hdrnn/<fleet>/update/+, validates every one (fleet, device, round, base
 * CRC, shape, finite values, size cap, norm cap; a bad one is reported with
 * its device and reason and never used), and once minDevices have answered
 * (or the round timeout passed with at least one) averages them into the
 * next model. Its state (round and model) is saved atomically after every
 * round, so a restarted aggregator continues where it stopped.
 */
import { EventEmitter } from 'node:events';
import { mkdir, readFile } from 'node:fs/promises';
import * as path from 'node:path';

import type { MqttClient } from 'mqtt';

import { Dataset } from '../dataset';
import { writeFileAtomic } from '../files';
import { Network } from '../network';
import { norm, sameShape, type AverageMethod } from '../parameters';
import * as v from '../validate';
import { connected, openConnection, v5, type ConnectionOptions } from './connection';
import { decodeModel, decodeUpdate, DEFAULT_MAX_MESSAGE_BYTES, encodeModel, networkBytes, type Update } from './encoding';
import { crc32 } from './crc32';
import { checkName, deviceOfUpdateTopic, topics } from './topics';

export interface AggregatorOptions extends ConnectionOptions {
  fleet: string;
  /** The starting model (round 0), used when stateDir holds no saved state. */
  model: Network;
  /** Folder for the saved state (aggregator.state); none: nothing is saved. */
  stateDir?: string;
  /** Updates that close a round; default 1. */
  minDevices?: number;
  /** Milliseconds after which a round closes with the updates it has (if any); default 60 000. */
  roundTimeout?: number;
  /** Stop after this round (no more models are published after it); default: run until stop(). */
  rounds?: number;
  /** 'mean' (FedAvg weighted by example counts, default), 'median' or 'trimmed-mean'. */
  method?: AverageMethod;
  trim?: number;
  /** Clip every update's delta to this L2 norm before averaging. */
  clipNorm?: number;
  /** Refuse updates whose delta has a larger L2 norm (default: no cap). */
  maxUpdateNorm?: number;
  /** Largest update accepted, bytes; default 16 MiB. */
  maxUpdateBytes?: number;
  /** Evaluated after every round. */
  testData?: Dataset;
  clientId?: string;
}

export interface RoundReport {
  round: number;
  devices: string[];
  examples: number;
  /** Mean bytes of the round's accepted updates. */
  bytesPerDevice: number;
  /** On the test data (testData), when it is labelled. */
  accuracy?: number;
  /** On the test data, when it has float targets (regression). */
  rmse?: number;
  seconds: number;
}

export interface Rejection {
  device: string;
  reason: string;
  round?: number;
}

export declare interface FleetAggregator {
  on(event: 'round', listener: (r: RoundReport) => void): this;
  on(event: 'rejected', listener: (r: Rejection) => void): this;
  on(event: 'published', listener: (p: { round: number; bytes: number }) => void): this;
  on(event: 'error', listener: (e: Error) => void): this;
  on(event: 'done', listener: () => void): this;
}

interface Pending {
  update: Update;
  bytes: number;
}

export class FleetAggregator extends EventEmitter {
  readonly fleet: string;
  #o: AggregatorOptions;
  #client?: MqttClient;
  #round = 0;
  #model: Network;
  #modelBytes: Uint8Array = new Uint8Array(0);
  #modelCrc = 0;
  #pending = new Map<string, Pending>();
  #lastDevices = new Set<string>(); // whose updates made the current model
  #closing = false;
  #timer?: NodeJS.Timeout;
  #stopped = false;
  #done = false;

  constructor(options: AggregatorOptions) {
    super();
    const o = v.options(options, 'options') as unknown as AggregatorOptions;
    this.fleet = checkName(o.fleet, 'options.fleet');
    if (!(o.model instanceof Network)) throw v.typeError('options.model', 'a Network', o.model);
    if (o.minDevices !== undefined) v.integer(o.minDevices, 'options.minDevices', 1, 1_000_000);
    if (o.roundTimeout !== undefined) v.integer(o.roundTimeout, 'options.roundTimeout', 1, 2 ** 31 - 1);
    if (o.rounds !== undefined) v.integer(o.rounds, 'options.rounds', 1, 0xffffffff);
    if (o.testData !== undefined && !(o.testData instanceof Dataset)) throw v.typeError('options.testData', 'a Dataset', o.testData);
    this.#o = o;
    this.#model = o.model;
  }

  get round(): number {
    return this.#round;
  }
  get model(): Network {
    return this.#model;
  }
  /** True once the last round (options.rounds) has been published. */
  get done(): boolean {
    return this.#done;
  }

  #statePath(): string | undefined {
    return this.#o.stateDir ? path.join(this.#o.stateDir, 'aggregator.state') : undefined;
  }

  async #setModel(round: number, model: Network): Promise<void> {
    this.#round = round;
    this.#model = model;
    this.#modelBytes = await networkBytes(model);
    this.#modelCrc = crc32(this.#modelBytes); // what decodeModel reports as the model's crc
  }

  /** Loads saved state (if any), connects, publishes the current model and starts collecting updates. */
  async start(): Promise<void> {
    const file = this.#statePath();
    let restored = false;
    if (file) {
      await mkdir(this.#o.stateDir!, { recursive: true });
      try {
        const saved = decodeModel(await readFile(file));
        if (!sameShape(saved.network.shape, this.#o.model.shape)) {
          throw new Error(`${file} holds a model of shape [${saved.network.shape.join(', ')}], not [${this.#o.model.shape.join(', ')}]`);
        }
        await this.#setModel(saved.round, saved.network);
        restored = true;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      }
    }
    if (!restored) await this.#setModel(0, this.#o.model);
    this.#done = this.#o.rounds !== undefined && this.#round >= this.#o.rounds;
    const client = openConnection(this.#o, this.#o.clientId ?? `hdrnn-${this.fleet}-aggregator`);
    this.#client = client;
    client.on('message', (topic, payload) => this.#onMessage(topic, payload));
    client.on('error', (e) => {
      if (!this.#stopped) this.emit('error', e);
    });
    // Every (re)connection republishes the model: a broker restarted without
    // persistence has lost the retained message.
    client.on('connect', () => {
      void this.#publish().catch((e) => this.emit('error', e));
    });
    await connected(client);
    await client.subscribeAsync(topics.updates(this.fleet), { qos: 1 });
    this.#armTimer();
  }

  async #publish(): Promise<void> {
    const client = this.#client;
    if (!client || this.#stopped) return;
    const message = encodeModel(this.#round, this.#modelBytes);
    await client.publishAsync(topics.model(this.fleet), Buffer.from(message), {
      qos: 1,
      retain: true,
      ...v5(client, { userProperties: { round: String(this.#round), crc: String(this.#modelCrc) } }),
    });
    this.emit('published', { round: this.#round, bytes: message.length });
  }

  #armTimer(): void {
    clearTimeout(this.#timer);
    if (this.#stopped || this.#done) return;
    this.#timer = setTimeout(() => {
      if (this.#pending.size > 0) void this.#close();
      else this.#armTimer();
    }, this.#o.roundTimeout ?? 60_000);
    this.#timer.unref?.();
  }

  #reject(device: string, reason: string, round?: number): void {
    this.emit('rejected', { device, reason, round });
  }

  #onMessage(topic: string, payload: Buffer): void {
    const device = deviceOfUpdateTopic(this.fleet, topic);
    if (device === null) return;
    if (this.#done || this.#stopped) return;
    let update: Update;
    try {
      update = decodeUpdate(payload, { maxBytes: this.#o.maxUpdateBytes ?? DEFAULT_MAX_MESSAGE_BYTES, maxParameters: Math.max(2 ** 24, this.#model.parameterCount) });
    } catch (e) {
      return this.#reject(device, (e as Error).message);
    }
    if (update.fleet !== this.fleet) return this.#reject(device, `update for fleet '${update.fleet}'`, update.round);
    if (update.device !== device) return this.#reject(device, `update names device '${update.device}' but came on ${topic}`, update.round);
    if (update.round === this.#round - 1 && this.#lastDevices.has(device)) return; // a late copy of an update already used
    if (this.#closing || update.round !== this.#round) return this.#reject(device, `update for round ${update.round}, the current round is ${this.#round}${this.#closing ? ' (closing)' : ''}`, update.round);
    if (update.baseCrc !== this.#modelCrc) return this.#reject(device, `update trained from a model with CRC ${update.baseCrc}, not the round's ${this.#modelCrc}`, update.round);
    if (!sameShape(update.shape, this.#model.shape)) return this.#reject(device, `update has shape [${update.shape.join(', ')}]`, update.round);
    if (update.examples < 1) return this.#reject(device, 'update trained on 0 examples', update.round);
    if (this.#o.maxUpdateNorm !== undefined) {
      const n = norm(update.delta);
      if (n > this.#o.maxUpdateNorm) return this.#reject(device, `update norm ${n.toFixed(3)} is over the cap of ${this.#o.maxUpdateNorm}`, update.round);
    }
    if (this.#pending.has(device)) return; // a copy sent again (after a restart): the first is kept
    this.#pending.set(device, { update, bytes: payload.length });
    if (this.#pending.size >= (this.#o.minDevices ?? 1)) void this.#close();
  }

  async #close(): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    clearTimeout(this.#timer);
    const started = process.hrtime.bigint();
    try {
      // In device order, not arrival order: the same updates give the same model bit for bit.
      const entries = [...this.#pending.values()].sort((a, b) => (a.update.device < b.update.device ? -1 : a.update.device > b.update.device ? 1 : 0));
      const base = this.#model;
      const nets = await Promise.all(entries.map((p) => base.apply(p.update.delta)));
      const next = await Network.average(
        nets.map((network, i) => ({ network, weight: entries[i].update.examples })),
        { method: this.#o.method ?? 'mean', trim: this.#o.trim, clipNorm: this.#o.clipNorm, base: this.#o.clipNorm ? base : undefined },
      );
      const round = this.#round + 1;
      const test = this.#o.testData ? await next.evaluate(this.#o.testData) : undefined;
      const accuracy = test && test.rmse === undefined ? test.accuracy : undefined;
      await this.#setModel(round, next);
      const file = this.#statePath();
      if (file) await writeFileAtomic(file, encodeModel(round, this.#modelBytes));
      this.#lastDevices = new Set(this.#pending.keys());
      this.#pending.clear();
      this.#done = this.#o.rounds !== undefined && round >= this.#o.rounds;
      const report: RoundReport = {
        round,
        devices: entries.map((p) => p.update.device).sort(),
        examples: entries.reduce((s, p) => s + p.update.examples, 0),
        bytesPerDevice: Math.round(entries.reduce((s, p) => s + p.bytes, 0) / entries.length),
        accuracy,
        ...(test?.rmse !== undefined ? { rmse: test.rmse } : {}),
        seconds: Number(process.hrtime.bigint() - started) / 1e9,
      };
      await this.#publish();
      this.emit('round', report);
      if (this.#done) this.emit('done');
    } catch (e) {
      this.emit('error', e as Error);
    } finally {
      this.#closing = false;
      this.#armTimer();
    }
  }

  /** Resolves when the given round has been published (or the last round, if earlier). */
  waitForRound(round: number): Promise<void> {
    return new Promise((resolve) => {
      if (this.#round >= round || this.#done) return resolve();
      const check = () => {
        if (this.#round >= round || this.#done) {
          this.off('round', check);
          resolve();
        }
      };
      this.on('round', check);
    });
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#client?.endAsync();
  }
}
