/** The README is the newcomer's entry point: keep its commands and option table true. */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { validateAnswers } from '../generators/app/config.js';
import { QUESTIONS } from '../generators/app/questions.js';

const readme = readFileSync(fileURLToPath(new URL('../README.md', import.meta.url)), 'utf8');
const ciRun = readFileSync(fileURLToPath(new URL('../.ci/run', import.meta.url)), 'utf8');

it('starts with the two commands, and CI runs the second one exactly', () => {
  const firstBlock = readme.match(/```sh\n([\s\S]*?)```/)![1];
  const commands = firstBlock.split('\n').filter((line) => line && !line.startsWith('#'));
  expect(commands).toHaveLength(2);
  expect(commands[0]).toMatch(/grafana-ha --defaults/);
  expect(ciRun.split('\n')).toContain(commands[1]);
});

it('documents every option with its real default', () => {
  const { answers } = validateAnswers({});
  for (const q of QUESTIONS) {
    const row = readme.split('\n').find((line) => line.startsWith(`| \`--${q.option}\``));
    expect({ option: q.option, documented: Boolean(row) }).toEqual({ option: q.option, documented: true });
    const value = String(answers[q.name]);
    // publicUrl's default follows the port; an empty default means the value is required where it applies.
    if (q.name !== 'publicUrl' && value !== '') expect(row).toContain(`\`${value}\``);
    if (value === '') expect(row).toMatch(/required/);
  }
});
