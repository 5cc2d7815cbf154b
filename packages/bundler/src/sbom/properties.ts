import * as Models from '@cyclonedx/cyclonedx-library/Models';

/**
 * A CycloneDX property, or nothing for an absent value. Names are `airgap:<area>:<name>`: a
 * colon-separated lower-case namespace of our own, as the property taxonomy lays names out
 * (github.com/CycloneDX/cyclonedx-property-taxonomy, README "Property Name Structure").
 */
export function property(name: string, value: string | undefined): Models.Property | undefined {
  return value === undefined ? undefined : new Models.Property(name, value);
}
