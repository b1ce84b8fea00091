// Dialogue guidance: the model opens and steers a user (simulated at an agreeableness level, or a
// person through a callback) toward the target. At most `maxTurns` turns (a turn = assistant
// message + user reply); the model sees only the last `memoryTurns` complete turns; after each
// turn a completion check may end the dialogue early. Then the guidance judge (1–10, a thought
// first), the judge-counted target density, and the local rule checks.
import type { ChatBackend, ChatMessage } from '../llm/chat.ts';
import { stripThinking } from './json-extract.ts';
import { situationVariables, toOutcome, type JudgeOutcome } from './planning.ts';
import { numbered, renderPrompt, type PromptId, type PromptSet } from './prompts.ts';
import { estimateDensity, localJudge, type LocalJudgement } from './rules.ts';
import type { Scenario } from './schema.ts';
import { askStructured, parseReached, parseScore, parseTouched, type Attempt } from './structured.ts';

export const AGREEABLENESS = ['low', 'medium', 'high'] as const;
export type Agreeableness = (typeof AGREEABLENESS)[number];

export const MAX_TURNS = 6;
export const MEMORY_TURNS = 3;

export const GUIDANCE_PROMPTS: readonly PromptId[] = [
  'guidance.model',
  'guidance.start',
  'user.simulator',
  'user.agreeableness.low',
  'user.agreeableness.medium',
  'user.agreeableness.high',
  'guidance.check',
  'guidance.judge',
  'guidance.density',
  'judge.retry',
];

/** The environment and the goal the model is given (the reference target unless a plan replaces it). */
export interface GuidanceSetup {
  scenario: Scenario;
  target: string;
  subTargets: string[];
}

export function referenceSetup(scenario: Scenario): GuidanceSetup {
  return { scenario, target: scenario.item.target, subTargets: [...scenario.item.sub_target] };
}

export interface CompletionCheck {
  /** null when the check's answer could not be read (the dialogue then continues). */
  reached: boolean | null;
  attempts: Attempt[];
}

export interface DialogueTurn {
  assistant: string;
  /** null when the person ended the conversation instead of replying. */
  user: string | null;
  check?: CompletionCheck;
}

export interface UserReplyRequest {
  /** Completed turns before this one. */
  turns: readonly DialogueTurn[];
  /** The assistant message to answer. */
  assistant: string;
  signal?: AbortSignal;
  onToken?: (delta: string) => void;
}

/** Who answers the model: a simulated user or the person at the keyboard. */
export interface UserResponder {
  readonly kind: 'simulated' | 'human';
  readonly label: string;
  /** The reply, or null to end the conversation. */
  reply(request: UserReplyRequest): Promise<string | null>;
}

/** A simulated user: it sees the whole conversation (from its side), its profile and its agreeableness, never the target. */
export function simulatedUser(backend: ChatBackend, prompts: PromptSet, scenario: Scenario, agreeableness: Agreeableness): UserResponder {
  const system = renderPrompt(prompts, 'user.simulator', {
    user_information: scenario.item.environment.user_information,
    trigger_factor: scenario.item.environment.trigger_factor,
    agreeableness,
    agreeableness_description: renderPrompt(prompts, `user.agreeableness.${agreeableness}`),
  });
  return {
    kind: 'simulated',
    label: `${backend.label} (${agreeableness} agreeableness)`,
    async reply({ turns, assistant, signal, onToken }) {
      const messages: ChatMessage[] = [{ role: 'system', content: system }];
      for (const turn of turns) {
        messages.push({ role: 'user', content: turn.assistant });
        if (turn.user !== null) messages.push({ role: 'assistant', content: turn.user });
      }
      messages.push({ role: 'user', content: assistant });
      const { text } = await backend.chat(messages, { temperature: 0, signal, onToken });
      return stripThinking(text);
    },
  };
}

/** The person at the keyboard: `waitForInput` resolves with their reply (null ends the conversation). */
export function humanUser(waitForInput: (request: UserReplyRequest) => Promise<string | null>, label = 'you'): UserResponder {
  return { kind: 'human', label, reply: waitForInput };
}

/** The messages the model is sent before turn `turns.length + 1`: system, the opening cue, the last `memoryTurns` turns. */
export function modelMessages(setup: GuidanceSetup, prompts: PromptSet, turns: readonly DialogueTurn[], memoryTurns = MEMORY_TURNS): ChatMessage[] {
  const messages: ChatMessage[] = [
    {
      role: 'system',
      content: renderPrompt(prompts, 'guidance.model', { ...situationVariables(setup.scenario), target: setup.target, sub_targets: numbered(setup.subTargets) }),
    },
    // Chat templates want a user message before the first assistant one; the model speaks first.
    { role: 'user', content: renderPrompt(prompts, 'guidance.start') },
  ];
  for (const turn of turns.slice(Math.max(0, turns.length - memoryTurns))) {
    messages.push({ role: 'assistant', content: turn.assistant });
    if (turn.user !== null) messages.push({ role: 'user', content: turn.user });
  }
  return messages;
}

/** The conversation as the checks and the judge read it. */
export function transcript(turns: readonly DialogueTurn[]): string {
  return turns.flatMap((t) => [`Assistant: ${t.assistant}`, ...(t.user !== null ? [`User: ${t.user}`] : [])]).join('\n');
}

