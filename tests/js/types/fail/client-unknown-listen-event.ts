// Must not compile: `new_mesage` is not a server event of the contract.
// expect: TS2345
import { createClient } from '@lockstep/client';

const client = createClient({ url: 'http://localhost:3000', profileid: 'p-alice' });
client.on('new_mesage', () => {});
