/**
 * The first rule whose `match` glob matches the reference. `*` is any run of characters but `/`,
 * `**` any run at all; a pattern with neither a tag nor a digest also matches the reference's
 * name without its tag or digest (`ghcr.io/canonical/*` matches `ghcr.io/canonical/pause:3.10`).
 */
export function matchVerifyRule<R extends { match: string }>(ref: string, rules: readonly R[]): R | undefined {
  const bare = withoutTagOrDigest(ref);
  return rules.find((r) => {
    const re = globToRegExp(r.match);
    return re.test(ref) || re.test(bare);
  });
}

function withoutTagOrDigest(ref: string): string {
  const at = ref.indexOf('@');
  const name = at >= 0 ? ref.slice(0, at) : ref;
  const slash = name.indexOf('/');
  const colon = name.lastIndexOf(':');
  return colon > slash ? name.slice(0, colon) : name;
}

function globToRegExp(glob: string): RegExp {
  let out = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*' && glob[i + 1] === '*') {
      out += '.*';
      i++;
    } else if (c === '*') out += '[^/]*';
    else out += c.replace(/[.+?^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${out}$`);
}