export type DialogueEvent =
  | { type: 'assistant-delta'; turn: number; delta: string }
  | { type: 'assistant'; turn: number; text: string }
  | { type: 'user-delta'; turn: number; delta: string }
  | { type: 'user'; turn: number; text: string | null }
  | { type: 'check'; turn: number; check: CompletionCheck };

export interface DialogueOptions {
  model: ChatBackend;
  user: UserResponder;
  /** Decides after each turn whether the target is reached; without one the dialogue runs to the cap. */
  checker?: ChatBackend;
  prompts: PromptSet;
  maxTurns?: number;
  memoryTurns?: number;
  temperature?: number;
  maxTokens?: number;
  /** Retries of an unreadable completion-check answer. */
  checkRetries?: number;
  signal?: AbortSignal;
  onEvent?: (event: DialogueEvent) => void;
}

export interface Dialogue {
  turns: DialogueTurn[];
  /** Why it ended. */
  endedBy: 'target-reached' | 'turn-limit' | 'user-ended';
}

export async function runDialogue(setup: GuidanceSetup, options: DialogueOptions): Promise<Dialogue> {
  const maxTurns = options.maxTurns ?? MAX_TURNS;
  const turns: DialogueTurn[] = [];
  const emit = options.onEvent ?? (() => undefined);
  for (let n = 1; n <= maxTurns; n++) {
    const reply = await options.model.chat(modelMessages(setup, options.prompts, turns, options.memoryTurns), {
      temperature: options.temperature ?? 0,
      maxTokens: options.maxTokens,
      signal: options.signal,
      onToken: (delta) => emit({ type: 'assistant-delta', turn: n, delta }),
    });
    const assistant = stripThinking(reply.text);
    emit({ type: 'assistant', turn: n, text: assistant });
    const user = await options.user.reply({ turns, assistant, signal: options.signal, onToken: (delta) => emit({ type: 'user-delta', turn: n, delta }) });
    emit({ type: 'user', turn: n, text: user });
    const turn: DialogueTurn = { assistant, user };
    turns.push(turn);
    if (user === null) return { turns, endedBy: 'user-ended' };
    if (options.checker) {
      const prompt = renderPrompt(options.prompts, 'guidance.check', { target: setup.target, sub_targets: numbered(setup.subTargets), dialogue: transcript(turns) });
      const answer = await askStructured(options.checker, [{ role: 'user', content: prompt }], parseReached, options.prompts, {
        retries: options.checkRetries,
        signal: options.signal,
      });
      turn.check = { reached: answer.ok ? answer.value : null, attempts: answer.attempts };
      emit({ type: 'check', turn: n, check: turn.check });
      if (answer.ok && answer.value) return { turns, endedBy: 'target-reached' };
    }
  }
  return { turns, endedBy: 'turn-limit' };
}

export interface DensityResult {
  /** Sub-target numbers touched, one list per assistant message. */
  touched: number[][];
  /** 'judge' when the judge counted, else the local word-overlap estimate. */
  method: 'judge' | 'local-word-overlap';
  /** Set when the judge was asked but its answer was unusable (the local estimate is then given). */
  judgeError?: string;
  attempts?: Attempt[];
}

export interface GuidanceScores {
  judge: JudgeOutcome | null;
  density: DensityResult;
  local: LocalJudgement;
}

export interface ScoreOptions {
  judge?: ChatBackend;
  prompts: PromptSet;
  judgeRetries?: number;
  /** Ask the judge for the per-message density (default true when a judge is set). */
  judgeDensity?: boolean;
  signal?: AbortSignal;
}

/** Scores a finished dialogue: the judge (if any), target density, and the local rule checks. */
export async function scoreDialogue(setup: GuidanceSetup, dialogue: Dialogue, options: ScoreOptions): Promise<GuidanceScores> {
  const assistantMessages = dialogue.turns.map((t) => t.assistant);
  const local = localJudge(assistantMessages);
  const localDensity: DensityResult = { touched: assistantMessages.map((m) => estimateDensity(m, setup.subTargets).touched), method: 'local-word-overlap' };
  if (!options.judge) return { judge: null, density: localDensity, local };
  const ask = { retries: options.judgeRetries, signal: options.signal };
  const judgePrompt = renderPrompt(options.prompts, 'guidance.judge', {
    ...situationVariables(setup.scenario),
    target: setup.target,
    sub_targets: numbered(setup.subTargets),
    dialogue: transcript(dialogue.turns),
  });
  const verdict = await askStructured(options.judge, [{ role: 'user', content: judgePrompt }], (t) => parseScore(t, /^(thought|thoughts|reason|reasoning|analysis)$/i), options.prompts, ask);
  let density = localDensity;
  if (options.judgeDensity !== false && assistantMessages.length > 0 && setup.subTargets.length > 0) {
    const densityPrompt = renderPrompt(options.prompts, 'guidance.density', {
      sub_targets: numbered(setup.subTargets),
      messages: numbered(assistantMessages),
      message_count: String(assistantMessages.length),
    });
    const counted = await askStructured(
      options.judge,
      [{ role: 'user', content: densityPrompt }],
      (t) => parseTouched(t, assistantMessages.length, setup.subTargets.length),
      options.prompts,
      ask,
    );
    density = counted.ok
      ? { touched: counted.value, method: 'judge', attempts: counted.attempts }
      : { ...localDensity, judgeError: counted.error, attempts: counted.attempts };
  }
  return { judge: toOutcome(verdict), density, local };
}
