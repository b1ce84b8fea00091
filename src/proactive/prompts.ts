// Every prompt of the lab's ProactiveEval, in one place. All texts are ours. Each template has an
// id and a version; a person may edit a template (the edit is persisted in the `prompts` store and
// gets its own version, `<base>+edit.<fingerprint>`), and every result records the ids, versions
// and texts it was made with. Placeholders are `{{name}}`; a template may only use the variables
// listed for it.
import { LabError } from '../engine/errors.ts';
import { fingerprint } from './hash.ts';

export const PROMPT_IDS = [
  'planning.model',
  'planning.judge',
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
] as const;

export type PromptId = (typeof PROMPT_IDS)[number];

export interface PromptTemplate {
  id: PromptId;
  version: string;
  title: string;
  /** The placeholders this template may use. */
  variables: readonly string[];
  text: string;
}

const SITUATION = ['domain_name', 'domain_description', 'user_information', 'trigger_factor'] as const;

const TEMPLATES: readonly PromptTemplate[] = [
  {
    id: 'planning.model',
    version: '1',
    title: 'Target planning: the model plans a target and sub-targets',
    variables: SITUATION,
    text: `You are a proactive assistant. You are about to start a conversation with a user on your own initiative, and first you must decide what that conversation should achieve.

Domain: {{domain_name}}. {{domain_description}}

What you know about the user:
{{user_information}}

Why you are speaking up now:
{{trigger_factor}}

Plan the conversation. Choose one target: the concrete action or outcome you will lead the user to (at most 10 words). Then break it into 2 to 4 sub-targets: the steps the conversation should pass through on the way, in order (each at most 10 words). Build the plan on the details above, including the ones that are only implied, and ignore details that do not matter.

Answer with only this JSON object:
{"target": "...", "sub_targets": ["...", "..."]}`,
  },
  {
    id: 'planning.judge',
    version: '1',
    title: 'Target planning: the judge compares the plan with the reference (1–10)',
    variables: [...SITUATION, 'reference_target', 'reference_sub_targets', 'candidate_target', 'candidate_sub_targets'],
    text: `You are grading how well an assistant planned a proactive conversation.

The assistant works in the domain "{{domain_name}}": {{domain_description}}

It was given this situation.
User information:
{{user_information}}

Trigger (why the assistant speaks now):
{{trigger_factor}}

From the situation the assistant had to choose a target (the outcome it will lead the user to) and sub-targets (the steps toward it).

Reference plan, written and checked by people:
Target: {{reference_target}}
Sub-targets:
{{reference_sub_targets}}

The assistant's plan:
Target: {{candidate_target}}
Sub-targets:
{{candidate_sub_targets}}

Compare the two plans. Judge whether the assistant's target serves the real need the situation points to, as the reference does; whether it is specific and actionable; and whether its sub-targets lead to it sensibly. Wording does not matter, substance does. A plan that differs from the reference but serves the user as well or better deserves full marks.

Score with one integer:
- 10: as good as the reference, or better.
- 7 to 9: the same need, but a weaker, vaguer or partly misdirected plan.
- 4 to 6: meets the need only in part, or misses an important detail of the situation.
- 1 to 3: misses the need, or is generic advice that ignores the situation.

First write your reason in 3 to 4 sentences, then the score. Answer with only this JSON object:
{"reason": "...", "score": <integer from 1 to 10>}`,
  },
  {
    id: 'guidance.model',
    version: '1',
    title: 'Dialogue guidance: system prompt of the model under test',
    variables: [...SITUATION, 'target', 'sub_targets'],
    text: `You are a proactive assistant. You open a conversation with a user and steer it toward a goal you chose yourself.

Domain: {{domain_name}}. {{domain_description}}

What you know about the user:
{{user_information}}

Why you are speaking up now:
{{trigger_factor}}

Your goal for this conversation: {{target}}
Steps to pass through on the way:
{{sub_targets}}

How to talk:
- Lead. Open with something concrete that connects to the user's situation, and move the conversation forward with every message.
- Go step by step: one step per message, answer what the user just said, and keep the goal in sight until you reach it.
- Keep every message short: at most 2 sentences or 50 words.
- Make it personal: use what you know about the user instead of generic advice.
- Sound like a person chatting online. Do not start with phrases like "It sounds like" or "I understand that".
- Never mention goals, steps, targets, turns or these instructions, and write only your own message, never the user's reply.`,
  },
  {
    id: 'guidance.start',
    version: '1',
    title: 'Dialogue guidance: the cue that asks the model for its opening message',
    variables: [],
    text: '(The user has not said anything yet. Write your opening message to them.)',
  },
  {
    id: 'user.simulator',
    version: '1',
    title: 'Simulated user: system prompt',
    variables: ['user_information', 'trigger_factor', 'agreeableness', 'agreeableness_description'],
    text: `You are role-playing a person who is chatting with an AI assistant. Stay in character the whole time.

Who you are:
{{user_information}}

The situation right now:
{{trigger_factor}}

Your attitude ({{agreeableness}} agreeableness): {{agreeableness_description}}

The assistant speaks first; reply to each of its messages as this person would. Write only your own reply, in one or two short sentences, casually, like a chat message. Never say that you are an AI or that this is a role-play.`,
  },
  {
    id: 'user.agreeableness.low',
    version: '1',
    title: 'Simulated user: low agreeableness',
    variables: [],
    text: "You are sceptical and hard to persuade. You question the assistant's suggestions, push back or change the subject, and go along with something only after the assistant has answered your objections with reasons that fit your situation.",
  },
  {
    id: 'user.agreeableness.medium',
    version: '1',
    title: 'Simulated user: medium agreeableness',
    variables: [],
    text: "You are open but not easily led. You engage with the assistant's suggestions, ask about details and raise a concern now and then, and agree when a suggestion makes sense for you.",
  },
  {
    id: 'user.agreeableness.high',
    version: '1',
    title: 'Simulated user: high agreeableness',
    variables: [],
    text: "You are friendly and cooperative. You answer the assistant's questions readily and are happy to follow suggestions that seem reasonable to you.",
  },
  {
    id: 'guidance.check',
    version: '1',
    title: 'Dialogue guidance: has the target been reached? (after each turn)',
    variables: ['target', 'sub_targets', 'dialogue'],
    text: `Read a conversation in which an assistant tries to lead a user toward a goal.

Goal: {{target}}
Steps toward it:
{{sub_targets}}

Conversation so far:
{{dialogue}}

Has the goal been reached? It is reached when the user has agreed to it or committed to it, or when it has clearly been accomplished in the conversation; covering some of the steps is not enough. Answer with only this JSON object:
{"reached": true} or {"reached": false}`,
  },
  {
    id: 'guidance.judge',
    version: '1',
    title: 'Dialogue guidance: the judge scores the whole dialogue (1–10, five criteria)',
    variables: [...SITUATION, 'target', 'sub_targets', 'dialogue'],
    text: `You are grading a conversation in which an assistant proactively guides a user toward a goal.

Domain: {{domain_name}}. {{domain_description}}

User information:
{{user_information}}

Trigger (why the assistant spoke up):
{{trigger_factor}}

The assistant's goal: {{target}}
Steps toward it:
{{sub_targets}}

Conversation:
{{dialogue}}

Start from 10 and take off 2 to 4 points for each of these criteria that the assistant fails (never go below 1):
1. Effectiveness: it works toward the steps and the goal over several messages instead of putting everything into one, and it reaches the goal.
2. Personalization: it uses what it knows about this user instead of generic advice.
3. Tone: it is active and leading; it does not open with passive phrases such as "It sounds like..." or "I understand...".
4. Engagement: every assistant message has at most 2 sentences or at most 50 words.
5. Naturalness: it reads like an online chat; it never mentions goals, targets, steps or turn numbers, and never writes several turns (or the user's lines) in one message.

First write a short thought (at most 100 words) on which criteria hold, then the score. Answer with only this JSON object:
{"thought": "...", "score": <integer from 1 to 10>}`,
  },
  {
    id: 'guidance.density',
    version: '1',
    title: 'Dialogue guidance: which sub-targets each assistant message touches (target density)',
    variables: ['sub_targets', 'messages', 'message_count'],
    text: `Below are the numbered steps of an assistant's plan and the numbered messages the assistant sent in a conversation.

Steps:
{{sub_targets}}

Assistant messages:
{{messages}}

For each message, list the numbers of the steps it works on (mentions, asks about or advances). A message may touch no step, one step or several. Answer with only a JSON object holding {{message_count}} lists, one per message, in order; for example, for three messages:
{"touched": [[1], [1, 2], []]}`,
  },
  {
    id: 'judge.retry',
    version: '1',
    title: 'Any judge: the follow-up when its answer could not be read',
    variables: ['problem'],
    text: 'Your answer could not be used: {{problem}}. Answer again with only the JSON object described above.',
  },
];

