// Named errors of the engine. Comlink keeps only `name`, `message` and `stack` across the worker
// boundary, so `name` is stable and the message carries the hint.

export class LabError extends Error {
  constructor(name: string, message: string, hint?: string) {
    super(hint ? `${message}\nHint: ${hint}` : message);
    this.name = name;
  }
}

export class WebGpuUnavailableError extends LabError {
  constructor(message: string, hint?: string) {
    super('WebGpuUnavailableError', message, hint);
  }
}

export class AdapterRequestError extends LabError {
  constructor(message: string, hint?: string) {
    super('AdapterRequestError', message, hint);
  }
}

export class AllocationError extends LabError {
  constructor(message: string, hint?: string) {
    super('AllocationError', message, hint);
  }
}

export class ShapeError extends LabError {
  constructor(message: string, hint?: string) {
    super('ShapeError', message, hint);
  }
}

export class GpuValidationError extends LabError {
  constructor(message: string, hint?: string) {
    super('GpuValidationError', message, hint);
  }
}

export class DeviceLostError extends LabError {
  constructor(message: string, hint?: string) {
    super('DeviceLostError', message, hint);
  }
}

/** A request stopped by `cancel(requestId)` (see src/engine/api.ts). */
export class CancelledError extends LabError {
  constructor(message: string, hint?: string) {
    super('CancelledError', message, hint);
  }
}
