import type { SourceIssue, Spec } from './types.ts';

type IssueAt = (path: readonly (string | number)[], message: string) => SourceIssue;

/**
 * What the schema cannot say about `images.verify` rules, checked once it passed: a rule is by key
 * or by identity (with trustedRoot), never neither or both. The schema would need `oneOf` with
 * `required` in each branch, which ajv's strict mode refuses (strictRequired) and which, where
 * allowed, reports every branch's failure at the rule instead of one sentence.
 */
export function verifyRuleIssues(spec: Spec, issueAt: IssueAt): SourceIssue[] {
  const issues: SourceIssue[] = [];
  spec.images?.verify?.forEach((r, i) => {
    const at = ['images', 'verify', i];
    if (r.key === undefined && r.identity === undefined)
      issues.push(issueAt(at, `rule ${r.match} names no signer: give key (a cosign.pub) or identity {issuer, subject} with trustedRoot`));
    else if (r.key !== undefined && r.identity !== undefined) issues.push(issueAt([...at, 'identity'], 'give key or identity, not both'));
    else if (r.identity !== undefined) {
      if (r.trustedRoot === undefined) issues.push(issueAt([...at, 'identity'], 'an identity rule needs trustedRoot (a Sigstore trusted_root.json)'));
      if (r.identity.subject === undefined && r.identity.subjectRegExp === undefined)
        issues.push(issueAt([...at, 'identity'], 'give subject (the SAN exactly) or subjectRegExp'));
      else if (r.identity.subject !== undefined && r.identity.subjectRegExp !== undefined)
        issues.push(issueAt([...at, 'identity'], 'give subject or subjectRegExp, not both'));
    }
    if (r.key !== undefined && r.trustedRoot !== undefined)
      issues.push(issueAt([...at, 'trustedRoot'], 'trustedRoot is for identity rules; a key rule has none'));
  });
  return issues;
}
