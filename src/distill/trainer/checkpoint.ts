// Training checkpoints: the trained parameters (all weights, or the LoRA adapters), the optimiser
// state, and the trainer state (step, data cursor, RNG) in ONE safetensors file, so a checkpoint
// is a single record that is either fully written or not at all. Stores: IndexedDB in the page
// (src/store/checkpoints.ts), a file in the CLI.
import { encodeFloat32, tensorToFloat32 } from '../../formats/dtypes.ts';
import { parseSafetensors } from '../../formats/safetensors.ts';
import { writeSafetensors, type TensorToWrite } from '../../formats/safetensors-writer.ts';
import { LabError } from '../../engine/errors.ts';
import type { OptimizerState } from '../../engine/optim/optimizer.ts';
import type { Trainer, TrainerState, TrainConfig } from './trainer.ts';

export const CHECKPOINT_FORMAT = 'student-lab/checkpoint';

export class CheckpointError extends LabError {
  constructor(message: string, hint?: string) {
    super('CheckpointError', message, hint);
  }
}

export interface CheckpointContents {
  runId: string;
  config: TrainConfig;
  state: TrainerState;
  params: Map<string, { shape: number[]; data: Float32Array }>;
  optimizer: OptimizerState;
}

/** Read the trainer's parameters and optimiser state to the host (one readback per tensor). */
export async function captureCheckpoint(trainer: Trainer, runId: string): Promise<CheckpointContents> {
  const params = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const p of trainer.params) params.set(p.name, { shape: [...p.param.shape], data: await trainer.gpu.readF32(p.param) });
  return { runId, config: trainer.config, state: trainer.state(), params, optimizer: await trainer.optimizer.exportState() };
}

/** Put a checkpoint back: parameter values, optimiser slots, step, cursor and RNG. */
export function restoreCheckpoint(trainer: Trainer, c: CheckpointContents): void {
  const byName = new Map(trainer.params.map((p) => [p.name, p]));
  for (const [name, value] of c.params) {
    const p = byName.get(name);
    if (!p) throw new CheckpointError(`The checkpoint holds "${name}", which this run does not train (was it made in another mode?).`);
    if (p.param.numel !== value.data.length) throw new CheckpointError(`Checkpoint tensor "${name}" has ${value.data.length} values; the model's has ${p.param.numel}.`);
    trainer.gpu.write(p.param, value.data);
  }
  for (const p of trainer.params) {
    if (!c.params.has(p.name)) throw new CheckpointError(`The checkpoint has no value for "${p.name}".`);
  }
  trainer.optimizer.importState(c.optimizer, trainer.params);
  trainer.restore(c.state);
}

export function encodeCheckpoint(c: CheckpointContents): Uint8Array {
  const tensors: TensorToWrite[] = [];
  for (const [name, p] of c.params) tensors.push({ name: `param/${name}`, dtype: 'F32', shape: p.shape, data: encodeFloat32(p.data, 'F32') });
  for (const [name, slots] of Object.entries(c.optimizer.slots)) {
    const shape = c.params.get(name)?.shape ?? [slots[0].length];
    slots.forEach((data, i) => tensors.push({ name: `opt${i}/${name}`, dtype: 'F32', shape, data: encodeFloat32(data, 'F32') }));
  }
  return writeSafetensors(tensors, {
    format: CHECKPOINT_FORMAT,
    version: '1',
    runId: c.runId,
    config: JSON.stringify(c.config),
    state: JSON.stringify(c.state),
    optimizer: JSON.stringify({ kind: c.optimizer.kind, step: c.optimizer.step }),
  });
}

export function decodeCheckpoint(bytes: Uint8Array, file = 'checkpoint'): CheckpointContents {
  const st = parseSafetensors(bytes, file);
  const meta = st.header.metadata ?? {};
  if (meta.format !== CHECKPOINT_FORMAT) throw new CheckpointError(`${file} is not a Student Lab checkpoint (format "${meta.format ?? 'none'}").`);
  let config: TrainConfig;
  let state: TrainerState;
  let opt: { kind: OptimizerState['kind']; step: number };
  try {
    config = JSON.parse(meta.config);
    state = JSON.parse(meta.state);
    opt = JSON.parse(meta.optimizer);
  } catch {
    throw new CheckpointError(`${file}: its metadata is damaged.`);
  }
  const params = new Map<string, { shape: number[]; data: Float32Array }>();
  const slots: Record<string, Float32Array[]> = {};
  for (const e of st.header.entries) {
    const data = Float32Array.from(tensorToFloat32(st.get(e.name)));
    const slash = e.name.indexOf('/');
    const kind = e.name.slice(0, slash);
    const name = e.name.slice(slash + 1);
    if (kind === 'param') params.set(name, { shape: e.shape, data });
    else if (kind.startsWith('opt')) (slots[name] ??= [])[Number(kind.slice(3))] = data;
  }
  return { runId: meta.runId ?? '', config, state, params, optimizer: { kind: opt.kind, step: opt.step, slots } };
}
