import { describe, expect, it } from 'vitest';
import { sourceName } from '../../../src/formats/source-name.ts';
import { BrowserFilesSource, hubSource, sourceFromString } from '../../../src/formats/source.ts';

const name = (text: string) => sourceName(sourceFromString(text));

describe('sourceName', () => {
  it('keeps repo ids as they are typed, with a revision other than main', () => {
    expect(name('HuggingFaceTB/SmolLM2-135M-Instruct')).toBe('HuggingFaceTB/SmolLM2-135M-Instruct');
    expect(sourceName(hubSource('org/model', { revision: 'v2' }))).toBe('org/model@v2');
    expect(name('https://huggingface.co/org/model/tree/main')).toBe('org/model');
  });

  it('names a model folder URL by its last two folders, not by its whole address', () => {
    expect(name('http://127.0.0.1:38907/lab/demo/models/student/')).toBe('models/student');
    expect(name('https://example.org/checkpoints/run-3/step-500')).toBe('run-3/step-500');
    expect(name('http://localhost:8000/llama/')).toBe('llama');
    expect(name('https://models.example.org/my%20student/')).toBe('my student');
    expect(name('https://example.org/runs/50%zz/')).toBe('runs/50%zz');
    expect(name('http://127.0.0.1:8000/')).toBe('127.0.0.1:8000');
  });

  it('names a hub-style URL on another host by its repo id', () => {
    expect(name('http://localhost:4000/fixtures/llama/resolve/main/')).toBe('fixtures/llama');
    expect(name('https://mirror.example.org/hub/org/model/tree/v1.0/')).toBe('org/model@v1.0');
  });

  it('names a local folder by its folder name', () => {
    expect(sourceName(new BrowserFilesSource([{ path: 'qwen3/config.json', file: new File(['{}'], 'config.json') }]))).toBe('qwen3');
  });
});
