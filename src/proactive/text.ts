// Counting words and sentences the same way everywhere (the Engagement rule, the scenario word
// limits) and reducing text to content words (the local target-density estimate).
//
// Words: whitespace-separated tokens that contain at least one letter or digit ("don't" and
// "well-known" are one word each; "—" and emoji are not words).
//
// Sentences: a line break ends a sentence; inside a line a sentence ends at a run of . ! ? or …
// (optionally followed by closing quotes or brackets) that is followed by whitespace or the end of
// the line. A "." after a common abbreviation (e.g., Dr., etc.) or a single capital initial does
// not end a sentence, and a "." between digits (3.5) never does. A piece counts as a sentence only
// if it has a letter or digit, so "Hi! 😊" is one sentence.

const WORDLIKE = /[\p{L}\p{N}]/u;

export function countWords(text: string): number {
  let n = 0;
  for (const token of text.split(/\s+/)) if (WORDLIKE.test(token)) n++;
  return n;
}

const ABBREVIATIONS = new Set([
  'e.g', 'i.e', 'etc', 'vs', 'mr', 'mrs', 'ms', 'dr', 'prof', 'st', 'jr', 'sr', 'approx', 'fig', 'a.m', 'p.m',
]);

/** The sentences of a text (trimmed), per the rule in the file header. */
export function splitSentences(text: string): string[] {
  const sentences: string[] = [];
  for (const line of text.split(/\r\n|\r|\n/)) {
    const end = /[.!?…]+["'”’)\]*_]*(?=\s|$)/gu;
    let start = 0;
    for (let m = end.exec(line); m; m = end.exec(line)) {
      if (m[0] === '.') {
        const lastWord = (line.slice(start, m.index).match(/(\S+)$/)?.[1] ?? '').replace(/^[("'“‘]+/, '');
        if (ABBREVIATIONS.has(lastWord.toLowerCase()) || /^\p{Lu}$/u.test(lastWord)) continue;
      }
      push(sentences, line.slice(start, m.index + m[0].length));
      start = m.index + m[0].length;
    }
    push(sentences, line.slice(start));
  }
  return sentences;
}

function push(out: string[], piece: string): void {
  const trimmed = piece.trim();
  if (WORDLIKE.test(trimmed)) out.push(trimmed);
}

export function countSentences(text: string): number {
  return splitSentences(text).length;
}

const STOPWORDS = new Set(
  (
    'a an the and or but if then so to of in on at by for with from into onto about as is are was were be been being am do does did ' +
    'have has had having i me my mine you your yours he him his she her hers it its we us our they them their this that these those ' +
    'there here what which who whom whose when where why how not no yes can could will would shall should may might must just also ' +
    'very more most some any all each every both few other such only own same than too up down out over under again once off ' +
    'let lets get make made take give go going want need like would one two new now still even much many well really ' +
    // generic verbs of sub-targets, they say nothing about the content
    'user users suggest suggests recommend recommends encourage encourages ask asks help helps offer offers propose mention explain ' +
    'remind invite share discuss confirm clarify check ensure provide point'
  ).split(/\s+/),
);

/** Lower-cased, lightly stemmed content words (stopwords and generic sub-target verbs removed). */
export function contentWords(text: string): Set<string> {
  const out = new Set<string>();
  for (const raw of text.toLowerCase().split(/[^\p{L}\p{N}']+/u)) {
    const word = raw.replace(/'s$/, '').replace(/'/g, '');
    if (word.length < 2 || STOPWORDS.has(word)) continue;
    out.add(stem(word));
  }
  return out;
}

/** A crude suffix stripper: enough to match "classes"/"class" and "booking"/"book". */
function stem(word: string): string {
  if (word.length <= 4) return word;
  for (const suffix of ['ing', 'ies', 'ed', 'es', 's']) {
    if (word.endsWith(suffix) && word.length - suffix.length >= 3) return suffix === 'ies' ? `${word.slice(0, -3)}y` : word.slice(0, -suffix.length);
  }
  return word;
}
