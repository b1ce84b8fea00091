// Persuasion: the assistant talks the user out of a habit that works against them, one small change at a time.
import { GENERAL_HABITS } from './common.ts';
import type { DemoDomain } from './types.ts';

export const persuasion: DemoDomain = {
  key: 'persuasion',
  topics: [
    {
      id: 'late-phone',
      slots: { problem: 'staying up late on the phone', change: 'put the phone away at ten', benefit: 'you will wake up with more energy', fact: 'screen light keeps the brain awake for hours', remind: 'at half past nine' },
    },
    {
      id: 'water',
      slots: { problem: 'drinking almost no water at work', change: 'keep a water bottle on the desk', benefit: 'the afternoon headaches will likely fade', fact: 'even mild thirst makes it harder to focus', remind: 'at lunch' },
    },
    {
      id: 'sitting',
      slots: { problem: 'sitting for hours without a break', change: 'walk for five minutes after lunch', benefit: 'your back will feel much better', fact: 'long sitting makes the back stiff and sore', remind: 'right after lunch' },
    },
    {
      id: 'breakfast',
      slots: { problem: 'skipping breakfast', change: 'eat a small breakfast every morning', benefit: 'you will not feel so tired by ten', fact: 'a small breakfast keeps your energy steady', remind: 'at seven' },
    },
    {
      id: 'late-coffee',
      slots: { problem: 'drinking coffee late in the afternoon', change: 'switch the last coffee to tea', benefit: 'you will fall asleep faster', fact: 'coffee stays in the body for about six hours', remind: 'at three' },
    },
    {
      id: 'lunch-out',
      slots: { problem: 'buying lunch out every day', change: 'bring lunch from home twice a week', benefit: 'you will see the savings on your account', fact: 'small daily costs add up fast', remind: 'the evening before' },
    },
    {
      id: 'screens',
      slots: { problem: 'staring at screens all day', change: 'look away from screens every twenty minutes', benefit: 'your eyes will feel less tired', fact: 'short breaks help tired eyes relax', remind: 'every hour' },
    },
    {
      id: 'stretch',
      slots: { problem: 'skipping the stretch after sport', change: 'stretch for five minutes after sport', benefit: 'your legs will recover faster', fact: 'a short stretch lowers the risk of sore muscles', remind: 'after your next workout' },
    },
  ],
  habits: GENERAL_HABITS,
  trigger: ['This week {name} kept {problem}.', 'You noticed that {name} has been {problem} for weeks.'],
  goal: 'Get {name} to {change}',
  subTargets: ['Point out what {problem} costs', 'Offer one small and easy change', 'Agree on a day to start'],
  topic: 'Habit: {problem}',
  opener: [
    '{name}, you kept {problem} this week. As a busy {job}, can we try one small change?',
    'Hey {name}, a quick thought: {fact}. That matters with your long days at {work}.',
    '{name}, can I share a tip? {Fact}, and you have been {problem} a lot lately.',
    '{name}, {problem} is draining the energy you need for {habit}. Can I suggest one small change?',
  ],
  replies: [
    {
      yes: ['Okay, what do you suggest?', 'Yeah, I know. What should I do?', "Fair, I've noticed that too."],
      doubt: ["I'm fine, really.", "It's not a big deal, is it?", "I've tried to change before, it never works."],
    },
    {
      yes: ['Okay, I can try that.', "Alright, let's do it."],
      doubt: ['Hmm, I might forget.', 'Maybe, but not this week.'],
    },
  ],
  steps: [
    {
      yes: [
        'Just {change}, starting tomorrow. {Benefit}, {name}.',
        'Try this, {name}: {change}. {Benefit} within a week.',
        'One small step: {change}. For {aJob} like you, it makes a real difference.',
      ],
      doubt: [
        'Fair enough, {name}, but {fact}. If you {change}, {benefit}.',
        'No pressure, {name}, just one week: {change}. If it does not help, we drop it.',
        'This one is tiny, {name}: just {change}. {Benefit}.',
      ],
    },
    {
      yes: [
        'Great, {name}! Start on {day}, and I will check in with you {remind}.',
        'Deal, {name}: from {day} on, {change}, and tell me after a week how you feel.',
        'Perfect, {name}. We start on {day}, and I will remind you {remind}.',
      ],
      doubt: [
        'Then let me help, {name}: I will remind you {remind}, starting on {day}.',
        'Just start on {day}, {name}, and I will send you a reminder {remind}.',
        'No rush, {name}. Pick {day} as day one, and I will nudge you {remind}.',
      ],
    },
  ],
  generic: [
    'Healthy habits are important for everyone.',
    'It is a good idea to take care of yourself.',
    'Small changes can make a big difference over time.',
    'You should try to live a balanced life.',
    'Experts say that good habits matter a lot.',
    'Changing habits takes time and patience.',
    'Many people struggle with {problem}.',
  ],
  passive: [
    'I understand that changing habits is hard.',
    'It sounds like you have a lot on your plate.',
    'It seems like things have been stressful lately.',
  ],
};
