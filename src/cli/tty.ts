/** Whether a person can be asked: kept apart from the prompts so start-up does not load inquirer. */

/** True when a person can answer a prompt (prompts render on stderr so stdout stays parseable). */
export function canPrompt(): boolean {
  return process.stdin.isTTY === true && process.stderr.isTTY === true && !inCi()
}

/** CI=true (or any value but 0/false/empty): never prompt, even when a TTY is attached. */
export function inCi(): boolean {
  const ci = process.env.CI
  return ci !== undefined && ci !== '' && !/^(0|false)$/i.test(ci)
}