export const PROMPT_TEMPLATES: Readonly<Record<PromptId, PromptTemplate>> = Object.fromEntries(TEMPLATES.map((t) => [t.id, t])) as Record<PromptId, PromptTemplate>;

/** The text a result was made with: template id, version and the exact text. */
export interface PromptSnapshot {
  id: PromptId;
  version: string;
  text: string;
  edited: boolean;
}

export type PromptSet = Readonly<Record<PromptId, PromptSnapshot>>;

export class PromptTemplateError extends LabError {
  constructor(message: string, hint?: string) {
    super('PromptTemplateError', message, hint);
  }
}

const PLACEHOLDER = /\{\{\s*([a-z_]+)\s*\}\}/g;

/** Placeholders an edited text uses that its template does not provide, and provided ones it dropped. */
export function checkTemplate(id: PromptId, text: string): { unknown: string[]; unused: string[] } {
  const used = new Set([...text.matchAll(PLACEHOLDER)].map((m) => m[1]));
  const allowed = PROMPT_TEMPLATES[id].variables;
  return { unknown: [...used].filter((v) => !allowed.includes(v)), unused: allowed.filter((v) => !used.has(v)) };
}

/** The version an edited text gets: stable for the same text on the same base version. */
export function editedVersion(id: PromptId, text: string): string {
  return `${PROMPT_TEMPLATES[id].version}+edit.${fingerprint(text)}`;
}

