// Incremental parser for server-sent events (the text/event-stream format of streamed chat
// completions). Chunks may split lines anywhere, lines may end in \n, \r\n or \r, comment lines
// (":" keep-alives) are skipped, and several `data:` lines of one event are joined with "\n".

export interface SseEvent {
  /** The `event:` field, "message" when absent. */
  event: string;
  data: string;
}

export class SseParser {
  private buffer = '';
  private data: string[] = [];
  private event = '';

  constructor(private readonly onEvent: (event: SseEvent) => void) {}

  /** Feed decoded text; complete events are dispatched, the rest is kept. */
  push(text: string): void {
    this.buffer += text;
    let start = 0;
    for (;;) {
      const cr = this.buffer.indexOf('\r', start);
      const lf = this.buffer.indexOf('\n', start);
      const end = cr < 0 ? lf : lf < 0 ? cr : Math.min(cr, lf);
      if (end < 0) break;
      // A \r at the very end may be the first half of \r\n: wait for the next chunk.
      if (end === cr && cr === this.buffer.length - 1) break;
      this.line(this.buffer.slice(start, end));
      start = end + (end === cr && this.buffer[cr + 1] === '\n' ? 2 : 1);
    }
    this.buffer = this.buffer.slice(start);
  }

  /** The stream ended: a last unterminated line and a pending event are dispatched. */
  end(): void {
    if (this.buffer.length > 0) {
      this.line(this.buffer.replace(/\r$/, ''));
      this.buffer = '';
    }
    this.dispatch();
  }

  private line(line: string): void {
    if (line === '') {
      this.dispatch();
      return;
    }
    if (line.startsWith(':')) return;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') this.data.push(value);
    else if (field === 'event') this.event = value;
  }

  private dispatch(): void {
    if (this.data.length > 0) this.onEvent({ event: this.event || 'message', data: this.data.join('\n') });
    this.data = [];
    this.event = '';
  }
}
