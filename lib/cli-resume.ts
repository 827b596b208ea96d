/** `hdrnn train --resume FILE`: what a checkpoint holds, for both training commands. */
import { UsageError } from './cli-args';
import { Network } from './network';
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
