// A client states the contract it was built against at the handshake, with
// the version the generated package exports at run time, and reads the
// server's from `authenticated`.
import type { Authenticated, ContractVersion, HandshakeAuth } from '@lockstep/contract';
import { CONTRACT_VERSION } from '@lockstep/contract/version';

const stated: ContractVersion = CONTRACT_VERSION;
export const auth: HandshakeAuth = { profileid: 'p-alice', timestamp: Date.now(), contractVersion: stated };
export const seedClient: HandshakeAuth = { profileid: 'p-alice', timestamp: Date.now() };

export function sameMajor(welcome: Authenticated): boolean {
  const server: string = welcome.contractVersion;
  return server.split('.')[0] === CONTRACT_VERSION.split('.')[0];
}
