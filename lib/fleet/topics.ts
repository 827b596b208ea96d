/**
 * MQTT topics of a fleet (documented in the README):
 *   hdrnn/<fleet>/model            the current global model, retained (model message)
 *   hdrnn/<fleet>/update/<device>  a device's update for one round (update message)
 *   hdrnn/<fleet>/status/<device>  optional JSON status of a device
 * Fleet and device names are single topic levels: no '/', '+', '#' or NUL.
 */
import * as v from '../validate';

const NAME = /^[A-Za-z0-9_.-]{1,64}$/;

/** A fleet or device name: 1..64 of letters, digits, '_', '.', '-'. */
export function checkName(value: unknown, name: string): string {
  if (typeof value !== 'string') throw v.typeError(name, 'a string', value);
  if (!NAME.test(value)) throw v.valueError(name, "1 to 64 letters, digits, '_', '.' or '-'", value);
  return value;
}

export const topics = {
  model: (fleet: string) => `hdrnn/${fleet}/model`,
  update: (fleet: string, device: string) => `hdrnn/${fleet}/update/${device}`,
  updates: (fleet: string) => `hdrnn/${fleet}/update/+`,
  status: (fleet: string, device: string) => `hdrnn/${fleet}/status/${device}`,
};

/** The device named by an update topic of this fleet, or null. */
export function deviceOfUpdateTopic(fleet: string, topic: string): string | null {
  const prefix = `hdrnn/${fleet}/update/`;
  if (!topic.startsWith(prefix)) return null;
  const device = topic.slice(prefix.length);
  return NAME.test(device) ? device : null;
}
