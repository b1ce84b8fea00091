// Ambiguous Instruction: the user's request leaves two things open; the assistant asks about each
// (one question per message) before acting. The user's answers are drawn per scenario.
import { GENERAL_HABITS } from './common.ts';
import type { DemoDomain } from './types.ts';

export const ambiguousInstruction: DemoDomain = {
  key: 'ambigious_instruction',
  topics: [
    {
      id: 'table',
      slots: { ask1: 'Ask how many people are coming', ask2: 'Ask where the table should be', instruction: 'Book a table for tonight.', act: 'book the table', aspects: 'party size and place', q1: 'how many people is it for', q2: 'should it be near {work} or closer to home', final: 'a table for {a1} {a2} at seven tonight' },
      groups: [
        [
          { a1say: 'Four of us.', a1: 'four people' },
          { a1say: 'Just me and my sister.', a1: 'two people' },
          { a1say: 'We are six, with the kids.', a1: 'six people' },
        ],
        [
          { a2say: 'Near {work}, please.', a2: 'near {work}' },
          { a2say: 'Closer to home.', a2: 'close to home' },
        ],
      ],
    },
    {
      id: 'trip',
      slots: { ask1: 'Ask where to go', ask2: 'Ask when to leave', instruction: 'Plan a weekend trip for me.', act: 'plan anything', aspects: 'the place and timing', q1: 'where would you like to go: the coast, the mountains or a city', q2: 'should it start on Friday after {work}, or on Saturday morning', final: 'a weekend trip to {a1}, leaving {a2}' },
      groups: [
        [
          { a1say: 'The coast, I think.', a1: 'the coast' },
          { a1say: 'Somewhere in the mountains.', a1: 'the mountains' },
          { a1say: 'A city, maybe with museums.', a1: 'a city with museums' },
        ],
        [
          { a2say: 'Friday after work.', a2: 'on Friday evening' },
          { a2say: 'Saturday morning is better.', a2: 'on Saturday morning' },
        ],
      ],
    },
    {
      id: 'gift',
      slots: { ask1: 'Ask what the friend enjoys', ask2: 'Ask about the budget', instruction: 'Find a gift for my friend.', act: 'pick something', aspects: 'the interests and budget', q1: 'what does your friend enjoy', q2: 'what budget do you have in mind', final: 'a gift for {a1}, {a2}' },
      groups: [
        [
          { a1say: 'She loves gardening.', a1: 'a keen gardener' },
          { a1say: 'He is really into cooking.', a1: 'a keen cook' },
          { a1say: 'She reads a lot.', a1: 'a big reader' },
        ],
        [
          { a2say: 'Around twenty pounds.', a2: 'about twenty pounds' },
          { a2say: 'Up to fifty.', a2: 'up to fifty pounds' },
        ],
      ],
    },
    {
      id: 'email',
      slots: { ask1: 'Ask who the email is for', ask2: 'Ask what the email should do', instruction: 'Write an email about the meeting.', act: 'write it', aspects: 'the reader and purpose', q1: 'who is the email for', q2: 'should it move the meeting or just share the notes', final: 'an email to {a1} about {a2}' },
      groups: [
        [
          { a1say: 'My team at work.', a1: 'your team' },
          { a1say: 'My boss.', a1: 'your boss' },
          { a1say: 'A new client.', a1: 'a new client' },
        ],
        [
          { a2say: 'Move it to Friday.', a2: 'moving the meeting to Friday' },
          { a2say: 'Just share the notes.', a2: 'the meeting notes' },
        ],
      ],
    },
    {
      id: 'reminder',
      slots: { ask1: 'Ask what the reminder is about', ask2: 'Ask which day and time suit', instruction: 'Remind me about the thing next week.', act: 'set it', aspects: 'the subject and time', q1: 'what should the reminder be about', q2: 'which day and time suit you, with your hours at {work}', final: 'a reminder about {a1} {a2}' },
      groups: [
        [
          { a1say: 'The dentist appointment.', a1: 'the dentist' },
          { a1say: 'Paying the rent.', a1: 'the rent' },
          { a1say: "My mum's birthday.", a1: "your mum's birthday" },
        ],
        [
          { a2say: 'Monday at eight.', a2: 'on Monday at eight' },
          { a2say: 'Wednesday evening.', a2: 'on Wednesday evening' },
        ],
      ],
    },
    {
      id: 'groceries',
      slots: { ask1: 'Ask which items to order', ask2: 'Ask when to deliver', instruction: 'Order the usual groceries.', act: 'order', aspects: 'the list and delivery time', q1: 'should I order everything from last week, or only the basics', q2: 'when should it arrive, given your hours at {work}', final: 'an order of {a1}, delivered {a2}' },
      groups: [
        [
          { a1say: 'Just the basics.', a1: 'the basics' },
          { a1say: 'Everything from last week.', a1: "last week's list" },
        ],
        [
          { a2say: 'Tomorrow evening.', a2: 'tomorrow evening' },
          { a2say: 'Saturday morning.', a2: 'on Saturday morning' },
        ],
      ],
    },
    {
      id: 'party',
      slots: { ask1: 'Ask about the occasion', ask2: 'Ask about guests and place', instruction: 'Help me organise a party.', act: 'plan it', aspects: 'the occasion and guests', q1: 'what is the occasion', q2: 'how many guests, and at home or somewhere else', final: 'a plan for {a1} with {a2}' },
      groups: [
        [
          { a1say: "It's my daughter's birthday.", a1: "your daughter's birthday" },
          { a1say: 'A goodbye party for a colleague.', a1: 'a goodbye party' },
          { a1say: 'My parents are visiting.', a1: 'a welcome party for your parents' },
        ],
        [
          { a2say: 'About ten, at home.', a2: 'ten guests at home' },
          { a2say: 'Twenty people, in a park.', a2: 'twenty guests in a park' },
        ],
      ],
    },
  ],
  habits: GENERAL_HABITS,
  trigger: ['{name} just said: "{instruction}"', '{name} sent you a short message: "{instruction}"'],
  goal: 'Clarify {aspects} before you {act}',
  subTargets: ['{ask1}', '{ask2}', 'Confirm the details before acting'],
  topic: 'Request: {instruction}',
  opener: [
    'Sure, {name}! Before I {act}, {q1}?',
    'Happy to help, {name}. Quick question first: {q1}?',
    '{name}, I can do that right away, but {q1}?',
    'On it, {name}! One thing first, {q1}?',
  ],
  replies: [{ answer: ['{a1say}'] }, { answer: ['{a2say}'] }],
  steps: [
    {
      answer: ['Got it, {name}: {a1}. And {q2}?', 'Thanks, {name}. {Q2}?', 'Great, {a1} it is, {name}. Next, {q2}?'],
    },
    {
      answer: ['Perfect, {name}: {final}. Shall I go ahead now?', 'All clear, {name}: {final}. Should I do it?', 'Great, so {final}. Can I confirm it for you, {name}?'],
    },
  ],
  generic: [
    'I have done it for you.',
    'I picked the most popular option.',
    'Most people choose something simple, so I went with that.',
    'I used the usual settings.',
    'It is best to keep things simple.',
    'You can always change it later if you want.',
  ],
  passive: [
    'It sounds like you need some help with this.',
    'I understand that you are busy.',
    'It seems like you want me to take care of it.',
  ],
};
