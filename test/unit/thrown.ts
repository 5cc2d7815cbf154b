/** What `fn` throws (undefined when it returns), for table rows that expect a refusal. */
export function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  return undefined;
}
