// Long-term Follow-up: some time after an earlier talk about a lasting situation, the assistant checks
// in and leads the user to one concrete next step.
import { GENERAL_HABITS } from './common.ts';
import type { DemoDomain } from './types.ts';

export const longTermFollowUp: DemoDomain = {
  key: 'long-term_follow_up',
  topics: [
    {
      id: 'knee',
      slots: { earlier: '{name} told you about knee pain after running', issue: 'your knee', subject: 'knee pain', next: 'book a visit with a physio', why: 'a physio can find the cause early', plan: 'a visit to the physio on Park Street' },
    },
    {
      id: 'spanish',
      slots: { earlier: '{name} started learning Spanish for a trip', issue: 'your Spanish', subject: 'learning Spanish', next: 'set a daily practice of ten minutes', why: 'short daily practice sticks better than long sessions', plan: 'ten minutes of Spanish with your morning coffee' },
    },
    {
      id: 'shifts',
      slots: { earlier: '{name} felt stressed about new shifts at {work}', issue: 'the new shifts', subject: 'stress about new shifts', next: 'plan a fixed quiet hour before bed', why: 'a steady routine makes shift changes easier', plan: 'one quiet hour before bed, with no screens' },
    },
    {
      id: 'savings',
      slots: { earlier: '{name} said they were saving for a new bike', issue: 'your bike savings', subject: 'saving for a bike', next: 'set up an automatic weekly transfer', why: 'money you never see is easier to save', plan: 'a transfer of twenty pounds every Friday' },
    },
    {
      id: 'race',
      slots: { earlier: '{name} signed up for a 10k race', issue: 'your 10k training', subject: 'training for a 10k', next: 'add one slow long run each week', why: 'slow long runs build the base you need', plan: 'a slow run of five kilometres' },
    },
    {
      id: 'sleep',
      slots: { earlier: '{name} mentioned trouble falling asleep', issue: 'your sleep', subject: 'trouble sleeping', next: 'keep a fixed bedtime for a week', why: 'the body likes a regular rhythm', plan: 'lights out at eleven every night' },
    },
    {
      id: 'move',
      slots: { earlier: '{name} moved into a new flat', issue: 'the move', subject: 'settling into a new flat', next: 'unpack one box each evening', why: 'small steps keep the mess from piling up', plan: 'one box after dinner each evening' },
    },
    {
      id: 'puppy',
      slots: { earlier: '{name} got a new puppy', issue: 'the puppy', subject: 'a new puppy', next: 'book a puppy training class', why: 'early training makes walks much easier', plan: 'the Saturday puppy class in the park' },
    },
  ],
  groups: [[{ ago: 'two weeks ago' }, { ago: 'last month' }, { ago: 'ten days ago' }, { ago: 'three weeks ago' }]],
  habits: GENERAL_HABITS,
  trigger: ['{Ago}, {earlier}.', 'You remember that {ago} {earlier}.'],
  goal: 'Help {name} {next}',
  subTargets: ['Check in about {subject}', 'Suggest to {next}', 'Agree on a first small step'],
  topic: 'Follow-up: {subject}',
  opener: [
    'Hi {name}, {ago} you told me about {issue}. How is it going now?',
    '{name}, checking in on {issue}: how have things been since we talked {ago}?',
    'Hey {name}, I have been thinking about {issue}. Is it any better now, with all your days at {work}?',
    '{name}, {ago} we talked about {issue}. How are things, and are you still {habit}?',
  ],
  replies: [
    {
      yes: ['A bit better, thanks.', "It's going okay, I guess.", "Not bad, but I've been slacking."],
      doubt: ['Not great, honestly.', 'Same as before, really.', "I haven't really done anything about it."],
    },
    {
      yes: ['Okay, that makes sense.', 'Sure, how do I start?'],
      doubt: ["I don't have much time for that.", 'Hmm, is it really worth it?'],
    },
  ],
  steps: [
    {
      yes: [
        'Good to hear, {name}! Next step: {next}, because {why}.',
        'That is progress, {name}. To keep it going, {next}, since {why}.',
        'Nice, {name}. Now is a good moment to {next}, because {why}.',
      ],
      doubt: [
        "Then let's change that, {name}: {next}, because {why}.",
        'Okay, time for one small step: {next}. As {aJob}, you need a plan that fits your week.',
        'Fair enough, {name}, it happens. The best move now is to {next}, because {why}.',
      ],
    },
    {
      yes: [
        'Great, {name}! Start with {plan}, and I will check in again on {day}.',
        'Easy first step, {name}: {plan}. I will ask you on {day} how it went.',
        'Begin with {plan} this week, {name}, and tell me on {day} how it feels.',
      ],
      doubt: [
        'It takes very little time, {name}: {plan}. Try it until {day}, and then we decide together.',
        'Yes, {name}, because {why}. Start with {plan}, and I will check in on {day}.',
        'Just try {plan}, {name}, even with your days at {work}. I will ask you on {day}.',
      ],
    },
  ],
  generic: [
    'It is important to keep going with your goals.',
    'Change takes time, so be patient with yourself.',
    'Many people find it hard to stay on track.',
    'You could make a plan if you want.',
    'Remember to take care of yourself.',
    'Progress is not always a straight line.',
  ],
  passive: [
    'I understand that it has been a while since we talked.',
    'It sounds like things have been busy for you.',
    'It seems like {subject} is still on your mind.',
  ],
};
