/**
 * Waits for `p` at most `ms`, its failure ignored: a piece of work that never ends (a model that never
 * answers, a server that is gone) must never keep a process from stopping.
 */
export const waitAtMost = async (p: Promise<unknown> | undefined, ms: number): Promise<void> => {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([p?.catch(() => undefined), new Promise((r) => (timer = setTimeout(r, ms)))]);
  clearTimeout(timer);
};
