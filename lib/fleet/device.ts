/**
 * FleetDevice: the truck side of federated averaging over MQTT.
 *
 * It subscribes to the fleet's retained model, trains a copy on its own
 * Dataset in the background (training runs on a native thread, so the host
 * service keeps running), and publishes the delta against the model it
 * started from on its own update topic. A newer model arriving mid-training
 * aborts the stale run and starts on the new one. The session is persistent
 * (clean: false, session expiry) and MQTT.js reconnects on its own, so a
 * broker restart or a long time offline costs nothing but the wait: the
 * retained model comes again on reconnection and queued updates are sent.
 */
import { EventEmitter } from 'node:events';

import type { MqttClient } from 'mqtt';

import { Dataset } from '../dataset';
import { Network, type TrainOptions } from '../network';
import * as v from '../validate';
import { connected, openConnection, v5, type ConnectionOptions } from './connection';
import { decodeModel, encodeUpdate, type Model, type UpdateEncoding } from './encoding';
import { crc32 } from './crc32';
import { checkName, topics } from './topics';

export type DeviceTrainOptions = Omit<TrainOptions, 'testData' | 'signal' | 'onEpoch' | 'onProgress'>;

export interface DeviceOptions extends ConnectionOptions {
  fleet: string;
  /** This device's name: its update topic is hdrnn/<fleet>/update/<device> (and its broker user, usually). */
  device: string;
  /**
   * The device's own examples; never leave it. Or a function making them for
   * a model (called for each model; cache inside it), e.g. reading a CSV with
   * the model's class names so every device numbers the classes alike.
   */
  data: Dataset | ((model: Network) => Dataset | Promise<Dataset>);
  /** Local training per round; default 1 epoch, batch 10, threads 1, learning rate 0.5 for a
   * cross-entropy model (softmax + Xavier: the fleet's default) and 3 for the seed's quadratic one. */
  train?: DeviceTrainOptions;
  /** Values of the update: 'f32' (default), 'f16' or 'i8'. */
  encoding?: UpdateEncoding;
  /** Seconds an unsent update stays useful on the broker (MQTT 5 message expiry); default 1 day. */
  updateExpiry?: number;
  clientId?: string;
}

export declare interface FleetDevice {
  on(event: 'model', listener: (m: { round: number }) => void): this;
  on(event: 'sent', listener: (s: { round: number; bytes: number; seconds: number }) => void): this;
  on(event: 'error', listener: (e: Error) => void): this;
}

/** The learning rate a round's local training uses unless told: measured per loss (MEASUREMENTS.md). */
export function defaultLearningRate(net: Network): number {
  return net.loss === 'cross-entropy' ? 0.5 : 3;
}

export class FleetDevice extends EventEmitter {
  readonly fleet: string;
  readonly device: string;
  #o: DeviceOptions;
  #client?: MqttClient;
  #lastRound = -1; // the last round an update was made for
  #lastUpdate?: Uint8Array;
  #active?: { round: number; abort: AbortController };
  #stopped = false;

  constructor(options: DeviceOptions) {
    super();
    const o = v.options(options, 'options') as unknown as DeviceOptions;
    this.fleet = checkName(o.fleet, 'options.fleet');
    this.device = checkName(o.device, 'options.device');
    if (!(o.data instanceof Dataset) && typeof o.data !== 'function') throw v.typeError('options.data', 'a Dataset or a function of the model', o.data);
    if (o.encoding !== undefined) v.oneOf(o.encoding, 'options.encoding', ['f32', 'f16', 'i8'] as const);
    this.#o = o;
  }

  /** The last round this device sent an update for (-1: none yet). */
  get lastRound(): number {
    return this.#lastRound;
  }

  async start(): Promise<void> {
    const client = openConnection(this.#o, this.#o.clientId ?? `hdrnn-${this.fleet}-${this.device}`);
    this.#client = client;
    client.on('message', (topic, payload) => {
      if (topic === topics.model(this.fleet)) this.#onModel(payload);
    });
    client.on('error', (e) => {
      if (!this.#stopped) this.emit('error', e);
    });
    await connected(client);
    const [grant] = await client.subscribeAsync(topics.model(this.fleet), { qos: 1 });
    if (grant && grant.qos >= 128) throw new Error(`the broker refused the subscription to ${topics.model(this.fleet)}`);
  }

  #onModel(payload: Buffer): void {
    if (this.#stopped) return;
    let model: Model;
    try {
      model = decodeModel(payload);
    } catch (e) {
      this.emit('error', new Error(`invalid model message: ${(e as Error).message}`));
      return;
    }
    if (model.round === this.#lastRound && this.#lastUpdate) {
      // The same round published again: the aggregator restarted (it may have
      // lost what it had received) or the broker did. Send the update again;
      // an aggregator that already has it ignores the copy.
      void this.#send(model.round, this.#lastUpdate).catch((e) => this.#stopped || this.emit('error', e));
      return;
    }
    if (model.round <= this.#lastRound) return;
    if (this.#active) {
      if (this.#active.round >= model.round) return;
      this.#active.abort.abort(); // a newer model: the running work is stale
    }
    this.emit('model', { round: model.round });
    void this.#work(model);
  }

  async #work(model: Model): Promise<void> {
    const abort = new AbortController();
    const job = { round: model.round, abort };
    this.#active = job;
    const started = process.hrtime.bigint();
    try {
      this.#status('training', model.round);
      const net = model.network;
      const base = Network.fromBuffer(model.bytes);
      // The shuffle's seed follows from device and round unless given, so a run can be repeated.
      const seed = crc32(Buffer.from(`${this.fleet}/${this.device}/${model.round}`));
      const data = typeof this.#o.data === 'function' ? await this.#o.data(net) : this.#o.data;
      if (!(data instanceof Dataset)) throw v.typeError('the data for this model', 'a Dataset', data);
      await net.train(data, { epochs: 1, batchSize: 10, learningRate: defaultLearningRate(net), threads: 1, seed, ...this.#o.train, signal: abort.signal });
      const delta = await net.diff(base);
      const bytes = encodeUpdate({
        fleet: this.fleet,
        device: this.device,
        round: model.round,
        baseCrc: model.crc,
        examples: data.count,
        shape: base.shape,
        delta,
        encoding: this.#o.encoding ?? 'f32',
      });
      if (abort.signal.aborted || this.#stopped) return;
      if (model.round > this.#lastRound) {
        this.#lastRound = model.round;
        this.#lastUpdate = bytes;
      }
      await this.#send(model.round, bytes);
      this.emit('sent', { round: model.round, bytes: bytes.length, seconds: Number(process.hrtime.bigint() - started) / 1e9 });
      this.#status('idle', model.round);
    } catch (e) {
      if ((e as Error).name !== 'AbortError' && !this.#stopped) this.emit('error', e as Error);
    } finally {
      if (this.#active === job) this.#active = undefined;
    }
  }

  async #send(round: number, bytes: Uint8Array): Promise<void> {
    const client = this.#client!;
    await client.publishAsync(topics.update(this.fleet, this.device), Buffer.from(bytes), {
      qos: 1,
      ...v5(client, { messageExpiryInterval: this.#o.updateExpiry ?? 86_400, userProperties: { round: String(round) } }),
    });
  }

  #status(state: string, round: number): void {
    if (this.#stopped || !this.#client?.connected) return;
    this.#client.publish(topics.status(this.fleet, this.device), JSON.stringify({ state, round }), { qos: 0 });
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#active?.abort.abort();
    await this.#client?.endAsync();
  }
}
