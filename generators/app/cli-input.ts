/** What comes from the command line and the terminal: option values, prompts, password files. */
import { readFileSync } from 'node:fs';
import { checkOne, ConfigError } from './config.js';
import { applies, QUESTIONS, unreadableFileProblem, type Answers, type Question } from './questions.js';

/** A password that is only blanks is no password. */
export const emptyPasswordProblem = (password: string) => (password.trim() === '' ? 'is empty (or only blanks)' : undefined);

/** `--db-password-file`: the password is the file's first line. */
export function readPasswordFile(path: unknown): string | undefined {
  if (typeof path !== 'string' || path === '') return undefined;
  const unreadable = unreadableFileProblem(path);
  if (unreadable) throw new ConfigError([`--db-password-file: must be a readable file whose first line is the password (${unreadable})`]);
  const password = readFileSync(path, 'utf8').split(/\r?\n/)[0] ?? '';
  const empty = emptyPasswordProblem(password);
  if (empty) throw new ConfigError([`--db-password-file ${path}: its first line, the password, ${empty}`]);
  return password;
}

/** `yo` passes options as typed (`grafana-replicas`), the bin's command line camel-cased (`grafanaReplicas`). */
export const optionValue = (options: Record<string, unknown>, kebab: string): unknown =>
  options[kebab] ?? options[kebab.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase())];

/** Values given as CLI options, keyed by answer name. */
export function optionValues(options: Record<string, unknown>): Record<string, unknown> {
  const given: Record<string, unknown> = {};
  for (const q of QUESTIONS) {
    const value = optionValue(options, q.option);
    if (value !== undefined) given[q.name] = value;
  }
  return given;
}

/** One table entry → one Inquirer question; `known` holds stored and option values. */
export function toPrompt(q: Question, known: Record<string, unknown>) {
  const merged = (answers: Record<string, unknown>) => ({ ...known, ...answers }) as Partial<Answers>;
  return {
    name: q.name,
    message: q.message,
    type: q.choices ? 'select' : q.kind === 'boolean' ? 'confirm' : q.kind === 'integer' ? 'number' : 'input',
    choices: q.choices?.map((c) => ({ name: q.choiceHelp?.[String(c)] ? `${c} — ${q.choiceHelp[String(c)]}` : String(c), value: c })),
    default: (answers: Record<string, unknown>) => known[q.name] ?? q.default(merged(answers)),
    when: (answers: Record<string, unknown>) => applies(q, merged(answers)),
    validate: (value: unknown, answers: Record<string, unknown>) => {
      const checked = checkOne(q, value, merged(answers));
      return 'problem' in checked ? checked.problem : true;
    },
  };
}

/** Edited files this run would change, with no terminal to ask about them: the ways out. */
export function unresolvableConflicts(paths: string[], why = 'there is no terminal to ask you'): ConfigError {
  return new ConfigError(
    [
      `you edited ${paths.join(', ')} since the last run, and this run would change ${paths.length === 1 ? 'it' : 'them'}; ${why}. Either:`,
      `run again in a terminal, which shows each difference and asks`,
      `run again with --force: the generated version replaces your edits`,
      `list each in a .yo-resolve file in this folder (\`${paths[0]} skip\` keeps your version, \`${paths[0]} force\` takes the new one)`,
    ],
    'Files you edited would change',
  );
}
