// Long rendered text shown clipped in previews: a prompt by its end (what the model reads last),
// a response by its start.

/** The last `max` characters of `text`, after an ellipsis when cut. */
export function clipStart(text: string, max: number): string {
  return text.length > max ? `…${text.slice(-max)}` : text;
}

/** The first `max` characters of `text`, with an ellipsis when cut. */
export function clipEnd(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}
