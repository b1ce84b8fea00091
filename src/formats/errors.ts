// Named errors of the file formats and model sources. Each message names the file (and the field,
// tensor or byte position) and ends with a hint saying what to do; `name` is stable because it is
// all that survives the worker boundary besides the message.
import { LabError } from '../engine/errors.ts';

/** config.json (or generation_config.json) is missing a field, has a bad value or an unsupported feature. */
export class ConfigError extends LabError {
  constructor(
    readonly file: string,
    readonly field: string,
    message: string,
    hint?: string,
  ) {
    super('ConfigError', `${file}: ${field}: ${message}`, hint);
  }
}

/** A safetensors file (or its shard index) is malformed, truncated or uses an unsupported dtype. */
export class SafetensorsError extends LabError {
  constructor(
    readonly file: string,
    message: string,
    hint = 'The file is damaged or not a safetensors file: download it again or re-save it with safetensors.',
  ) {
    super('SafetensorsError', `${file}: ${message}`, hint);
  }
}

/** The checkpoint's tensors disagree with config.json (missing tensor, wrong shape, unknown tensor). */
export class TensorMismatchError extends LabError {
  constructor(
    readonly problems: readonly string[],
    source: string,
  ) {
    super(
      'TensorMismatchError',
      `The weights of ${source} do not match config.json:\n  ${problems.join('\n  ')}`,
      'config.json and the weights must come from the same model; load the folder exactly as published.',
    );
  }
}

/** tokenizer.json / tokenizer_config.json do not load. */
export class TokenizerError extends LabError {
  constructor(
    readonly file: string,
    message: string,
    hint = 'Use the tokenizer files published with the model (tokenizer.json and tokenizer_config.json).',
  ) {
    super('TokenizerError', `${file}: ${message}`, hint);
  }
}

/** A PEFT adapter (adapter_config.json + adapter_model.safetensors) is malformed or unsupported. */
export class PeftAdapterError extends LabError {
  constructor(
    readonly file: string,
    message: string,
    hint = 'Only plain LoRA adapters (PEFT, bias "none", no DoRA, no modules_to_save) on q/k/v/o/gate/up/down projections are supported.',
  ) {
    super('PeftAdapterError', `${file}: ${message}`, hint);
  }
}

/** A file the model needs is not in the source (HTTP 404, absent from the folder). */
export class MissingFileError extends LabError {
  constructor(
    readonly file: string,
    readonly source: string,
    hint = 'Check the repository id, revision or folder: it must hold config.json, the tokenizer files and the weights.',
  ) {
    super('MissingFileError', `${file} is not in ${source}.`, hint);
  }
}

/** A download failed: HTTP error, connection lost, or fewer bytes than announced. */
export class DownloadError extends LabError {
  constructor(
    readonly file: string,
    readonly position: number,
    readonly totalBytes: number | null,
    reason: string,
    hint = 'Check the connection and load the model again; nothing partial was kept in the cache.',
  ) {
    const where = totalBytes === null ? `at byte ${position}` : `at byte ${position} of ${totalBytes}`;
    super('DownloadError', `Download of ${file} failed ${where}: ${reason}`, hint);
  }
}

/** Downloaded or cached bytes do not match their announced size or SHA-256. */
export class IntegrityError extends LabError {
  constructor(
    readonly file: string,
    message: string,
    hint = 'The bytes were discarded and are not used; load the model again to download a fresh copy.',
  ) {
    super('IntegrityError', `${file}: ${message}`, hint);
  }
}
