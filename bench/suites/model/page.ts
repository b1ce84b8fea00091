// Browser side of the model benchmark. Our engine loads each fixture from the static server
// (fixtures/<name>/, the hub's file layout) and generates greedily; then transformers.js generates
// from the same prompt with the llama fixture's ONNX export, on onnxruntime-web's WebGPU EP (given
// our GPUDevice) and on its wasm CPU EP. Everything offline: files come from 127.0.0.1 only.
import { AutoModelForCausalLM, env, Tensor as HfTensor, type BaseStreamer } from '@huggingface/transformers';
import { describeAdapter } from '../../../src/engine/adapter.ts';
import { Gpu } from '../../../src/engine/gpu.ts';
import { calibrateMatmul } from '../../../src/engine/kernels/matmul/calibrate.ts';
import { loadDecoder } from '../../../src/engine/models/load.ts';
import { loadModelFiles } from '../../../src/formats/model-files.ts';
import { urlSource } from '../../../src/formats/source.ts';
import { ABLATIONS, benchPrompt, decodeBreakdown, measureOurs, releaseModel, roundTripMs, timingOf, type Breakdown, type GenerationCase, type GenerationTiming, type OursResult } from './measure.ts';

export interface PageInput {
  models: string[];
  /** The model with an ONNX export (transformers.js runs it) and whose decode step is broken down. */
  peerModel: string;
  /** Its vocabulary size (the prompt is the same ids for everyone). */
  peerVocab: number;
  gen: GenerationCase;
  breakdown: boolean;
  /** Run transformers.js too (default true). */
  peers?: boolean;
}

export interface PeerResult {
  timings: GenerationTiming[];
  ids: number[];
  error?: string;
}

export interface PageOutput {
  device: string;
  matmul: string;
  /** Storage buffers a shader stage may bind on this device. */
  storageBuffersPerStage: number;
  wasmThreads: number;
  /** A 4-byte submit-and-read round trip, ms. */
  roundTripMs: number;
  /** By model, and by "model|ablation" for the ablation runs. */
  ours: Record<string, OursResult | { error: string }>;
  breakdown: Breakdown | null;
  peers: Record<'webgpu' | 'wasm', PeerResult>;
}

const log = (line: string) => console.log(`[bench] ${line}`);

async function measurePeer(device: 'webgpu' | 'wasm', gpu: Gpu, model: string, prompt: number[], c: GenerationCase): Promise<PeerResult> {
  const lm = await AutoModelForCausalLM.from_pretrained(model, {
    dtype: 'fp32',
    device,
    // Our compatibility-mode device: onnxruntime-web ignores env.webgpu.adapter, but takes a device here.
    ...(device === 'webgpu' ? { session_options: { executionProviders: [{ name: 'webgpu', device: gpu.device }] } } : {}),
  });
  try {
    const timings: GenerationTiming[] = [];
    let ids: number[] = [];
    for (let rep = 0; rep < c.warmups + c.reps; rep++) {
      const times: number[] = [];
      // generate() hands the streamer the prompt first, then each new token.
      let calls = 0;
      const streamer: Pick<BaseStreamer, 'put' | 'end'> = { put: () => void (calls++ > 0 && times.push(performance.now())), end: () => {} };
      const inputIds = new HfTensor('int64', BigInt64Array.from(prompt.map(BigInt)), [1, prompt.length]);
      const attentionMask = new HfTensor('int64', new BigInt64Array(prompt.length).fill(1n), [1, prompt.length]);
      const t0 = performance.now();
      const params: Record<string, unknown> = {
        input_ids: inputIds,
        attention_mask: attentionMask,
        max_new_tokens: c.newTokens,
        do_sample: false,
        eos_token_id: null, // exactly newTokens tokens, as ours
        streamer,
      };
      const out = (await lm.generate(params)) as HfTensor;
      if (rep < c.warmups) continue;
      timings.push(timingOf(t0, times));
      ids = Array.from(out.data as BigInt64Array, Number).slice(prompt.length);
    }
    return { timings, ids };
  } finally {
    await lm.dispose();
  }
}

export async function run(input: PageInput): Promise<PageOutput> {
  const gpu = await Gpu.create(navigator.gpu);
  const cal = await calibrateMatmul(gpu);
  const matmul = `M>1: ${cal.rows}, M=1: ${cal.row}`;
  log(`calibrated matmul: ${matmul}`);
  const roundTrip = await roundTripMs(gpu);
  const ours: PageOutput['ours'] = {};
  let breakdown: Breakdown | null = null;
  for (const name of input.models) {
    log(`ours: ${name}`);
    try {
      const files = await loadModelFiles(urlSource(new URL(`fixtures/${name}/`, location.href).href));
      const loaded = await loadDecoder(gpu, files);
      try {
        ours[name] = await measureOurs(gpu, loaded.decoder, loaded.weightBytes, input.gen);
        if (name === input.peerModel) {
          for (const a of ABLATIONS) {
            log(`ours: ${name} ${a.name}`);
            ours[`${name}|${a.name}`] = await measureOurs(gpu, loaded.decoder, loaded.weightBytes, input.gen, a.off);
          }
        }
        if (input.breakdown && name === input.peerModel) {
          log(`ours: ${name} decode-step breakdown`);
          breakdown = await decodeBreakdown(gpu, loaded.decoder, input.gen);
        }
      } finally {
        releaseModel(loaded);
      }
    } catch (err) {
      ours[name] = { error: (err as Error).message.split('\n')[0] };
    }
  }

  env.allowRemoteModels = false;
  env.allowLocalModels = true;
  env.localModelPath = new URL('fixtures/', location.href).href;
  env.useBrowserCache = false;
  env.useWasmCache = false;
  const onnx = env.backends.onnx as { wasm: { wasmPaths?: unknown; numThreads?: number } };
  // transformers.js brings its own onnxruntime-web build: its wasm files are served under tjs-ort/.
  onnx.wasm.wasmPaths = new URL('tjs-ort/', location.href).href;
  // All cores for the CPU reference, as llvmpipe uses them for WebGPU (threads need isolation).
  const wasmThreads = crossOriginIsolated ? navigator.hardwareConcurrency : 1;
  onnx.wasm.numThreads = wasmThreads;
  const prompt = benchPrompt(input.gen.promptTokens, input.peerVocab);
  const peers = {} as PageOutput['peers'];
  for (const device of input.peers === false ? [] : (['webgpu', 'wasm'] as const)) {
    log(`transformers.js ${device}: ${input.peerModel}`);
    try {
      peers[device] = await measurePeer(device, gpu, input.peerModel, prompt, input.gen);
    } catch (err) {
      peers[device] = { timings: [], ids: [], error: (err as Error).message.split('\n')[0] };
    }
  }
  const storageBuffersPerStage = gpu.device.limits.maxStorageBuffersPerShaderStage;
  const device = describeAdapter(gpu.report);
  await gpu.destroy();
  return { device, matmul, storageBuffersPerStage, wasmThreads, roundTripMs: roundTrip, ours, breakdown, peers };
}
