import { describe, expect, it } from 'vitest';
import { SseParser, type SseEvent } from '../../../src/llm/sse.ts';

function parseInPieces(text: string, cut: number[]): SseEvent[] {
  const events: SseEvent[] = [];
  const parser = new SseParser((e) => events.push(e));
  let at = 0;
  for (const c of [...cut, text.length]) {
    parser.push(text.slice(at, c));
    at = c;
  }
  parser.end();
  return events;
}

const STREAM =
  ': keep-alive\r\n\r\n' +
  'data: {"a":1}\r\n\r\n' +
  'event: note\ndata:first line\ndata: second line\n\n' +
  'data: crlf one\r\ndata: crlf two\r\n\r\n' +
  ':ping\n\n' +
  'data: [DONE]\r\r' +
  'data: trailing without blank line';

const EXPECTED: SseEvent[] = [
  { event: 'message', data: '{"a":1}' },
  { event: 'note', data: 'first line\nsecond line' },
  { event: 'message', data: 'crlf one\ncrlf two' },
  { event: 'message', data: '[DONE]' },
  { event: 'message', data: 'trailing without blank line' },
];

describe('SseParser', () => {
  it('reads events, comments, multi-line data and every line ending in one piece', () => {
    expect(parseInPieces(STREAM, [])).toEqual(EXPECTED);
  });

  it('gives the same events however the stream is cut (every single cut point, incl. inside \\r\\n)', () => {
    for (let cut = 1; cut < STREAM.length; cut++) {
      expect(parseInPieces(STREAM, [cut]), `cut at ${cut}`).toEqual(EXPECTED);
    }
  });

  it('gives the same events when fed one character at a time', () => {
    expect(parseInPieces(STREAM, Array.from({ length: STREAM.length - 1 }, (_, i) => i + 1))).toEqual(EXPECTED);
  });

  it('ignores empty events and fields it does not know', () => {
    expect(parseInPieces('\n\nid: 3\nretry: 100\n\ndata\n\n', [])).toEqual([{ event: 'message', data: '' }]);
  });
});
