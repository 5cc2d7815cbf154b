export * from './reference.ts';
export * from './credentials.ts';
export * from './media-types.ts';
export * from './retry.ts';
export { parseChallenges, type Challenge } from './www-authenticate.ts';
export {
  asRegistryError,
  createRegistryClient,
  headerValue,
  type RegistryClient,
  type RegistryClientOptions,
  type RegistryEndpoint,
  type RegistryRequest,
  type RegistryResponse,
  type Scope,
} from './registry-client.ts';
export { proxyFor, proxyRefusal, proxyRefusalError, type ProxyRefusal } from './proxy-errors.ts';
