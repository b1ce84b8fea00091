// System Operation: the assistant watches the user's computer, spots the problem behind repeated
// failed attempts and walks them through the fix, one step per message.
import { GENERAL_HABITS } from './common.ts';
import type { DemoDomain } from './types.ts';

export const systemOperation: DemoDomain = {
  key: 'system_operation',
  topics: [
    {
      id: 'printer',
      slots: { seen: 'clicked Print four times', problem: 'the printer says it is offline', cause: 'your laptop is still set to the old printer', fix: 'pick the printer called Floor Two in the print window', where: 'the list at the top of the print window', final: 'print the file again', fixed: 'print on the right printer', subject: 'printing' },
    },
    {
      id: 'attachment',
      slots: { seen: 'tried to send the same email three times', problem: 'the attachment is too big to send', cause: 'the video is 80 MB and the limit is 25 MB', fix: 'share the video as a link instead', where: 'the Share button next to the file', final: 'paste the link into the email and send it', fixed: 'send the big video as a link', subject: 'a big attachment' },
    },
    {
      id: 'formula',
      slots: { seen: 'retyped the same formula five times', problem: 'the total still shows an error', cause: 'one cell holds a word instead of a number', fix: 'change the word "ten" in cell C7 to the number 10', where: 'column C, row 7 of the sheet', final: 'press Enter and check the total', fixed: 'fix the error in the sheet total', subject: 'a formula error' },
    },
    {
      id: 'slow',
      slots: { seen: 'waited for the laptop to respond for minutes', problem: 'the laptop is very slow', cause: 'forty browser tabs are open and use all the memory', fix: 'close the tabs you do not need', where: 'the menu you get when you right-click a tab', final: 'restart the browser', fixed: 'speed up the slow laptop', subject: 'a slow laptop' },
    },
    {
      id: 'disk',
      slots: { seen: 'got a disk full warning twice', problem: 'the disk is almost full', cause: 'the Downloads folder holds 30 GB of old files', fix: 'delete the old installers in Downloads', where: 'the Downloads folder, sorted by size', final: 'empty the bin', fixed: 'free up space on the disk', subject: 'disk space' },
    },
    {
      id: 'wifi',
      slots: { seen: 'reconnected to the wifi six times', problem: 'the wifi keeps dropping', cause: 'the laptop is on the weak guest network', fix: 'switch to the main network', where: 'the wifi icon in the corner of the screen', final: 'reload the page', fixed: 'get a stable wifi connection', subject: 'wifi' },
    },
    {
      id: 'lost-file',
      slots: { seen: 'opened five folders looking for a file', problem: 'the report seems lost', cause: 'it was saved to the Desktop, not to Documents', fix: 'search for the report by its name', where: 'the search box in the file window', final: 'move the report to Documents', fixed: 'find the lost report', subject: 'a lost file' },
    },
    {
      id: 'microphone',
      slots: { seen: 'said hello twice in the call with no answer', problem: 'nobody can hear you', cause: 'the call uses the wrong microphone', fix: 'switch the microphone to your headset', where: 'the arrow next to the microphone button', final: 'say hello again', fixed: 'fix the microphone in the call', subject: 'call audio' },
    },
  ],
  habits: GENERAL_HABITS,
  trigger: ['{name} {seen}, but {problem}.', 'On the screen: {name} {seen}, and {problem}.'],
  goal: 'Help {name} {fixed}',
  subTargets: ['Offer help with {subject}', 'Explain the cause in simple words', 'Walk {name} through the fix'],
  topic: 'Computer help: {subject}',
  opener: [
    '{name}, you {seen} and {problem}. Want a quick fix?',
    'Hey {name}, {problem}, right? I can fix it in a minute, so {task} is not delayed.',
    '{name}, {problem} after you {seen}. Shall I walk you through a fix?',
    '{name}, before you go on with {task}: {problem}. Want me to show you why?',
  ],
  replies: [
    {
      yes: ["Yes please, it's driving me crazy.", "Oh, yes. What's wrong with it?", "Please! I'm in a hurry."],
      doubt: ['I can manage, thanks.', "It's fine, I'll try again later.", "Hmm, I don't want to break anything."],
    },
    {
      yes: ['Done. What now?', 'Okay, I did it.'],
      doubt: ['Where do I find that?', "Hmm, I can't find it."],
    },
  ],
  steps: [
    {
      yes: [
        'The cause is simple, {name}: {cause}. {Fix}, and it should work.',
        'Here is the problem, {name}: {cause}. First, {fix}.',
        'Easy one, {name}: {cause}. Just {fix}, and you are almost done.',
      ],
      doubt: [
        'Trying again will not help, {name}: {cause}. {Fix}, it takes ten seconds.',
        'Nothing will break, {name}, I promise. {Cause}, so just {fix}.',
        'Quick fix, {name}: {cause}. {Fix}, then try again.',
      ],
    },
    {
      yes: [
        'Great! Now {final}, and you are back to {task}.',
        'Perfect, {name}. Now {final}, and that should solve it.',
        'Nice work, {name}. Last step: {final}.',
      ],
      doubt: [
        'Look at {where}, {name}. Then {final}, and you are done.',
        'It is in {where}, {name}. After that, {final}.',
        'Check {where}, {name}. Then {final}, and get back to {task}.',
      ],
    },
  ],
  generic: [
    'Computers can be tricky sometimes.',
    'You could try restarting your computer.',
    'Make sure everything is plugged in.',
    'It might help to check the settings.',
    'You can also search online for a solution.',
    'Many people have this problem with {subject}.',
  ],
  passive: [
    'It looks like you are having trouble with your computer.',
    'I understand that technology can be frustrating.',
    'It seems like something is not working.',
  ],
};
