// generation_config.json: the model's own stop tokens and sampling defaults. Only what the lab
// uses is read; a field with a wrong type is a ConfigError naming the file and the field.
import { ConfigError } from './errors.ts';

export interface GenerationConfig {
  eosTokenIds: number[];
  bosTokenId: number | null;
  padTokenId: number | null;
  doSample: boolean | null;
  temperature: number | null;
  topK: number | null;
  topP: number | null;
  repetitionPenalty: number | null;
  maxNewTokens: number | null;
  raw: Record<string, unknown>;
}

export function parseGenerationConfig(json: unknown, file = 'generation_config.json'): GenerationConfig {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new ConfigError(file, '(root)', 'is not a JSON object.');
  const raw = json as Record<string, unknown>;
  const number = (key: string, integer = false): number | null => {
    const v = raw[key];
    if (v === undefined || v === null) return null;
    if (typeof v !== 'number' || !Number.isFinite(v) || (integer && !Number.isSafeInteger(v))) throw new ConfigError(file, key, `must be ${integer ? 'an integer' : 'a number'}, got ${JSON.stringify(v)}.`);
    return v;
  };
  const id = (key: string): number | null => {
    const v = number(key, true);
    return v === null || v < 0 ? null : v;
  };
  const eos = raw.eos_token_id;
  let eosTokenIds: number[];
  if (Array.isArray(eos)) {
    eosTokenIds = eos.map((v, i) => {
      if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new ConfigError(file, `eos_token_id[${i}]`, `must be a token id, got ${JSON.stringify(v)}.`);
      return v;
    });
  } else {
    const one = id('eos_token_id');
    eosTokenIds = one === null ? [] : [one];
  }
  const doSample = raw.do_sample;
  if (doSample !== undefined && doSample !== null && typeof doSample !== 'boolean') throw new ConfigError(file, 'do_sample', `must be true or false, got ${JSON.stringify(doSample)}.`);
  return {
    eosTokenIds,
    bosTokenId: id('bos_token_id'),
    padTokenId: id('pad_token_id'),
    doSample: (doSample as boolean | undefined) ?? null,
    temperature: number('temperature'),
    topK: number('top_k', true),
    topP: number('top_p'),
    repetitionPenalty: number('repetition_penalty'),
    maxNewTokens: number('max_new_tokens', true),
    raw,
  };
}
