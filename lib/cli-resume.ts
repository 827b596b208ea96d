/** `hdrnn train --resume FILE`: what a checkpoint holds, for both training commands. */
import { UsageError } from './cli-args';
import { Network, type EpochReport } from './network';
import { epochsInState } from './train-control';

/**
 * The run a checkpoint holds (--resume): its network and trainer state, and
 * how many epochs it had finished of the `total` asked for now.
 */
export async function resumeFrom(file: string, total: number): Promise<{ network: Network; state: Uint8Array; done: number }> {
  const { network, trainerState } = await Network.loadCheckpoint(file);
  const done = trainerState ? epochsInState(trainerState) : undefined;
  if (!trainerState || done === undefined) {
    throw new UsageError(`${file} holds no trainer state to resume: write one with train --checkpoint FILE (or train --csv, whose -n file is a checkpoint)`);
  }
  if (done >= total) throw new UsageError(`${file} has already trained ${done} epoch(s); ask for more with -e (it counts all of them, ${done + 1} or more)`);
  return { network, state: trainerState, done };
}

/**
 * Epoch reports for the JSON output: numbered in the whole run (a resumed
 * run's first epoch is the one after the checkpoint's `done`), without the
 * trainer state bytes.
 */
export function inWholeRun(reports: readonly EpochReport[], done: number, total: number): Array<Omit<EpochReport, 'state'>> {
  return reports.map(({ state: _state, ...e }) => ({ ...e, epoch: done + e.epoch, epochs: total }));
}
