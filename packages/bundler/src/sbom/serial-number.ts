import { createHash } from 'node:crypto';

/** The namespace of airgap's SBOM serial numbers (a fixed random UUID; RFC 9562 section 5.5). */
const NAMESPACE = Buffer.from('6c0f4a5e9d2b4f7a8e13c5b7a2d94e60', 'hex');

/**
 * A name-based UUID (version 5, RFC 9562 section 5.5) of `name`: the same content gives the same
 * serial number, so a rebuild of the same inputs stays byte-identical. CycloneDX asks for an RFC
 * 4122 UUID (`serialNumber` in bom-1.6.schema.json); a random one would change every build.
 *
 * @example serialNumberOf('3f2a…') === 'urn:uuid:…-5…'
 */
export function serialNumberOf(name: string): string {
  const hash = createHash('sha1').update(NAMESPACE).update(name, 'utf8').digest().subarray(0, 16);
  hash[6] = (hash[6]! & 0x0f) | 0x50;
  hash[8] = (hash[8]! & 0x3f) | 0x80;
  const hex = hash.toString('hex');
  return `urn:uuid:${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
