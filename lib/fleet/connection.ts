/**
 * MQTT connections of the fleet (MQTT.js, MQTT 5): QoS 1, persistent sessions
 * (clean: false with a session expiry) so that a device offline for hours
 * gets what it missed, automatic reconnection, and username/password and TLS
 * (mqtts:// with ca/cert/key) for brokers that require them.
 */
import type { IClientOptions, MqttClient } from 'mqtt';

export interface ConnectionOptions {
  /** mqtt://host:port, mqtts://host:port (TLS), ws://...; may carry user:pass@. */
  broker: string;
  username?: string;
  password?: string;
  /** TLS: CA certificate(s), client certificate and key (PEM). */
  ca?: string | Buffer | string[] | Buffer[];
  cert?: string | Buffer;
  key?: string | Buffer;
  /** TLS: check the broker's certificate (default true). */
  rejectUnauthorized?: boolean;
  /** Seconds the broker keeps the session (subscriptions, queued QoS 1 messages) while offline; default 7 days. */
  sessionExpiry?: number;
  /** Milliseconds between reconnection attempts; default 1000. */
  reconnectPeriod?: number;
  /** 5 (default; message expiry, user properties, session expiry) or 4 (MQTT 3.1.1, e.g. for Aedes). */
  protocolVersion?: 4 | 5;
  /** Anything else for MQTT.js. */
  mqtt?: IClientOptions;
}

export function openConnection(o: ConnectionOptions, clientId: string): MqttClient {
  const options: IClientOptions = {
    protocolVersion: o.protocolVersion ?? 5,
    clientId,
    clean: false,
    reconnectPeriod: o.reconnectPeriod ?? 1000,
    connectTimeout: 10_000,
    // MQTT 3.1.1 has no session expiry: there a clean: false session lasts until the broker drops it.
    ...((o.protocolVersion ?? 5) === 5 ? { properties: { sessionExpiryInterval: o.sessionExpiry ?? 7 * 24 * 3600 } } : {}),
    ...(o.username !== undefined ? { username: o.username } : {}),
    ...(o.password !== undefined ? { password: o.password } : {}),
    ...(o.ca !== undefined ? { ca: o.ca } : {}),
    ...(o.cert !== undefined ? { cert: o.cert } : {}),
    ...(o.key !== undefined ? { key: o.key } : {}),
    ...(o.rejectUnauthorized !== undefined ? { rejectUnauthorized: o.rejectUnauthorized } : {}),
    ...o.mqtt,
  };
  // Loaded on first use: MQTT.js takes a few hundred milliseconds to load,
  // which every `hdrnn` command and every user of the package would pay.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const mqtt = require('mqtt') as typeof import('mqtt');
  return mqtt.connect(o.broker, options);
}

/** Resolves on the first successful connection, rejects on an authentication refusal. */
export function connected(client: MqttClient, timeoutMs = 15_000): Promise<void> {
  return new Promise((resolve, reject) => {
    if (client.connected) return resolve();
    const timer = setTimeout(() => done(new Error('MQTT: no connection to the broker within the timeout')), timeoutMs);
    const onConnect = () => done();
    const onError = (e: Error & { code?: number }) => {
      // 4/5 (3.1.1) and 0x86/0x87 (MQTT 5): bad credentials or not authorised: retrying will not help.
      if (e.code === 4 || e.code === 5 || e.code === 134 || e.code === 135) done(e);
    };
    function done(e?: Error) {
      clearTimeout(timer);
      client.off('connect', onConnect);
      client.off('error', onError);
      if (e) reject(e);
      else resolve();
    }
    client.on('connect', onConnect);
    client.on('error', onError);
  });
}

/** MQTT 5 publish properties, or none on an MQTT 3.1.1 connection. */
export function v5(client: MqttClient, properties: Record<string, unknown>): { properties?: Record<string, unknown> } {
  return client.options.protocolVersion === 5 ? { properties } : {};
}
