import { describe, expect, it } from 'vitest';
import { clipEnd, clipStart } from '../../../src/app/components/clip.ts';

describe('preview clipping', () => {
  it('keeps short text whole and cuts long text at the end that matters, marking the cut', () => {
    expect(clipStart('abcdef', 6)).toBe('abcdef');
    expect(clipEnd('abcdef', 6)).toBe('abcdef');
    expect(clipStart('abcdefgh', 3)).toBe('…fgh');
    expect(clipEnd('abcdefgh', 3)).toBe('abc…');
  });
});