/** The built-in templates with the person's edits applied (an edit equal to the default is no edit). */
export function promptSet(edits: Partial<Record<PromptId, string>> = {}): PromptSet {
  const out = {} as Record<PromptId, PromptSnapshot>;
  for (const id of PROMPT_IDS) {
    const base = PROMPT_TEMPLATES[id];
    const text = edits[id];
    if (text === undefined || text === base.text) {
      out[id] = { id, version: base.version, text: base.text, edited: false };
      continue;
    }
    const { unknown } = checkTemplate(id, text);
    if (unknown.length > 0) {
      throw new PromptTemplateError(
        `The edited prompt "${id}" uses ${unknown.map((v) => `{{${v}}}`).join(', ')}, which it cannot be given.`,
        `Its placeholders: ${base.variables.map((v) => `{{${v}}}`).join(', ') || '(none)'}.`,
      );
    }
    out[id] = { id, version: editedVersion(id, text), text, edited: true };
  }
  return out;
}

/** Fills a template; every placeholder must have a value. */
export function renderPrompt(set: PromptSet, id: PromptId, vars: Readonly<Record<string, string>> = {}): string {
  const snapshot = set[id];
  return snapshot.text.replace(PLACEHOLDER, (_, name: string) => {
    const value = vars[name];
    if (value === undefined) {
      throw new PromptTemplateError(`Prompt "${id}" (version ${snapshot.version}) uses {{${name}}}, which this step does not provide.`);
    }
    return value;
  });
}

/** A numbered list ("1. …" lines), the way lists are put into prompts. */
export function numbered(lines: readonly string[]): string {
  return lines.length === 0 ? '(none)' : lines.map((line, i) => `${i + 1}. ${line}`).join('\n');
}
